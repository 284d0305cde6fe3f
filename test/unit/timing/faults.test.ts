// Faults on demand on the fake kernel: frames lost, delayed (a sender's order kept), a member cut off; on an untimed
// bus (which then gets an arbiter, and loses it with its last such fault) and a timed one; kept across a restart,
// ended on time, gone with their member.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../src/log.js';
import type { Bus, Member } from '../../../src/bus/model.js';
import { hostEndName } from '../../../src/bus/plan.js';
import { classicFrame, type CanFrame } from '../../../src/can/frame.js';
import { BusService } from '../../../src/service/buses.js';
import { StateStore } from '../../../src/state/store.js';
import { InvalidValueError } from '../../../src/errors.js';
import { nowUs } from '../../../src/kernel/clock.js';
import type { BusEvent } from '../../../src/service/events.js';
import type { CanSocketPort, StampedFrame } from '../../../src/kernel/port.js';
import { FakeKernel } from '../../support/fake-kernel.js';
import { ecu as ecuOf, ecuSocket } from '../../support/ecus.js';

describe('faults', () => {
  let dir: string;
  let kernel: FakeKernel;
  let service: BusService;
  let now = new Date('2026-12-04T09:00:00.000Z');
  const sockets: CanSocketPort[] = [];
  const ecu = (name: string): Member => ecuOf(kernel, name);
  const open = (name: string): CanSocketPort => ecuSocket(kernel, name, sockets);
  const frame = (id: number, index: number): CanFrame => classicFrame({ id, data: [index & 0xff, index >> 8] });
  const bus = (extra: Partial<Bus> = {}): Bus => ({
    id: 'B',
    name: 'powertrain',
    fd: false,
    members: [ecu('a'), ecu('b'), ecu('c')],
    ...extra,
  });
  const start = (): BusService => {
    const started = new BusService({ kernel, store: new StateStore(dir), log: silentLogger, now: () => now });
    started.start();
    return started;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cantainer-faults-'));
    kernel = new FakeKernel();
    now = new Date('2026-12-04T09:00:00.000Z');
    service = start();
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
    service.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses every frame of the bus with --drop 100, counted, and carries them straight again once it is removed', async () => {
    await service.createBus(bus());
    const [a, b] = [open('a'), open('b')];
    const fault = await service.addFault('powertrain', { drop: 100 });
    assert.equal(fault.id, 'f1');
    a.sendBatch([frame(0x100, 1), frame(0x100, 2)]);
    assert.deepEqual(await b.receiveAll(100), []);
    assert.equal(service.timing('B')?.dropped.fault, 2);
    assert.equal(service.timing('B')?.bitrate, undefined, 'an untimed bus: its frames take no bus time');
    assert.deepEqual(await service.removeFaults('powertrain', []), [fault]);
    assert.equal(service.timing('B'), undefined, 'no arbiter once no fault needs one');
    a.send(frame(0x100, 3));
    assert.deepEqual(
      (await b.receiveAll(100)).map((f) => f.data[0]),
      [3],
    );
  });

  it('loses about the share --drop says, of what the named member sends only', async () => {
    await service.createBus(bus());
    const [a, b, c] = [open('a'), open('b'), open('c')];
    await service.addFault('powertrain', { member: 'a', drop: 50 });
    a.sendBatch(Array.from({ length: 400 }, (_, i) => frame(0x100, i)));
    c.sendBatch(Array.from({ length: 100 }, (_, i) => frame(0x200, i)));
    const heard = await b.receiveAll(200);
    const fromA = heard.filter((f) => f.id === 0x100);
    assert.ok(fromA.length >= 140 && fromA.length <= 260, `${fromA.length} of 400 crossed`);
    assert.equal(heard.filter((f) => f.id === 0x200).length, 100, 'nothing of the others is lost');
    const indexes = fromA.map((f) => (f.data[0] ?? 0) + 256 * (f.data[1] ?? 0));
    assert.deepEqual(
      indexes,
      [...indexes].sort((x, y) => x - y),
      'what crossed is in order',
    );
    assert.equal(service.timing('B')?.dropped.fault, 400 - fromA.length);
  });

  it("delays a member's frames by --delay, with its jitter, never out of order, and nobody else's", async () => {
    await service.createBus(bus());
    const [a, b] = [open('a'), open('b')];
    await service.addFault('powertrain', { member: 'a', delayMs: 40, jitterMs: 10 });
    const sentUs = nowUs();
    a.sendBatch(Array.from({ length: 30 }, (_, i) => frame(0x100, i)));
    b.send(frame(0x200, 0));
    const stamped: StampedFrame[] = [];
    for (let got = await b.receiveStamped(300); got !== undefined; got = await b.receiveStamped(300)) stamped.push(got);
    assert.deepEqual(
      stamped.map((s) => s.frame.data[0]),
      Array.from({ length: 30 }, (_, i) => i),
    );
    const first = (stamped[0]?.timeUs ?? 0) - sentUs;
    // 40 ms less the jitter of 10, less the 5 ms at most a held frame may go early.
    assert.ok(first >= 25_000, `the first frame came after ${first} µs`);
    const atA = await a.receiveStamped(300);
    assert.ok(atA !== undefined && atA.timeUs - sentUs < 30_000, 'frames to the member are not delayed');
  });

  it('cuts a member off with --off: it neither sends nor receives, the others go on; on a timed bus too', async () => {
    for (const timing of [undefined, { bitrate: 500_000 }]) {
      await service.createBus(bus(timing === undefined ? {} : { timing }));
      const [a, b, c] = [open('a'), open('b'), open('c')];
      const fault = await service.addFault('powertrain', { member: 'a', off: true });
      a.send(frame(0x100, 1));
      c.send(frame(0x300, 3));
      assert.deepEqual(
        (await b.receiveAll(100)).map((f) => f.id),
        [0x300],
      );
      assert.deepEqual(await a.receiveAll(50), [], 'the member cut off hears nothing');
      assert.equal(service.timing('B') === undefined, timing === undefined, 'no arbiter for a member cut off alone');
      const rules = service.observe('B').rules;
      assert.ok(rules.length > 0);
      assert.ok(!rules.some((rule) => rule.source === hostEndName('a') || rule.destination === hostEndName('a')), 'no rule to or from it');
      await service.removeFaults('powertrain', [fault.id]);
      a.send(frame(0x100, 2));
      assert.deepEqual(
        (await b.receiveAll(100)).map((f) => f.data[0]),
        [2],
      );
      for (const socket of sockets.splice(0)) socket.close();
      await service.removeBus('B');
    }
  });

  it('refuses a fault that says too much or too little, or names nobody, and changes nothing', async () => {
    await service.createBus(bus());
    const refused = async (request: Parameters<BusService['addFault']>[1], field: string, allowed: RegExp): Promise<void> => {
      await assert.rejects(
        service.addFault('powertrain', request),
        (error: unknown) => error instanceof InvalidValueError && error.field === field && allowed.test(error.message),
      );
    };
    await refused({ drop: 10, delayMs: 5 }, 'fault kind', /exactly one of drop, delay and off/u);
    await refused({ drop: 0 }, '--drop', /above 0, up to 100/u);
    await refused({ off: true }, '--off', /on a member/u);
    await refused({ member: 'zz', drop: 5 }, '--member', /a member of bus powertrain/u);
    await assert.rejects(
      service.removeFaults('powertrain', ['f9']),
      /fault: "f9" is not valid; allowed: none: bus powertrain has no fault/u,
    );
    assert.equal(service.get('B')?.faults, undefined);
  });

  it('keeps faults across a restart, ends them on time, and drops them with their member; each told as an event', async () => {
    await service.createBus(bus());
    const events: BusEvent[] = [];
    service.onEvent((event) => events.push(event));
    await service.addFault('powertrain', { drop: 100, forMs: 30_000 });
    await service.addFault('powertrain', { member: 'c', delayMs: 10 });
    service.close();
    service = start();
    assert.deepEqual(
      service.get('B')?.faults?.map((f) => [f.id, f.until]),
      [
        ['f1', '2026-12-04T09:00:30.000Z'],
        ['f2', undefined],
      ],
    );
    const [a, b] = [open('a'), open('b')];
    a.send(frame(0x100, 1));
    assert.deepEqual(await b.receiveAll(100), [], 'the drop holds after the restart');
    service.onEvent((event) => events.push(event));
    now = new Date('2026-12-04T09:00:31.000Z');
    assert.equal(await service.expireFaults(), 1);
    a.send(frame(0x100, 2));
    assert.equal((await b.receiveAll(100)).length, 1);
    await service.removeMember('B', 'c');
    assert.equal(service.get('B')?.faults, undefined);
    assert.deepEqual(
      events.filter((e) => e.type.startsWith('fault-')).map((e) => [e.type, e.fault, e.member]),
      [
        ['fault-added', 'f1', undefined],
        ['fault-added', 'f2', 'c'],
        ['fault-removed', 'f1', undefined],
        ['fault-removed', 'f2', 'c'],
      ],
    );
  });
});
