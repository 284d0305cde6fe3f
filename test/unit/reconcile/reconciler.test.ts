import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CURRENT_NETNS, KernelError, type KernelPort, type NetnsTarget } from '../../../src/kernel/index.js';
import { Errno } from '../../../src/netlink/errno.js';
import type { Bus, Member } from '../../../src/bus/model.js';
import { busNamespace, hostEndName, MONITOR, planBus } from '../../../src/bus/plan.js';
import { ReconcileError, Reconciler, type Change } from '../../../src/reconcile/reconciler.js';
import { FakeKernel } from '../../support/fake-kernel.js';
import { kernelSnapshot, planSnapshot, type NamespaceSnapshot } from '../../support/snapshot.js';

const member = (id: string, end = `vx${id}`): Member => ({ id, end: { name: end } });

/** A bus whose member ends are named `<bus id>.<member id>`, so that two buses' ends never collide. */
function bus(members: number, fd = false, id = 'bus-a'): Bus {
  return { id, name: id, fd, members: Array.from({ length: members }, (_, i) => member(`m${i + 1}`, `${id}.m${i + 1}`)) };
}

/** The bus namespace's links and rules, by name; undefined when the namespace does not exist. */
function busView(kernel: KernelPort, b: Bus): NamespaceSnapshot | undefined {
  return kernelSnapshot(kernel).namespaces[busNamespace(b.id)];
}

