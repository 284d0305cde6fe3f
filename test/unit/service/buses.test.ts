import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../src/log.js';
import type { Bus, Member } from '../../../src/bus/model.js';
import { busNamespace, planBus } from '../../../src/bus/plan.js';
import { ReconcileError } from '../../../src/reconcile/reconciler.js';
import { BusService } from '../../../src/service/buses.js';
import { BusConflictError, CantainerError, UnknownBusError } from '../../../src/errors.js';
import { StateStore } from '../../../src/state/store.js';
import { FakeKernel } from '../../support/fake-kernel.js';
import { kernelSnapshot, planSnapshot } from '../../support/snapshot.js';

const member = (id: string): Member => ({ id, end: { name: `e-${id}` } });
const powertrain: Bus = { id: 'net-1', name: 'powertrain', fd: false, members: [] };

describe('bus service', () => {
  let dir: string;
  let kernel: FakeKernel;
  let service: BusService;
  const make = (k: FakeKernel = kernel): BusService => new BusService({ kernel: k, store: new StateStore(dir), log: silentLogger });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cantainer-service-'));
    kernel = new FakeKernel();
    service = make();
    service.start();
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates a bus, wires and persists it; creating it again with the same settings changes nothing', async () => {
    await service.createBus(powertrain);
    const snapshot = kernelSnapshot(kernel);
    assert.deepEqual(snapshot.namespaces[busNamespace('net-1')], planSnapshot(planBus(powertrain)));
    assert.deepEqual(new StateStore(dir).load().state.buses, [powertrain]);
    kernel.calls.length = 0;
    await service.createBus(powertrain);
    assert.ok(kernel.calls.every((call) => call.startsWith('list')));
    await assert.rejects(service.createBus({ ...powertrain, fd: true }), BusConflictError);
  });

  it('adds and removes members, persisting each change; repeats change nothing', async () => {
    await service.createBus(powertrain);
    await service.addMember('net-1', member('a'));
    await service.addMember('net-1', member('b'));
    await service.addMember('net-1', member('b'));
    const bus = service.get('net-1');
    assert.deepEqual(
      bus?.members.map((m) => m.id),
      ['a', 'b'],
    );
    assert.deepEqual(kernelSnapshot(kernel).namespaces[busNamespace('net-1')], planSnapshot(planBus(bus)));
    assert.equal(await service.removeMember('net-1', 'a'), true);
    assert.equal(await service.removeMember('net-1', 'a'), false);
    assert.equal(await service.removeMember('nope', 'a'), false);
    assert.deepEqual(
      new StateStore(dir).load().state.buses[0]?.members.map((m) => m.id),
      ['b'],
    );
    await assert.rejects(service.addMember('nope', member('x')), UnknownBusError);
  });

  it('keeps kernel and state as they were when wiring a member fails', async () => {
    await service.createBus(powertrain);
    await service.addMember('net-1', member('a'));
    const kernelBefore = kernelSnapshot(kernel);
    kernel.failOn('addRule', 2);
    await assert.rejects(service.addMember('net-1', member('b')), ReconcileError);
    assert.deepEqual(kernelSnapshot(kernel), kernelBefore);
    assert.deepEqual(
      service.get('net-1')?.members.map((m) => m.id),
      ['a'],
    );
    assert.deepEqual(
      new StateStore(dir).load().state.buses[0]?.members.map((m) => m.id),
      ['a'],
    );
  });

  it('undoes every rule of a batch that failed as a whole: none is left behind (#22)', async () => {
    await service.createBus(powertrain);
    await service.addMember('net-1', member('a'));
    const kernelBefore = kernelSnapshot(kernel);
    kernel.failOn('addRules', 1);
    await assert.rejects(service.addMember('net-1', member('b')), ReconcileError);
    assert.deepEqual(kernelSnapshot(kernel), kernelBefore);
    assert.deepEqual(
      service.get('net-1')?.members.map((m) => m.id),
      ['a'],
    );
  });

  it('puts the kernel back when the state cannot be saved', async () => {
    await service.createBus(powertrain);
    const kernelBefore = kernelSnapshot(kernel);
    rmSync(dir, { recursive: true, force: true });
    writeFileSync(dir, 'a file where the state directory should be');
    await assert.rejects(service.addMember('net-1', member('a')), /saving the state to .*state\.json/u);
    assert.deepEqual(kernelSnapshot(kernel), kernelBefore);
    await assert.rejects(service.createBus({ ...powertrain, id: 'net-2' }), /saving the state/u);
    assert.equal(kernel.namespaces.exists(busNamespace('net-2')), false);
    rmSync(dir, { force: true });
  });

  it('answers ESTATEWRITE and puts the kernel back when the disk fills up mid-write; the state file stays whole (#22)', async () => {
    await service.createBus(powertrain);
    let full = false;
    // Once full, the disk takes 7 bytes of a write and then none.
    let taken = 0;
    const store = new StateStore(dir, {
      write: (fd, buffer, offset, length) => {
        if (!full) return writeSync(fd, buffer, offset, length);
        const n = Math.min(length, Math.max(0, 7 - taken));
        taken += n;
        return n === 0 ? 0 : writeSync(fd, buffer, offset, n);
      },
    });
    const tight = new BusService({ kernel, store, log: silentLogger });
    tight.start();
    const kernelBefore = kernelSnapshot(kernel);
    const stateBefore = readFileSync(join(dir, 'state.json'));
    full = true;
    await assert.rejects(
      tight.addMember('net-1', member('a')),
      (error: unknown) => error instanceof CantainerError && error.code === 'ESTATEWRITE',
    );
    assert.deepEqual(kernelSnapshot(kernel), kernelBefore);
    assert.deepEqual(readFileSync(join(dir, 'state.json')), stateBefore);
    full = false;
    await tight.addMember('net-1', member('a'));
    assert.deepEqual(
      new StateStore(dir).load().state.buses[0]?.members.map((m) => m.id),
      ['a'],
    );
  });

  it('removes a bus with everything in it; removing it again answers false', async () => {
    await service.createBus(powertrain);
    await service.addMember('net-1', member('a'));
    assert.equal(await service.removeBus('net-1'), true);
    assert.equal(await service.removeBus('net-1'), false);
    assert.deepEqual(kernelSnapshot(kernel), { host: { links: [], rules: [] }, namespaces: {} });
    assert.deepEqual(new StateStore(dir).load().state.buses, []);
  });

  it('serialises concurrent changes of one bus: 20 members added at once give exactly the planned rules', async () => {
    await service.createBus(powertrain);
    await Promise.all(Array.from({ length: 20 }, (_, i) => service.addMember('net-1', member(`m${i}`))));
    const bus = service.get('net-1');
    assert.equal(bus?.members.length, 20);
    const view = kernelSnapshot(kernel).namespaces[busNamespace('net-1')];
    assert.equal(view?.rules.length, 20 * 19 + 40);
    assert.deepEqual(view, planSnapshot(planBus(bus)));
  });

  it('rewires every bus of the state at start, as after a reboot, and sweeps namespaces of no bus', async () => {
    await service.createBus(powertrain);
    await service.addMember('net-1', member('a'));
    const rebooted = new FakeKernel();
    rebooted.namespaces.create('cbus-0123456789ab');
    const report = make(rebooted).start();
    assert.deepEqual(report.repaired, [{ bus: 'powertrain', changes: 1 + 2 + 2 }]);
    assert.deepEqual(report.swept, ['cbus-0123456789ab']);
    assert.deepEqual(kernelSnapshot(rebooted), kernelSnapshot(kernel));
  });

  it("starts with stray files in the namespace directory: the bus's own is made again, others swept (#22)", async () => {
    await service.createBus(powertrain);
    const rebooted = new FakeKernel();
    rebooted.namespaces.plantStray(busNamespace('net-1'));
    rebooted.namespaces.plantStray('cbus-0123456789ab');
    const report = make(rebooted).start();
    assert.deepEqual(report.failed, []);
    assert.deepEqual(report.swept, ['cbus-0123456789ab']);
    assert.deepEqual(rebooted.namespaces.list(), [busNamespace('net-1')]);
    assert.deepEqual(kernelSnapshot(rebooted), kernelSnapshot(kernel));
  });

  it('with an unreadable state file: reports it, starts empty, and leaves the kernel alone', async () => {
    await service.createBus(powertrain);
    writeFileSync(join(dir, 'state.json'), 'not json');
    const before = kernelSnapshot(kernel);
    const report = make().start();
    assert.match(report.problem?.message ?? '', /not JSON/u);
    assert.deepEqual(report.swept, []);
    assert.deepEqual(kernelSnapshot(kernel), before);
  });
});
