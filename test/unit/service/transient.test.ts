// Buses made by their first member's arrival (front doors with no step that creates a network): one bus however
// many members arrive at once, gone when nothing is left on it, its hand-made gateways waiting for it to return.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../src/log.js';
import type { Member } from '../../../src/bus/model.js';
import { busNamespace } from '../../../src/bus/plan.js';
import { BusService } from '../../../src/service/buses.js';
import { BusConflictError, UnknownBusError } from '../../../src/errors.js';
import { StateStore } from '../../../src/state/store.js';
import { FakeKernel } from '../../support/fake-kernel.js';
import { countAt, simFrame, transmit } from '../../support/frame-sim.js';

describe('transient buses', () => {
  let dir: string;
  let kernel: FakeKernel;
  let service: BusService;
  const ecu = (name: string): Member => {
    kernel.addForeignNamespace(`/ecu/${name}`, name);
    return { id: name, end: { name: 'can0', netns: `/ecu/${name}`, up: true } };
  };
  const heard = (from: string): Record<string, number> =>
    Object.fromEntries(
      Object.entries(countAt(transmit(kernel, { label: from, path: `/ecu/${from}` }, 'can0', simFrame(0x100, '01')))).filter(([at]) =>
        at.endsWith('/can0'),
      ),
    );

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cantainer-transient-'));
    kernel = new FakeKernel();
    service = new BusService({ kernel, store: new StateStore(dir), log: silentLogger });
    service.start();
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('makes one bus for members arriving at once, and removes it with the last of them', async () => {
    const names = ['e1', 'e2', 'e3', 'e4', 'e5'];
    const results = await Promise.all(names.map((name) => service.attachMember({ bus: 'powertrain', create: true }, ecu(name))));
    assert.deepEqual(results.map((r) => r.created).filter(Boolean).length, 1);
    assert.deepEqual(
      service.list().map((bus) => [bus.name, bus.transient, bus.members.length]),
      [['powertrain', true, 5]],
    );
    assert.deepEqual(heard('e1'), { 'e2/can0': 1, 'e3/can0': 1, 'e4/can0': 1, 'e5/can0': 1 });
    const id = service.list()[0]!.id;
    const left = await Promise.all(names.map((name) => service.detachMember('powertrain', name)));
    assert.deepEqual(
      left.map((r) => r.removed),
      [true, true, true, true, true],
    );
    assert.equal(left.filter((r) => r.busRemoved).length, 1);
    assert.deepEqual(service.list(), []);
    assert.equal(kernel.namespaces.exists(busNamespace(id)), false);
    assert.deepEqual(new StateStore(dir).load().state.buses, []);
    assert.deepEqual(await service.detachMember('powertrain', 'e1'), { removed: false, busRemoved: false });
  });

  it('refuses an unknown bus without create, and a bus name two buses have', async () => {
    await assert.rejects(service.attachMember({ bus: 'nowhere' }, ecu('e1')), UnknownBusError);
    await service.createBus({ id: 'x1', name: 'twin', fd: false, members: [] });
    await service.createBus({ id: 'x2', name: 'twin', fd: false, members: [] });
    await assert.rejects(
      service.attachMember({ bus: 'twin', create: true }, ecu('e2')),
      (error: unknown) => error instanceof BusConflictError && error.message === '2 buses are named twin (ids x1, x2)',
    );
  });

  it('keeps hand-made gateways of a bus that went, and wires them again when it comes back', async () => {
    await service.createBus({ id: 'B', name: 'body', fd: false, members: [ecu('b1')] });
    await service.attachMember({ bus: 'powertrain', create: true }, ecu('p1'));
    await service.addGateway({ source: 'powertrain', destination: 'body', both: true, accept: [], reject: [], edits: [] });
    assert.deepEqual(heard('p1'), { 'b1/can0': 1 });
    await service.detachMember('powertrain', 'p1');
    assert.deepEqual(
      service.gateways().map((view) => view.status),
      [{ state: 'waiting', missing: ['powertrain'] }],
    );
    await service.attachMember({ bus: 'powertrain', create: true }, ecu('p2'));
    assert.deepEqual(
      service.gateways().map((view) => view.status.state),
      ['wired'],
    );
    assert.deepEqual(heard('b1'), { 'p2/can0': 1 });
  });

  it('stays while it has a tunnel after its last member left, and goes with the tunnel', async () => {
    await service.attachMember({ bus: 'powertrain', create: true }, ecu('p1'));
    await service.addTunnel('powertrain', {
      name: 'remote',
      transport: 'udp',
      listen: '127.0.0.1:20000',
      peer: '127.0.0.1:20001',
      allow: [],
    });
    assert.deepEqual(await service.detachMember('powertrain', 'p1'), { removed: true, busRemoved: false });
    assert.equal(service.byName('powertrain')?.members.length, 0);
    assert.equal(await service.removeTunnel('powertrain', 'remote'), true);
    assert.deepEqual(service.list(), []);
  });
});
