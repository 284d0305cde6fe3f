import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../src/log.js';
import type { Bus } from '../../../src/bus/model.js';
import type { Uplink } from '../../../src/bus/uplink.js';
import { BusService } from '../../../src/service/buses.js';
import { BusConflictError } from '../../../src/errors.js';
import { StateStore } from '../../../src/state/store.js';
import { InvalidValueError } from '../../../src/errors.js';
import { FakeKernel } from '../../support/fake-kernel.js';
import { kernelSnapshot } from '../../support/snapshot.js';
import { simFrame } from '../../support/frame-sim.js';
import { ecu, heard, monitorOf } from '../../support/ecus.js';

const uplink = (iface: string, more: Partial<Uplink> = {}): Uplink => ({
  interface: iface,
  direction: 'both',
  accept: [],
  reject: [],
  ...more,
});

describe('uplinks: host CAN interfaces joined to buses', () => {
  let dir: string;
  let kernel: FakeKernel;
  let service: BusService;
  const vcan = (name: string, mtu = 16): void => {
    const host = kernel.route();
    host.createVcan({ name, mtu, up: true });
    host.close();
  };
  const deleteHostLink = (name: string): void => {
    const host = kernel.route();
    host.deleteLink(name);
    host.close();
  };
  const powertrain = (): Bus => ({ id: 'A', name: 'powertrain', fd: false, members: [ecu(kernel, 'a1'), ecu(kernel, 'a2')] });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cantainer-uplinks-'));
    kernel = new FakeKernel();
    service = new BusService({ kernel, store: new StateStore(dir), log: silentLogger });
    service.start();
    vcan('vcan0');
    await service.createBus(powertrain());
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('carries frames both ways between the interface and every member, once each', async () => {
    const view = await service.addUplink('powertrain', uplink('vcan0'));
    assert.deepEqual([view.state, view.detail], ['up', undefined]);
    assert.deepEqual(heard(kernel, 'host/vcan0', simFrame(0x123, '01'), ['vcan0']), { 'a1/can0': 1, 'a2/can0': 1, [monitorOf('A')]: 1 });
    assert.deepEqual(heard(kernel, 'a1', simFrame(0x321, '02'), ['vcan0']), { 'a2/can0': 1, 'host/vcan0': 1, [monitorOf('A')]: 1 });
    assert.deepEqual(service.check('A'), []);
  });

  it('forwards one way and only the accepted ids when asked', async () => {
    await service.addUplink('powertrain', uplink('vcan0', { direction: 'in', accept: ['100/700'] }));
    assert.equal(heard(kernel, 'host/vcan0', simFrame(0x123))['a1/can0'], 1);
    assert.equal(heard(kernel, 'host/vcan0', simFrame(0x223))['a1/can0'], undefined);
    assert.equal(heard(kernel, 'a1', simFrame(0x123), ['vcan0'])['host/vcan0'], undefined);
    await service.addUplink('powertrain', uplink('vcan0', { direction: 'out', reject: ['7DF'] }));
    assert.equal(heard(kernel, 'host/vcan0', simFrame(0x123))['a1/can0'], undefined);
    assert.equal(heard(kernel, 'a1', simFrame(0x7df), ['vcan0'])['host/vcan0'], undefined);
    assert.equal(heard(kernel, 'a1', simFrame(0x7e0), ['vcan0'])['host/vcan0'], 1);
  });

  it('keeps the bus working while the interface is gone, and rewires it when it comes back', async () => {
    await service.addUplink('powertrain', uplink('vcan0'));
    assert.deepEqual(await service.watchUplinks(), [], 'nothing changed since it was added');
    deleteHostLink('vcan0');
    const down = await service.watchUplinks();
    assert.deepEqual(
      down.map((v) => [v.uplink.interface, v.state]),
      [['vcan0', 'down']],
    );
    assert.deepEqual(heard(kernel, 'a1', simFrame(0x1)), { 'a2/can0': 1, [monitorOf('A')]: 1 });
    vcan('vcan0');
    assert.deepEqual(
      (await service.watchUplinks()).map((v) => [v.uplink.interface, v.state]),
      [['vcan0', 'up']],
    );
    assert.deepEqual(heard(kernel, 'host/vcan0', simFrame(0x5), ['vcan0']), { 'a1/can0': 1, 'a2/can0': 1, [monitorOf('A')]: 1 });
  });

  it('never touches the interface or rules that are not its own; removing the uplink leaves the interface', async () => {
    vcan('vcan1');
    const host = kernel.route();
    const v0 = host.findLink('vcan0')?.index ?? 0;
    const v1 = host.findLink('vcan1')?.index ?? 0;
    host.addRule({ sourceIndex: v0, destinationIndex: v1, echo: true });
    host.close();
    await service.addUplink('powertrain', uplink('vcan0'));
    assert.equal(await service.removeUplink('powertrain', 'vcan0'), true);
    assert.equal(await service.removeUplink('powertrain', 'vcan0'), false);
    const snapshot = kernelSnapshot(kernel).host;
    assert.deepEqual(snapshot.rules, ['vcan0>vcan1 e']);
    assert.deepEqual(snapshot.links, ['vcan0 vcan 16 up', 'vcan1 vcan 16 up']);
  });

  it('refuses a missing or non-CAN interface, one uplinked to another bus, and a bus that does not exist', async () => {
    await assert.rejects(
      service.addUplink('powertrain', uplink('can9')),
      (error: unknown) =>
        error instanceof InvalidValueError && /interface: "can9" is not valid; allowed: an existing CAN interface/u.test(error.message),
    );
    await assert.rejects(service.addUplink('powertrain', uplink('lo')), /a CAN interface; lo has link type 772/u);
    await service.addUplink('powertrain', uplink('vcan0'));
    await service.createBus({ id: 'B', name: 'body', fd: false, members: [] });
    await assert.rejects(
      service.addUplink('body', uplink('vcan0')),
      (error: unknown) => error instanceof BusConflictError && /vcan0 is an uplink of bus powertrain already/u.test(error.message),
    );
    await assert.rejects(service.addUplink('nowhere', uplink('vcan0')), /no bus with name nowhere/u);
  });

  it('carries FD frames when both the bus and the interface are FD, classic ones only otherwise (and says so)', async () => {
    vcan('vcan1', 72);
    await service.createBus({ id: 'F', name: 'fdbus', fd: true, members: [ecu(kernel, 'f1')] });
    assert.equal((await service.addUplink('fdbus', uplink('vcan1'))).detail, undefined);
    assert.equal(heard(kernel, 'f1', simFrame(0x10, '11'.repeat(12), true), ['vcan1'])['host/vcan1'], 1);
    vcan('vcan2', 16);
    await service.removeUplink('fdbus', 'vcan1');
    assert.match((await service.addUplink('fdbus', uplink('vcan2'))).detail ?? '', /classic frames only: vcan2 is not FD \(MTU 16\)/u);
    assert.equal(heard(kernel, 'f1', simFrame(0x10, '11'.repeat(12), true), ['vcan2'])['host/vcan2'], undefined);
    assert.equal(heard(kernel, 'f1', simFrame(0x10, '11'), ['vcan2'])['host/vcan2'], 1);
  });

  it('takes its uplinks away with the bus: pair, rules, nothing left but the interface', async () => {
    await service.addUplink('powertrain', uplink('vcan0'));
    await service.removeBus('A');
    assert.deepEqual(kernelSnapshot(kernel).host, { links: ['vcan0 vcan 16 up'], rules: [] });
  });
});
