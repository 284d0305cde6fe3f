// Joins and leaves trust the rules the last apply made instead of reading every rule of the bus back (the hot
// path on a large bus); what changed behind the daemon's back is put back by verify, which reads it all.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../src/log.js';
import { busNamespace, planBus } from '../../../src/bus/plan.js';
import { BusService } from '../../../src/service/buses.js';
import { StateStore } from '../../../src/state/store.js';
import { FakeKernel } from '../../support/fake-kernel.js';
import { kernelSnapshot, planSnapshot } from '../../support/snapshot.js';
import { ecu, heard, monitorOf } from '../../support/ecus.js';
import { simFrame } from '../../support/frame-sim.js';

describe('trusted joins and the periodic verify', () => {
  let dir: string;
  let kernel: FakeKernel;
  let service: BusService;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cantainer-verify-'));
    kernel = new FakeKernel();
    service = new BusService({ kernel, store: new StateStore(dir), log: silentLogger });
    service.start();
    await service.createBus({ id: 'A', name: 'powertrain', fd: false, members: [] });
    for (const name of ['a1', 'a2', 'a3']) await service.addMember('A', ecu(kernel, name));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const flushRules = (): void => {
    const route = kernel.route(kernel.owned(busNamespace('A')));
    route.flushRules();
    route.close();
  };

  it('a join reads no rules from the kernel, and wires exactly the plan', async () => {
    kernel.calls.length = 0;
    await service.addMember('A', ecu(kernel, 'a4'));
    assert.deepEqual(
      kernel.calls.filter((call) => call.startsWith('listRules')),
      [],
    );
    assert.deepEqual(kernelSnapshot(kernel).namespaces[busNamespace('A')], planSnapshot(planBus(service.get('A')!)));
    assert.deepEqual(heard(kernel, 'a4', simFrame(0x123, '01')), { 'a1/can0': 1, 'a2/can0': 1, 'a3/can0': 1, [monitorOf('A')]: 1 });
  });

  it('a member whose container died took its rules along; its leave and the next join are still exact', async () => {
    kernel.destroyForeign('/ecu/a2');
    await service.removeMember('A', 'a2');
    await service.addMember('A', ecu(kernel, 'a4'));
    const bus = service.get('A')!;
    assert.deepEqual(kernelSnapshot(kernel).namespaces[busNamespace('A')], planSnapshot(planBus(bus)));
  });

  it('a bus namespace removed by hand is made again at the next join with every planned rule at once (#22)', async () => {
    kernel.namespaces.delete(busNamespace('A'));
    await service.addMember('A', ecu(kernel, 'a4'));
    const bus = service.get('A')!;
    assert.deepEqual(kernelSnapshot(kernel).namespaces[busNamespace('A')], planSnapshot(planBus(bus)));
    assert.deepEqual(heard(kernel, 'a1', simFrame(0x123, '01')), { 'a2/can0': 1, 'a3/can0': 1, 'a4/can0': 1, [monitorOf('A')]: 1 });
  });

  it('what was deleted behind its back is put back by verify, counted as drift corrections', async () => {
    flushRules();
    await service.addMember('A', ecu(kernel, 'a4'));
    assert.deepEqual(
      heard(kernel, 'a1', simFrame(0x123, '01')),
      { 'a4/can0': 1 },
      'a trusted join does not see the flushed rules: only its own are there',
    );
    const before = service.reconcileStats().driftCorrections;
    const repaired = await service.verify();
    const planned = planBus(service.get('A')!).rules.length;
    // All but the rules of a4, which its join made after the flush.
    assert.deepEqual(
      repaired.map(({ bus, changes }) => [bus, changes.length]),
      [['powertrain', planned - 8]],
    );
    assert.equal(service.reconcileStats().driftCorrections - before, planned - 8);
    assert.deepEqual(heard(kernel, 'a1', simFrame(0x123, '01')), { 'a2/can0': 1, 'a3/can0': 1, 'a4/can0': 1, [monitorOf('A')]: 1 });
    assert.deepEqual(await service.verify(), []);
  });

  it('a failed join forgets what it trusted: the next one reads the kernel again', async () => {
    kernel.failOn('addRule');
    await assert.rejects(service.addMember('A', ecu(kernel, 'a4')));
    kernel.calls.length = 0;
    await service.addMember('A', ecu(kernel, 'a5'));
    assert.equal(kernel.calls.filter((call) => call.startsWith('listRules')).length, 1);
    assert.deepEqual(kernelSnapshot(kernel).namespaces[busNamespace('A')], planSnapshot(planBus(service.get('A')!)));
  });
});
