// A member whose namespace is gone (a CNI or netavark container that died without DEL, a reboot) can never carry
// frames again; it must never stop the repair of its bus, of other buses, or a change of the topology (#22).
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../src/log.js';
import type { Member } from '../../../src/bus/model.js';
import { busNamespace, planBus } from '../../../src/bus/plan.js';
import { BusService } from '../../../src/service/buses.js';
import { StateStore } from '../../../src/state/store.js';
import { FakeKernel } from '../../support/fake-kernel.js';
import { kernelSnapshot, planSnapshot } from '../../support/snapshot.js';
import { gateway } from '../../support/gateways.js';
import { ecu as ecuOf } from '../../support/ecus.js';

describe('members whose namespace is gone', () => {
  let dir: string;
  let kernel: FakeKernel;
  let service: BusService;
  const ecu = (name: string): Member => ecuOf(kernel, name);
  const exact = (id: string): void => {
    const bus = service.get(id)!;
    assert.deepEqual(kernelSnapshot(kernel).namespaces[busNamespace(id)], planSnapshot(planBus(bus)), `bus ${bus.name}`);
  };
  const flushRules = (id: string): void => {
    const route = kernel.route(kernel.owned(busNamespace(id)));
    route.flushRules();
    route.close();
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cantainer-dead-'));
    kernel = new FakeKernel();
    service = new BusService({ kernel, store: new StateStore(dir), log: silentLogger });
    service.start();
    // Bus A comes first, so that a verify that stops at its first failure never reaches B.
    await service.createBus({ id: 'A', name: 'body', fd: false, members: [] });
    await service.createBus({ id: 'B', name: 'chassis', fd: false, members: [] });
    for (const name of ['a1', 'a2']) await service.attachMember({ bus: 'body' }, ecu(name));
    for (const name of ['b1', 'b2']) await service.attachMember({ bus: 'chassis' }, ecu(name));
    // a1's container dies; then someone deletes a rule pair of each bus by hand.
    kernel.destroyForeign('/ecu/a1');
    const route = kernel.route(kernel.owned(busNamespace('A')));
    route.deleteLink(planBus(service.get('A')!).links.find((link) => link.kind === 'vxcan' && link.memberId === 'a2')?.name ?? '');
    route.close();
    flushRules('B');
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('verify drops the dead member and repairs every bus, the one after it too', async () => {
    const repaired = await service.verify();
    assert.deepEqual(
      repaired.map((entry) => entry.bus),
      ['body', 'chassis'],
    );
    assert.deepEqual(
      service.get('A')!.members.map((member) => member.id),
      ['a2'],
    );
    exact('A');
    exact('B');
  });

  it('a repair of the bus drops it and wires the rest', async () => {
    await service.repair('A');
    assert.deepEqual(
      service.get('A')!.members.map((member) => member.id),
      ['a2'],
    );
    exact('A');
  });

  it('a gateway to its bus is added, and the bus is wired without it', async () => {
    await service.addGateway(gateway('chassis', 'body'));
    assert.deepEqual(
      service.get('A')!.members.map((member) => member.id),
      ['a2'],
    );
    // Both buses as planned, the gateway's pair and rules with them: nothing left to change.
    assert.deepEqual(service.check('A'), []);
    assert.deepEqual(service.check('B'), []);
    assert.equal(service.gateways()[0]?.status.state, 'wired');
  });
});