describe('reconciler', () => {
  let kernel: FakeKernel;
  let reconciler: Reconciler;
  beforeEach(() => {
    kernel = new FakeKernel();
    reconciler = new Reconciler(kernel);
  });

  it('wires a new bus exactly as planned, with the member ends in the daemon namespace', () => {
    const b = bus(3);
    const changes = reconciler.apply(b);
    assert.equal(changes.filter((c) => c.object === 'namespace').length, 1);
    assert.equal(changes.filter((c) => c.object === 'link').length, 4);
    assert.equal(changes.filter((c) => c.object === 'rule').length, 12);
    assert.deepEqual(busView(kernel, b), planSnapshot(planBus(b)));
    const host = kernelSnapshot(kernel).host;
    assert.deepEqual(
      host.links.filter((l) => l.startsWith('bus-')),
      ['bus-a.m1 vxcan 16 down', 'bus-a.m2 vxcan 16 down', 'bus-a.m3 vxcan 16 down'],
    );
  });

  it('changes nothing, and makes no changing kernel call, when the kernel already matches', () => {
    const b = bus(3, true);
    reconciler.apply(b);
    kernel.calls.length = 0;
    assert.deepEqual(reconciler.apply(b), []);
    assert.deepEqual(reconciler.check(b), []);
    assert.deepEqual([...new Set(kernel.calls)].sort(), ['listLinks', 'listRules']);
  });

  it('check reports drift without changing anything; apply then repairs exactly that', () => {
    const b = bus(3);
    reconciler.apply(b);
    const route = kernel.route(kernel.owned(busNamespace(b.id)));
    const monitor = route.findLink(MONITOR)?.index ?? 0;
    const m1 = route.findLink(hostEndName('m1'))?.index ?? 0;
    const rule = { sourceIndex: m1, destinationIndex: monitor, echo: true, allowToIncomingInterface: true, hopLimit: 1 };
    assert.equal(route.deleteRule(rule), true);
    route.addRule({ sourceIndex: monitor, destinationIndex: m1 });
    route.setLinkUp(hostEndName('m2'), false);
    route.createVcan({ name: 'stray' });
    const before = kernelSnapshot(kernel);
    const drift = reconciler.check(b);
    assert.deepEqual(kernelSnapshot(kernel), before, 'check changed nothing');
    const summary = (changes: Change[]): string[] => changes.map((c) => `${c.action} ${c.object} ${c.name}`).sort();
    assert.deepEqual(summary(drift), [
      `create rule ${hostEndName('m1')}->${MONITOR}`,
      `delete link stray`,
      `delete rule ${MONITOR}->${hostEndName('m1')}`,
      `fix link ${hostEndName('m2')}`,
    ]);
    assert.deepEqual(summary(reconciler.apply(b)), summary(drift));
    route.close();
    assert.deepEqual(busView(kernel, b), planSnapshot(planBus(b)));
  });

  for (const [what, damage] of [
    [
      'a rule',
      (k: FakeKernel, ns: NetnsTarget) => {
        const r = k.route(ns);
        const [first] = r.listRules();
        if (first) r.deleteRule(first.rule);
        r.close();
      },
    ],
    [
      'a host end (and with it the member end and its rules)',
      (k: FakeKernel, ns: NetnsTarget) => {
        const r = k.route(ns);
        r.deleteLink(hostEndName('m2'));
        r.close();
      },
    ],
    [
      'the monitor',
      (k: FakeKernel, ns: NetnsTarget) => {
        const r = k.route(ns);
        r.deleteLink(MONITOR);
        r.close();
      },
    ],
    [
      'the whole namespace',
      (k: FakeKernel, ns: NetnsTarget) => {
        k.namespaces.delete(ns.label);
      },
    ],
    [
      'the MTU of the monitor',
      (k: FakeKernel, ns: NetnsTarget) => {
        const r = k.route(ns);
        r.setLinkUp(MONITOR, false);
        r.setMtu(MONITOR, 72);
        r.close();
      },
    ],
    [
      'everything, with a duplicate of every rule added',
      (k: FakeKernel, ns: NetnsTarget) => {
        const r = k.route(ns);
        for (const { rule } of r.listRules()) r.addRule(rule);
        r.close();
      },
    ],
  ] as const) {
    it(`restores exactly the planned set in one reconcile after losing ${what}`, () => {
      const b = bus(3, true);
      reconciler.apply(b);
      damage(kernel, kernel.owned(busNamespace(b.id)));
      assert.notDeepEqual(busView(kernel, b), planSnapshot(planBus(b)));
      assert.notDeepEqual(reconciler.apply(b), []);
      assert.deepEqual(busView(kernel, b), planSnapshot(planBus(b)));
      assert.deepEqual(reconciler.apply(b), [], 'and a second reconcile finds nothing to do');
    });
  }

  it('removes a member that left: its host end, its end and its rules', () => {
    const b = bus(3);
    reconciler.apply(b);
    const smaller = { ...b, members: b.members.filter((m) => m.id !== 'm2') };
    reconciler.apply(smaller);
    assert.deepEqual(busView(kernel, b), planSnapshot(planBus(smaller)));
    assert.ok(!kernelSnapshot(kernel).host.links.some((l) => l.startsWith('bus-a.m2 ')));
  });

  it('creates a member end straight in the namespace the member names, up when asked', () => {
    const container = kernel.addForeignNamespace('/proc/4242/ns/net', 'container');
    const b: Bus = {
      ...bus(0),
      members: [
        { id: 'c', end: { name: 'can0', netns: '/proc/4242/ns/net' } },
        { id: 'h', end: { name: 'dcan0', up: true } },
      ],
    };
    reconciler.apply(b);
    const inside = kernel.route(container);
    assert.equal(inside.findLink('can0')?.kind, 'vxcan');
    inside.close();
    assert.ok(kernelSnapshot(kernel).host.links.includes('dcan0 vxcan 16 up'));
  });

  it('never deletes a link already holding the name of a member end: EEXIST, and the new bus is undone', () => {
    const host = kernel.route(CURRENT_NETNS);
    host.createVxcanPair({ name: 'bus-b.m1', peer: { name: 'someone' } });
    host.createVcan({ name: 'bus-b.m2' });
    for (const end of ['bus-b.m1', 'bus-b.m2']) {
      const b: Bus = { ...bus(0, false, 'bus-b'), members: [member('m1', end)] };
      const quick = new Reconciler(kernel, { staleEndWaitMs: 0 });
      assert.throws(
        () => quick.apply(b),
        (error: unknown) =>
          error instanceof ReconcileError &&
          error.message.includes(`creating vxcan pair ${hostEndName('m1')}/${end} (peer in netns host)`) &&
          /EEXIST/u.test(error.message),
      );
      assert.equal(kernel.namespaces.exists(busNamespace('bus-b')), false, 'the new bus was undone');
    }
    assert.equal(host.findLink('bus-b.m1')?.kind, 'vxcan', 'the existing links are untouched');
    assert.equal(host.findLink('someone')?.kind, 'vxcan');
    assert.equal(host.findLink('bus-b.m2')?.kind, 'vcan');
    host.close();
  });

  for (const [operation, nth] of [
    ['createNamespace', 1],
    ['createVcan', 1],
    ['createVxcanPair', 2],
    ['setLinkUp', 3],
    ['addRule', 7],
  ] as const) {
    it(`leaves no trace of a new bus when ${operation} #${nth} fails, and says why`, () => {
      const before = kernelSnapshot(kernel);
      kernel.failOn(operation, nth, Errno.ENOBUFS);
      assert.throws(
        () => reconciler.apply(bus(3)),
        (error: unknown) =>
          error instanceof ReconcileError &&
          error.message.startsWith('wiring bus bus-a: ') &&
          /ENOBUFS/u.test(error.message) &&
          error.undoFailures.length === 0 &&
          error.cause instanceof KernelError,
      );
      assert.deepEqual(kernelSnapshot(kernel), before);
    });
  }

  it('puts an existing bus back exactly as it was when adding a member fails part-way', () => {
    const b = bus(3);
    reconciler.apply(b);
    const before = kernelSnapshot(kernel);
    kernel.failOn('addRule', 5);
    assert.throws(() => reconciler.apply({ ...b, members: [...b.members, member('m4')] }), ReconcileError);
    assert.deepEqual(kernelSnapshot(kernel), before);
  });

  it('reports undo steps that failed as well', () => {
    kernel.failOn('addRule', 2);
    kernel.failOn('deleteRule', 1);
    assert.throws(
      () => reconciler.apply(bus(2)),
      (error: unknown) =>
        error instanceof ReconcileError && error.undoFailures.length === 1 && /undoing failed too: create rule/u.test(error.message),
    );
  });

  it('removes a bus with everything in it, and sweeps namespaces of buses that no longer exist', () => {
    const a = bus(2, false, 'bus-a');
    const c = bus(2, false, 'bus-c');
    reconciler.apply(a);
    reconciler.apply(c);
    assert.equal(reconciler.remove(a.id), true);
    assert.equal(reconciler.remove(a.id), false);
    assert.equal(busView(kernel, a), undefined);
    assert.deepEqual(
      kernelSnapshot(kernel).host.links.filter((l) => l.startsWith('bus-')),
      ['bus-c.m1 vxcan 16 down', 'bus-c.m2 vxcan 16 down'],
      'only bus-c member ends are left',
    );
    kernel.namespaces.create('cbus-000000000000');
    assert.deepEqual(reconciler.sweep([c]), ['cbus-000000000000']);
    assert.deepEqual(kernel.namespaces.list(), [busNamespace(c.id)]);
  });

  it('keeps buses apart: reconciling one never touches another', () => {
    const a = bus(2, false, 'bus-a');
    const c = bus(2, true, 'bus-c');
    reconciler.apply(a);
    reconciler.apply(c);
    const snapshotC = busView(kernel, c);
    reconciler.apply({ ...a, members: [] });
    assert.deepEqual(busView(kernel, c), snapshotC);
  });
});
