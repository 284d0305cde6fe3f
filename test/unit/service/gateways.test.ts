import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../src/log.js';
import type { Bus, Member } from '../../../src/bus/model.js';
import { busNamespace } from '../../../src/bus/plan.js';
import { ReconcileError } from '../../../src/reconcile/reconciler.js';
import { BusService } from '../../../src/service/buses.js';
import { BusConflictError } from '../../../src/errors.js';
import { StateStore } from '../../../src/state/store.js';
import { FakeKernel } from '../../support/fake-kernel.js';
import { kernelSnapshot } from '../../support/snapshot.js';
import { countAt, simFrame, transmit, type SimFrame } from '../../support/frame-sim.js';
import { gateway } from '../../support/gateways.js';

const bus = (id: string, name: string, members: Member[] = [], fd = false): Bus => ({ id, name, fd, members });

describe('gateways between buses', () => {
  let dir: string;
  let kernel: FakeKernel;
  let service: BusService;
  const make = (): BusService => new BusService({ kernel, store: new StateStore(dir), log: silentLogger });
  /** An ECU: a member whose end is can0 in its own namespace, labelled with its name. */
  const ecu = (name: string): Member => {
    kernel.addForeignNamespace(`/ecu/${name}`, name);
    return { id: name, end: { name: 'can0', netns: `/ecu/${name}`, up: true } };
  };
  const send = (from: string, frame: SimFrame): Record<string, number> => {
    const all = countAt(transmit(kernel, { label: from, path: `/ecu/${from}` }, 'can0', frame));
    // Only what sockets of ECUs and monitors see: host ends are nobody's.
    return Object.fromEntries(Object.entries(all).filter(([at]) => at.endsWith('/can0') || at.endsWith('/monitor')));
  };
  const monitor = (busId: string): string => `${busNamespace(busId)}/monitor`;
  const everyoneBut = (sender: string, ecus: string[], monitors: string[]): Record<string, number> =>
    Object.fromEntries([
      ...ecus.filter((name) => name !== sender).map((name): [string, number] => [`${name}/can0`, 1]),
      ...monitors.map((m): [string, number] => [m, 1]),
    ]);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cantainer-gateways-'));
    kernel = new FakeKernel();
    service = make();
    service.start();
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('joins two buses both ways: every frame reaches every other ECU on both buses once, never its own bus twice', async () => {
    await service.createBus(bus('A', 'powertrain', [ecu('a1'), ecu('a2'), ecu('a3')]));
    await service.createBus(bus('B', 'body', [ecu('b1')]));
    const view = await service.addGateway(gateway('powertrain', 'body', { both: true }));
    assert.equal(view.status.state, 'wired');
    const ecus = ['a1', 'a2', 'a3', 'b1'];
    for (const sender of ecus)
      assert.deepEqual(
        send(sender, simFrame(0x123, '11223344')),
        everyoneBut(sender, ecus, [monitor('A'), monitor('B')]),
        `sent by ${sender}`,
      );
  });

  it('forwards one way only when asked: frames of the destination stay there', async () => {
    await service.createBus(bus('A', 'powertrain', [ecu('a1'), ecu('a2')]));
    await service.createBus(bus('B', 'body', [ecu('b1')]));
    await service.addGateway(gateway('powertrain', 'body'));
    assert.deepEqual(send('a1', simFrame(0x100)), everyoneBut('a1', ['a1', 'a2', 'b1'], [monitor('A'), monitor('B')]));
    assert.deepEqual(send('b1', simFrame(0x100)), { [monitor('B')]: 1 });
  });

  it('lets only accepted ids cross, minus rejected ones, with one kernel filter per disjoint piece', async () => {
    await service.createBus(bus('A', 'powertrain', [ecu('a1'), ecu('a2')]));
    await service.createBus(bus('B', 'body', [ecu('b1')]));
    await service.addGateway(gateway('powertrain', 'body', { both: true, accept: ['700/700', '18DAF110'], reject: ['7E8'] }));
    const crosses = (sender: string, id: number): boolean =>
      send(sender, simFrame(id, 'AA'))[sender === 'b1' ? 'a1/can0' : 'b1/can0'] === 1;
    for (const [id, expected] of [
      [0x7df, true],
      [0x7e0, true],
      [0x7e8, false],
      [0x123, false],
      [0x18daf110 | 0x80000000, true],
      [0x18daf111 | 0x80000000, false],
      [0x700 | 0x80000000, false],
    ] as const) {
      assert.equal(crosses('a1', id), expected, `a1 id ${id.toString(16)}`);
      assert.equal(crosses('b1', id), expected, `b1 id ${id.toString(16)}`);
      // Whatever crosses or not, the sender's own bus gets it once.
      assert.equal(send('a1', simFrame(id))['a2/can0'], 1);
    }
  });

  it('turns a lone reject into one inverted filter: everything but that id crosses', async () => {
    await service.createBus(bus('A', 'powertrain', [ecu('a1')]));
    await service.createBus(bus('B', 'body', [ecu('b1')]));
    await service.addGateway(gateway('powertrain', 'body', { reject: ['7DF'] }));
    assert.equal(send('a1', simFrame(0x7df))['b1/can0'], undefined);
    assert.equal(send('a1', simFrame(0x7de))['b1/can0'], 1);
    assert.equal(send('a1', simFrame(0x7df | 0x80000000))['b1/can0'], 1, 'an extended 0x7DF is another id');
    const rules = kernelSnapshot(kernel).namespaces[busNamespace('A')]?.rules ?? [];
    assert.equal(rules.filter((rule) => rule.includes('filter')).length, 2, 'one rule from a1 and one from the monitor');
  });

  it('edits crossed frames (SET id and data, XOR checksum) and leaves the original on its own bus', async () => {
    await service.createBus(bus('A', 'powertrain', [ecu('a1'), ecu('a2')]));
    await service.createBus(bus('B', 'body', [ecu('b1')]));
    await service.addGateway(
      gateway('powertrain', 'body', {
        edits: [
          { operation: 'set', field: 'id', value: '456' },
          { operation: 'set', field: 'data', value: 'CAFE000000000000' },
          { operation: 'set', field: 'len', value: '8' },
        ],
        xorChecksum: { from: 0, to: 6, at: 7, init: 0 },
      }),
    );
    const receptions = transmit(kernel, { label: 'a1', path: '/ecu/a1' }, 'can0', simFrame(0x123, '0102'));
    const at = (place: string): SimFrame | undefined => receptions.find((r) => r.at === place)?.frame;
    assert.deepEqual(
      { id: at('b1/can0')?.canId, len: at('b1/can0')?.len, data: Buffer.from(at('b1/can0')?.data ?? []).toString('hex') },
      { id: 0x456, len: 8, data: 'cafe000000000034' },
    );
    assert.deepEqual(
      { id: at('a2/can0')?.canId, data: Buffer.from(at('a2/can0')?.data ?? []).toString('hex') },
      { id: 0x123, data: '0102000000000000' },
    );
  });

  it('chains buses A -> B -> C at max_hops 1: each frame crosses both gateways once', async () => {
    await service.createBus(bus('A', 'a', [ecu('a1')]));
    await service.createBus(bus('B', 'b', [ecu('b1')]));
    await service.createBus(bus('C', 'c', [ecu('c1')]));
    await service.addGateway(gateway('a', 'b', { both: true }));
    await service.addGateway(gateway('b', 'c', { both: true }));
    assert.equal(kernel.maxHops, 1);
    const monitors = [monitor('A'), monitor('B'), monitor('C')];
    for (const sender of ['a1', 'b1', 'c1'])
      assert.deepEqual(send(sender, simFrame(0x321, '01')), everyoneBut(sender, ['a1', 'b1', 'c1'], monitors), sender);
  });

  it('refuses a gateway that closes a cycle, naming it, and changes nothing', async () => {
    for (const [id, name] of [
      ['A', 'a'],
      ['B', 'b'],
      ['C', 'c'],
    ] as const)
      await service.createBus(bus(id, name));
    await service.addGateway(gateway('a', 'b'));
    await service.addGateway(gateway('b', 'c'));
    const before = kernelSnapshot(kernel);
    await assert.rejects(
      service.addGateway(gateway('c', 'a')),
      (error: unknown) => error instanceof BusConflictError && /would close a cycle: c -> b -> a -> c/u.test(error.message),
    );
    await assert.rejects(service.addGateway(gateway('a', 'c', { both: true })), /cycle: a -> b -> c -> a/u);
    assert.deepEqual(kernelSnapshot(kernel), before);
    assert.equal(service.gateways().length, 2);
  });

  it('keeps one gateway each way between two buses, with their own filters, as one pair of ports', async () => {
    await service.createBus(bus('A', 'tester', [ecu('t1')]));
    await service.createBus(bus('B', 'engine', [ecu('e1')]));
    await service.addGateway(gateway('tester', 'engine', { accept: ['7E0'] }));
    await service.addGateway(gateway('engine', 'tester', { accept: ['7E8'] }));
    assert.equal(service.gateways().length, 2);
    assert.equal(send('t1', simFrame(0x7e0))['e1/can0'], 1);
    assert.equal(send('t1', simFrame(0x7e8))['e1/can0'], undefined);
    assert.equal(send('e1', simFrame(0x7e8))['t1/can0'], 1);
    assert.equal(send('e1', simFrame(0x7e0))['t1/can0'], undefined);
    await assert.rejects(service.addGateway(gateway('engine', 'tester', { both: true })), /joined already by the gateway/u);
    const removed = await service.removeGateway('engine', 'tester');
    assert.deepEqual([removed?.source, removed?.destination], ['engine', 'tester']);
    assert.equal(await service.removeGateway('engine', 'tester'), undefined, 'a second removal finds nothing');
    assert.equal(send('e1', simFrame(0x7e8))['t1/can0'], undefined);
    assert.equal(send('t1', simFrame(0x7e0))['e1/can0'], 1);
  });

  it('waits for a missing bus and wires the gateway when it appears; removes a hand-made gateway with either bus', async () => {
    await service.createBus(bus('A', 'powertrain', [ecu('a1')]));
    const view = await service.addGateway(gateway('powertrain', 'body', { both: true }));
    assert.deepEqual(view.status, { state: 'waiting', missing: ['body'] });
    await service.createBus(bus('B', 'body', [ecu('b1')]));
    assert.equal(service.gateways()[0]?.status.state, 'wired');
    assert.equal(send('a1', simFrame(0x1))['b1/can0'], 1);
    assert.equal(await service.removeBus('B'), true);
    assert.deepEqual(service.gateways(), []);
    assert.deepEqual(send('a1', simFrame(0x1)), { [monitor('A')]: 1 });
    assert.deepEqual(Object.keys(kernelSnapshot(kernel).namespaces), [busNamespace('A')]);
    assert.deepEqual(
      kernelSnapshot(kernel)
        .namespaces[busNamespace('A')]?.links.map((link) => link.split(' ')[0])
        .filter((name) => name?.startsWith('g')),
      [],
    );
  });

  it('keeps a gateway a bus declares while that bus lives, waiting when the other bus is gone', async () => {
    await service.createBus(bus('B', 'body', [ecu('b1')]), { gateways: [gateway('body', 'powertrain', { both: true })] });
    assert.equal(service.gateways()[0]?.status.state, 'waiting');
    await service.createBus(bus('A', 'powertrain', [ecu('a1')]));
    assert.equal(send('a1', simFrame(0x1))['b1/can0'], 1);
    await assert.rejects(service.removeGateway('body', 'powertrain'), /part of bus body's settings/u);
    await service.removeBus('A');
    assert.deepEqual(service.gateways()[0]?.status, { state: 'waiting', missing: ['powertrain'] });
    await service.createBus(bus('A2', 'powertrain', [ecu('a2')]));
    assert.equal(send('a2', simFrame(0x1))['b1/can0'], 1);
    await service.removeBus('B');
    assert.deepEqual(service.gateways(), []);
  });

  it('wires a gateway once a bus gets its name, and declared gateways follow their bus', async () => {
    await service.createBus(bus('B', 'net-b', [ecu('b1')]), { gateways: [gateway('net-b', 'powertrain', { both: true })] });
    await service.createBus(bus('A', 'net-a', [ecu('a1')]));
    assert.equal(service.gateways()[0]?.status.state, 'waiting');
    await service.renameBus('A', 'powertrain');
    await service.renameBus('B', 'body');
    assert.deepEqual(
      service.gateways().map((view) => [view.gateway.source, view.gateway.destination, view.status.state]),
      [['body', 'powertrain', 'wired']],
    );
    assert.equal(send('b1', simFrame(0x2))['a1/can0'], 1);
  });

  it('gives members that join later the gateway too, and rewires everything after a restart', async () => {
    await service.createBus(bus('A', 'powertrain', [ecu('a1')]));
    await service.createBus(bus('B', 'body', [ecu('b1')]));
    await service.addGateway(gateway('powertrain', 'body', { both: true }));
    await service.addMember('A', ecu('a2'));
    assert.deepEqual(send('b1', simFrame(0x5)), everyoneBut('b1', ['a1', 'a2', 'b1'], [monitor('A'), monitor('B')]));
    const wired = kernelSnapshot(kernel);
    // Someone deletes a gateway end by hand: its pair and every rule on it go; a restart puts them back.
    kernel.route(kernel.owned(busNamespace('B'))).deleteLink(
      kernelSnapshot(kernel)
        .namespaces[busNamespace('B')]?.links.map((l) => l.split(' ')[0])
        .find((n) => n?.startsWith('g')) ?? '',
    );
    assert.notDeepEqual(kernelSnapshot(kernel), wired);
    const report = make().start();
    assert.deepEqual(report.failed, []);
    assert.deepEqual(kernelSnapshot(kernel), wired);
    assert.deepEqual(send('a2', simFrame(0x5)), everyoneBut('a2', ['a1', 'a2', 'b1'], [monitor('A'), monitor('B')]));
  });

  it('puts kernel and state back when wiring a gateway fails', async () => {
    await service.createBus(bus('A', 'powertrain', [ecu('a1')]));
    await service.createBus(bus('B', 'body', [ecu('b1')]));
    const before = kernelSnapshot(kernel);
    kernel.failOn('addRule', 3);
    await assert.rejects(service.addGateway(gateway('powertrain', 'body', { both: true })), ReconcileError);
    assert.deepEqual(kernelSnapshot(kernel), before);
    assert.deepEqual(service.gateways(), []);
    assert.deepEqual(new StateStore(dir).load().state.gateways, []);
  });

  it('crosses between a classic and an FD bus with classic frames only', async () => {
    await service.createBus(bus('A', 'classic', [ecu('c1')]));
    await service.createBus(bus('B', 'fd', [ecu('f1'), ecu('f2')], true));
    await service.addGateway(gateway('classic', 'fd', { both: true }));
    assert.equal(send('c1', simFrame(0x10, '01'))['f1/can0'], 1);
    assert.equal(send('f1', simFrame(0x10, '01'))['c1/can0'], 1);
    assert.deepEqual(send('f1', simFrame(0x10, '01'.repeat(12), true)), { 'f2/can0': 1, [monitor('B')]: 1 });
    await assert.rejects(
      service.addGateway(gateway('classic', 'fd', { both: true, edits: [{ operation: 'set', field: 'data', value: '00'.repeat(12) }] })),
      /1\.\.8 bytes/u,
    );
  });

  it('enforces per-member send and receive filters in the kernel, on the bus and across a gateway', async () => {
    const limited = { ...ecu('a1'), send: ['7E0/7F8'] };
    const deaf = { ...ecu('a2'), receive: ['!7DF', '!18DAF110'] };
    await service.createBus(bus('A', 'powertrain', [limited, deaf, ecu('a3')]));
    await service.createBus(bus('B', 'body', [{ ...ecu('b1'), receive: ['7E0/7F0'] }]));
    await service.addGateway(gateway('powertrain', 'body', { both: true }));
    assert.deepEqual(send('a1', simFrame(0x7e0)), { 'a2/can0': 1, 'a3/can0': 1, 'b1/can0': 1, [monitor('A')]: 1, [monitor('B')]: 1 });
    assert.deepEqual(send('a1', simFrame(0x123)), {}, 'a1 may send 7E0-7E7 only: nothing reaches the bus, not even the monitor');
    assert.deepEqual(
      send('a3', simFrame(0x7df)),
      { 'a1/can0': 1, [monitor('A')]: 1, [monitor('B')]: 1 },
      'a2 never hears 7DF; b1 hears 7E0-7EF only',
    );
    assert.deepEqual(send('b1', simFrame(0x18daf110 | 0x80000000)), { 'a1/can0': 1, 'a3/can0': 1, [monitor('A')]: 1, [monitor('B')]: 1 });
    assert.deepEqual(send('a3', simFrame(0x7e8)), { 'a1/can0': 1, 'a2/can0': 1, 'b1/can0': 1, [monitor('A')]: 1, [monitor('B')]: 1 });
    await assert.rejects(service.addMember('A', { ...ecu('a4'), send: ['!xyz'] }), /member a4 send: "xyz" is not valid/u);
  });
});
