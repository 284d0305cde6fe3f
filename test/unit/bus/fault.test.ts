// Faults as data: their form is checked with the field, the value and what is allowed; which are in force; ids.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { activeFaults, checkFault, membersOff, needsArbiter, nextFaultId, parseDuration, type Fault } from '../../../src/bus/fault.js';
import { InvalidValueError } from '../../../src/errors.js';

function refuses(fault: Fault, field: string, allowed: RegExp): void {
  assert.throws(
    () => {
      checkFault(fault);
    },
    (error: unknown) => error instanceof InvalidValueError && error.field === field && allowed.test(error.message),
  );
}

describe('faults', () => {
  it('takes one kind each: a drop, a delay with its jitter, or a member cut off', () => {
    checkFault({ id: 'f1', drop: 10 });
    checkFault({ id: 'f2', member: 'ecu', delayMs: 20, jitterMs: 5 });
    checkFault({ id: 'f3', member: 'ecu', off: true, until: '2026-12-04T10:00:00.000Z' });
    refuses({ id: 'f1', drop: 10, delayMs: 5 }, 'fault kind', /exactly one of drop, delay and off/u);
    refuses({ id: 'f1' }, 'fault kind', /exactly one/u);
    refuses({ id: 'f1', drop: 0 }, 'fault drop', /above 0, up to 100/u);
    refuses({ id: 'f1', drop: 101 }, 'fault drop', /above 0, up to 100/u);
    refuses({ id: 'f1', delayMs: 60_001 }, 'fault delay', /up to 60000/u);
    refuses({ id: 'f1', drop: 5, jitterMs: 2 }, 'fault jitter', /a jitter only with a delay/u);
    refuses({ id: 'f1', delayMs: 10, jitterMs: 11 }, 'fault jitter', /up to the delay \(10\)/u);
    refuses({ id: 'f1', off: true }, 'fault off', /on a member/u);
    refuses({ id: 'x', drop: 1 }, 'fault id', /f and a number/u);
    refuses({ id: 'f1', drop: 1, until: 'soon' }, 'fault until', /ISO 8601/u);
  });

  it('knows which are in force, who is cut off, and whether frames need the arbiter', () => {
    const faults: Fault[] = [
      { id: 'f1', member: 'a', off: true },
      { id: 'f2', drop: 10, until: '2026-12-04T10:00:00.000Z' },
      { id: 'f7', member: 'b', off: true, until: '2026-12-04T09:00:00.000Z' },
    ];
    const now = new Date('2026-12-04T09:30:00.000Z');
    assert.deepEqual(
      activeFaults(faults, now).map((f) => f.id),
      ['f1', 'f2'],
    );
    assert.deepEqual([...membersOff(activeFaults(faults, now))], ['a']);
    assert.equal(needsArbiter(activeFaults(faults, now)), true);
    assert.equal(needsArbiter([{ id: 'f1', member: 'a', off: true }]), false, 'a member cut off needs only its rules gone');
    assert.equal(nextFaultId(faults), 'f8');
    assert.equal(nextFaultId(undefined), 'f1');
  });

  it('reads durations as people write them', () => {
    assert.equal(parseDuration('--for', '30s'), 30_000);
    assert.equal(parseDuration('--for', '5m'), 300_000);
    assert.equal(parseDuration('--for', '2h'), 7_200_000);
    assert.equal(parseDuration('--for', '1500ms'), 1500);
    assert.equal(parseDuration('--for', '10'), 10_000);
    assert.throws(() => parseDuration('--for', 'soon'), /--for: "soon" is not valid; allowed: a duration above 0/u);
    assert.throws(() => parseDuration('--for', '0s'), /allowed: a duration/u);
  });
});
