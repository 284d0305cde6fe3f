// Buses on the real kernel, wired by the reconciler: every member's frame reaches every other member exactly once
// and the monitor once, in order, never the sender, never another bus; at can_gw max_hops 1 and 3; and one
// reconcile repairs whatever was deleted by hand.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { classicFrame, fdFrame, type CanFrame } from '../../src/can/frame.js';
import { systemKernel, type CanSocketPort } from '../../src/kernel/index.js';
import type { Bus, Member } from '../../src/bus/model.js';
import { busNamespace, hostEndName, MONITOR, planBus } from '../../src/bus/plan.js';
import { Reconciler } from '../../src/reconcile/reconciler.js';
import { kernelSnapshot, planSnapshot } from '../support/snapshot.js';
import { sh, waitFor } from '../support/lab.js';

const QUIET_MS = 300;
/** cantainer's bus namespaces, and, elsewhere, namespaces standing in for containers. */
const kernel = systemKernel({ netnsDir: '/run/cantainer-test/bus' });
const ecus = systemKernel({ netnsDir: '/run/cantainer-test/ecu' });
const reconciler = new Reconciler(kernel);

function ecu(busId: string, i: number): Member {
  const name = `${busId}-ecu${i}`;
  if (!ecus.namespaces.exists(name)) ecus.namespaces.create(name);
  return { id: `${busId}-m${i}`, end: { name: 'can0', netns: ecus.namespaces.path(name), up: true } };
}

function makeBus(id: string, fd: boolean, members: number): Bus {
  return { id, name: id, fd, members: Array.from({ length: members }, (_, i) => ecu(id, i + 1)) };
}

function setMaxHops(hops: number): void {
  // Unloading can-gw drops every rule in every namespace; the reconciler puts them back.
  sh(`rmmod can_gw 2>/dev/null; modprobe can-gw max_hops=${hops} && cat /sys/module/can_gw/parameters/max_hops`);
}

function open(bus: Bus, member: Member): CanSocketPort {
  return kernel.canSocket(member.end.name, { netns: { label: member.id, path: member.end.netns }, fd: bus.fd });
}

function framesOf(bus: Bus, sender: number): CanFrame[] {
  const frames: CanFrame[] = [];
  for (let k = 0; k < 5; k++) {
    const id = 0x100 * sender + k;
    frames.push(
      bus.fd && k % 2 === 1
        ? fdFrame({ id, brs: true, data: new Uint8Array(16).fill(sender * 16 + k) })
        : classicFrame({ id, data: [sender, k] }),
    );
  }
  return frames;
}

/** Each member sends its sequence in turn; returns what every member and the monitor received. */
async function exchange(bus: Bus): Promise<{ members: CanFrame[][]; monitor: CanFrame[]; sent: CanFrame[][] }> {
  const sockets = bus.members.map((member) => open(bus, member));
  const monitor = kernel.canSocket(MONITOR, { netns: kernel.owned(busNamespace(bus.id)), fd: bus.fd });
  try {
    const sent = bus.members.map((_, i) => framesOf(bus, i + 1));
    sockets.forEach((socket, i) => {
      for (const frame of sent[i] ?? []) socket.send(frame);
    });
    const [monitorFrames, ...memberFrames] = await Promise.all([
      monitor.receiveAll(QUIET_MS),
      ...sockets.map((socket) => socket.receiveAll(QUIET_MS)),
    ]);
    return { members: memberFrames, monitor: monitorFrames, sent };
  } finally {
    for (const socket of sockets) socket.close();
    monitor.close();
  }
}

async function assertExactlyOnce(bus: Bus): Promise<void> {
  const { members, monitor, sent } = await exchange(bus);
  members.forEach((received, j) => {
    const expected = sent.filter((_, i) => i !== j).flat();
    assert.equal(received.length, expected.length, `member ${j + 1} received ${received.length} frames, expected ${expected.length}`);
    for (const [i, frames] of sent.entries()) {
      const fromI = received.filter((frame) => Math.floor(frame.id / 0x100) === i + 1);
      assert.deepEqual(
        fromI,
        i === j ? [] : frames,
        `member ${j + 1} from member ${i + 1}: exactly once, in order${i === j ? ' (never its own)' : ''}`,
      );
    }
  });
  assert.deepEqual(monitor, sent.flat(), 'the monitor sees every frame once, in order');
}

describe('buses on the real kernel', () => {
  const powertrain = makeBus('powertrain', true, 3);
  const body = makeBus('body', false, 2);

  before(() => {
    sh('modprobe -a vcan vxcan can-raw');
    setMaxHops(1);
    reconciler.apply(powertrain);
    reconciler.apply(body);
  });

  after(() => {
    reconciler.sweep([]);
    for (const name of ecus.namespaces.list()) ecus.namespaces.delete(name);
    setMaxHops(1);
  });

  it('holds exactly the planned links and rules', () => {
    const snapshot = kernelSnapshot(kernel);
    assert.deepEqual(snapshot.namespaces[busNamespace(powertrain.id)], planSnapshot(planBus(powertrain)));
    assert.deepEqual(snapshot.namespaces[busNamespace(body.id)], planSnapshot(planBus(body)));
    assert.equal(planBus(powertrain).rules.length, 24);
  });

  it('delivers every frame to every other member once, in order, and to the monitor once (FD bus, max_hops 1)', async () => {
    await assertExactlyOnce(powertrain);
  });

  it('keeps buses apart: frames on one never reach the other', async () => {
    const bodySockets = body.members.map((member) => open(body, member));
    try {
      await exchange(powertrain);
      const received = await Promise.all(bodySockets.map((socket) => socket.receiveAll(QUIET_MS)));
      assert.deepEqual(received, [[], []]);
    } finally {
      for (const socket of bodySockets) socket.close();
    }
    await assertExactlyOnce(body);
  });

  it('delivers a frame injected on the monitor to every member once', async () => {
    const sockets = powertrain.members.map((member) => open(powertrain, member));
    const monitor = kernel.canSocket(MONITOR, { netns: kernel.owned(busNamespace(powertrain.id)), fd: true });
    try {
      const frames = [
        classicFrame({ id: 0x7df, data: [2, 1, 0] }),
        fdFrame({ id: 0x18daf110, extended: true, data: new Uint8Array(64).fill(7) }),
      ];
      for (const frame of frames) monitor.send(frame);
      const received = await Promise.all(sockets.map((socket) => socket.receiveAll(QUIET_MS)));
      assert.deepEqual(received, [frames, frames, frames]);
    } finally {
      for (const socket of sockets) socket.close();
      monitor.close();
    }
  });

  it('is exactly-once at can_gw max_hops 3 as well, after a reconcile restores the rules the module took along', async () => {
    setMaxHops(3);
    try {
      assert.deepEqual(kernelSnapshot(kernel).namespaces[busNamespace(powertrain.id)]?.rules, [], 'unloading can-gw dropped the rules');
      assert.equal(reconciler.apply(powertrain).filter((change) => change.object === 'rule').length, 24);
      reconciler.apply(body);
      await assertExactlyOnce(powertrain);
      await assertExactlyOnce(body);
    } finally {
      setMaxHops(1);
      reconciler.apply(powertrain);
      reconciler.apply(body);
    }
  });

  const inBus = (bus: Bus, command: string): string =>
    sh(`nsenter --net=${kernel.namespaces.path(busNamespace(bus.id))} sh -c '${command}'`);
  const m2 = hostEndName('powertrain-m2');
  for (const [what, damage] of [
    ['a rule (cangw -D)', () => inBus(powertrain, `cangw -D -s ${m2} -d ${MONITOR} -e -i -l 1`)],
    ['a host end (ip link del)', () => inBus(powertrain, `ip link del ${m2}`)],
    ['the monitor', () => inBus(powertrain, `ip link del ${MONITOR}`)],
    [
      'nothing, but gaining a stray vcan and a duplicate rule',
      () => inBus(powertrain, `ip link add stray type vcan && cangw -A -s ${m2} -d ${MONITOR} -e -i -l 1`),
    ],
    [
      'the whole namespace (umount and rm)',
      () =>
        sh(`umount ${kernel.namespaces.path(busNamespace(powertrain.id))} && rm ${kernel.namespaces.path(busNamespace(powertrain.id))}`),
    ],
  ] as const) {
    it(`restores exactly the planned set in one reconcile after losing ${what}, and frames flow again`, async () => {
      damage();
      const expected = planSnapshot(planBus(powertrain));
      assert.notDeepEqual(kernelSnapshot(kernel).namespaces[busNamespace(powertrain.id)], expected);
      const bodyBefore = kernelSnapshot(kernel).namespaces[busNamespace(body.id)];
      assert.notDeepEqual(reconciler.apply(powertrain), []);
      assert.deepEqual(kernelSnapshot(kernel).namespaces[busNamespace(powertrain.id)], expected);
      assert.deepEqual(kernelSnapshot(kernel).namespaces[busNamespace(body.id)], bodyBefore, 'the other bus was not touched');
      assert.deepEqual(reconciler.check(powertrain), []);
      await assertExactlyOnce(powertrain);
    });
  }

  it('measures adding one member to buses of 1, 10 and 50 members (diagnostic)', () => {
    const timings: string[] = [];
    for (const size of [1, 10, 50]) {
      const bus = makeBus(`size${size}`, false, size - 1);
      reconciler.apply(bus);
      const grown = { ...bus, members: [...bus.members, ecu(bus.id, size)] };
      const start = performance.now();
      reconciler.apply(grown);
      timings.push(`${size} members ${(performance.now() - start).toFixed(1)} ms`);
      assert.deepEqual(kernelSnapshot(kernel).namespaces[busNamespace(grown.id)], planSnapshot(planBus(grown)));
      reconciler.remove(bus.id);
    }
    console.log(`measure: reconcile adding the last member (classic bus): ${timings.join(', ')}`);
  });

  it('removes a bus with its member ends and rules, and sweeps what no bus owns', async () => {
    const end = { label: 'ecu', path: powertrain.members[0]?.end.netns };
    assert.equal(reconciler.remove(powertrain.id), true);
    const inside = kernel.route(end);
    try {
      await waitFor('the member end to vanish with the bus namespace', () => inside.findLink('can0') === undefined);
    } finally {
      inside.close();
    }
    assert.deepEqual(reconciler.sweep([]), [busNamespace(body.id)]);
    assert.deepEqual(kernel.namespaces.list(), []);
  });
});
