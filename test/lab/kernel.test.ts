// The kernel layer on a real CAN kernel, through the project's own code only: namespaces, vcan, vxcan pairs across
// namespaces, can-gw rules with filters and modifications, counters, and real frames.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, readFileSync, readlinkSync } from 'node:fs';
import { classicFrame, fdFrame, type CanFrame } from '../../src/can/frame.js';
import { InvalidValueError } from '../../src/errors.js';
import {
  systemKernel,
  KernelError,
  type CanSocketPort as CanSocket,
  type NetnsTarget,
  type RoutePort as RouteHandle,
} from '../../src/kernel/index.js';
import { NetnsStore } from '../../src/kernel/netns.js';
import { RouteHandle as RealRoute } from '../../src/kernel/route.js';
import type { CanGwRule } from '../../src/netlink/cangw.js';
import { sh, waitFor } from '../support/lab.js';

const kernel = systemKernel({ netnsDir: '/run/cantainer-test/netns' });
const QUIET_MS = 300;

function mounted(path: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[4] === path);
}

describe('kernel layer: namespaces', () => {
  after(() => {
    for (const name of kernel.namespaces.list()) kernel.namespaces.delete(name);
  });

  it('creates, lists and deletes a namespace persisted as a bind mount', () => {
    const path = kernel.namespaces.create('ct-a');
    assert.equal(path, '/run/cantainer-test/netns/ct-a');
    assert.ok(mounted(path), 'the namespace file is a mount point');
    assert.deepEqual(kernel.namespaces.list(), ['ct-a']);
    // The open fd names the namespace: a vcan created with it as IFLA_NET_NS_FD appears there.
    const fd = new NetnsStore(kernel.namespaces.dir).open('ct-a');
    const host = RealRoute.open();
    const inside = kernel.route(kernel.owned('ct-a'));
    try {
      host.createVcan({ name: 'vopen', netnsFd: fd });
      assert.equal(host.findLink('vopen'), undefined);
      assert.equal(inside.findLink('vopen')?.kind, 'vcan');
    } finally {
      closeSync(fd);
      host.close();
      inside.close();
    }
    assert.equal(kernel.namespaces.delete('ct-a'), true);
    assert.equal(existsSync(path), false);
    assert.equal(mounted(path), false);
    assert.equal(kernel.namespaces.delete('ct-a'), false);
  });

  it('refuses a duplicate with the operation and errno in the message, changing nothing', () => {
    kernel.namespaces.create('ct-dup');
    assert.throws(
      () => kernel.namespaces.create('ct-dup'),
      (error: unknown) => error instanceof KernelError && error.message === 'creating netns ct-dup: EEXIST (File exists)',
    );
    assert.ok(mounted(kernel.namespaces.path('ct-dup')));
    kernel.namespaces.delete('ct-dup');
  });

  it('refuses a bad name', () => {
    assert.throws(() => kernel.namespaces.create('../etc'), InvalidValueError);
  });

  it('leaves the calling thread in its own namespace, also when opening a socket there fails', () => {
    const inode = (): string => readlinkSync('/proc/thread-self/ns/net');
    const start = inode();
    kernel.namespaces.create('ct-thread');
    kernel.route(kernel.owned('ct-thread')).close();
    assert.equal(inode(), start);
    assert.throws(
      () => kernel.canSocket('nosuch0', { netns: kernel.owned('ct-thread') }),
      /opening a CAN socket on nosuch0 in netns ct-thread: ENODEV/u,
    );
    assert.equal(inode(), start);
    kernel.namespaces.delete('ct-thread');
  });
});

describe('kernel layer: links', () => {
  let ns: NetnsTarget;
  let route: RouteHandle;
  before(() => {
    kernel.namespaces.create('ct-links');
    ns = kernel.owned('ct-links');
    route = kernel.route(ns);
  });
  after(() => {
    route.close();
    kernel.namespaces.delete('ct-links');
  });

  it('creates a vcan, sets its MTU while down, brings it up, refuses an MTU change while up, deletes it', () => {
    route.createVcan({ name: 'vc0', mtu: 72 });
    let link = route.findLink('vc0');
    assert.equal(link?.kind, 'vcan');
    assert.equal(link.type, 280);
    assert.equal(link.mtu, 72);
    assert.equal(link.up, false);
    route.setMtu('vc0', 16);
    route.setLinkUp('vc0', true);
    link = route.findLink('vc0');
    assert.equal(link?.mtu, 16);
    assert.equal(link.up, true);
    assert.throws(
      () => {
        route.setMtu('vc0', 72);
      },
      (error: unknown) =>
        error instanceof KernelError && error.message === 'setting MTU 72 on link vc0 in netns ct-links: EBUSY (Device or resource busy)',
    );
    assert.ok(route.listLinks().some((l) => l.name === 'vc0'));
    assert.equal(route.deleteLink('vc0'), true);
    assert.equal(route.findLink('vc0'), undefined);
    assert.equal(route.deleteLink('vc0'), false);
  });

  it('creates a vxcan pair with the peer straight in another namespace; deleting one end removes both', () => {
    const member = kernel.owned(kernel.namespaces.create('ct-member').split('/').pop() ?? '');
    const memberRoute = kernel.route(member);
    try {
      route.createVxcanPair({ name: 'hx1', mtu: 72, peer: { name: 'cx1', mtu: 72, netns: member } });
      const host = route.findLink('hx1');
      const peer = memberRoute.findLink('cx1');
      assert.equal(host?.kind, 'vxcan');
      assert.equal(peer?.kind, 'vxcan');
      assert.equal(host.peerIndex, peer.index);
      assert.notEqual(host.peerNetnsId, undefined, 'the peer lives in another namespace');
      assert.equal(route.findLink('cx1'), undefined);
      assert.throws(
        () => {
          route.createVxcanPair({ name: 'hx1', peer: { name: 'cx1', netns: member } });
        },
        (error: unknown) =>
          error instanceof KernelError &&
          error.message === 'creating vxcan pair hx1/cx1 (peer in netns ct-member) in netns ct-links: EEXIST (File exists)',
      );
      assert.equal(route.deleteLink('hx1'), true);
      assert.equal(memberRoute.findLink('cx1'), undefined);
    } finally {
      memberRoute.close();
      kernel.namespaces.delete('ct-member');
    }
  });

  it('moves a link into another namespace under a new name', () => {
    const other = kernel.owned(kernel.namespaces.create('ct-move').split('/').pop() ?? '');
    const otherRoute = kernel.route(other);
    try {
      route.createVcan({ name: 'vmove' });
      route.moveLink('vmove', other, 'moved0');
      assert.equal(route.findLink('vmove'), undefined);
      assert.equal(otherRoute.findLink('moved0')?.kind, 'vcan');
    } finally {
      otherRoute.close();
      kernel.namespaces.delete('ct-move');
    }
  });

  it('names the missing link in errors', () => {
    assert.throws(
      () => {
        route.setLinkUp('nosuch0', true);
      },
      (error: unknown) =>
        error instanceof KernelError && error.message === 'setting link nosuch0 up in netns ct-links: ENODEV (No such device)',
    );
  });
});

describe('kernel layer: can-gw rules and frames across namespaces', () => {
  // A bus namespace holding the host ends hx1, hx2 of two members whose ends cx1, cx2 live in their own namespaces.
  let bus: RouteHandle;
  let hx1 = 0;
  let hx2 = 0;
  const sockets: CanSocket[] = [];

  before(() => {
    sh('modprobe -a vxcan can-gw can-raw');
    for (const name of ['ct-bus', 'ct-m1', 'ct-m2']) kernel.namespaces.create(name);
    bus = kernel.route(kernel.owned('ct-bus'));
    for (const i of [1, 2]) {
      const member = kernel.owned(`ct-m${i}`);
      bus.createVxcanPair({ name: `hx${i}`, mtu: 72, peer: { name: `cx${i}`, mtu: 72, netns: member } });
      bus.setLinkUp(`hx${i}`, true);
      const memberRoute = kernel.route(member);
      memberRoute.setLinkUp(`cx${i}`, true);
      memberRoute.close();
    }
    hx1 = bus.findLink('hx1')?.index ?? 0;
    hx2 = bus.findLink('hx2')?.index ?? 0;
  });

  after(() => {
    for (const socket of sockets) socket.close();
    bus.close();
    for (const name of ['ct-bus', 'ct-m1', 'ct-m2']) kernel.namespaces.delete(name);
  });

  function open(member: 1 | 2, fd = true): CanSocket {
    const socket = kernel.canSocket(`cx${member}`, { netns: kernel.owned(`ct-m${member}`), fd });
    sockets.push(socket);
    return socket;
  }

  const forward = (extra: Partial<CanGwRule> = {}): CanGwRule => ({
    sourceIndex: hx1,
    destinationIndex: hx2,
    echo: true,
    allowToIncomingInterface: true,
    hopLimit: 1,
    ...extra,
  });

  async function sendAndCollect(frames: CanFrame[]): Promise<CanFrame[]> {
    const sender = open(1);
    const receiver = open(2);
    for (const frame of frames) sender.send(frame);
    const received = await receiver.receiveAll(QUIET_MS);
    sender.close();
    receiver.close();
    return received;
  }

  it('forwards classic frames exactly once and counts them', async () => {
    bus.addRule(forward());
    const frames = [
      classicFrame({ id: 0x123, data: [0xde, 0xad, 0xbe, 0xef] }),
      classicFrame({ id: 0x1abcdef, extended: true, data: [1] }),
      classicFrame({ id: 0x7ff, rtr: true }),
    ];
    assert.deepEqual(await sendAndCollect(frames), frames);
    const rules = bus.listRules();
    assert.equal(rules.length, 1);
    assert.deepEqual(rules[0]?.rule, forward());
    assert.deepEqual(rules[0].counters, { handled: 3, dropped: 0, deleted: 0 });
    assert.equal(bus.deleteRule(forward()), true);
    assert.deepEqual(bus.listRules(), []);
    assert.equal(bus.deleteRule(forward()), false);
  });

  it('forwards nothing without a rule', async () => {
    assert.deepEqual(await sendAndCollect([classicFrame({ id: 1 })]), []);
  });

  it('filters by id and mask', async () => {
    bus.addRule(forward({ filter: { id: 0x100, mask: 0x700 } }));
    const received = await sendAndCollect([
      classicFrame({ id: 0x123 }),
      classicFrame({ id: 0x223 }),
      classicFrame({ id: 0x1ff, data: [9] }),
    ]);
    assert.deepEqual(received, [classicFrame({ id: 0x123 }), classicFrame({ id: 0x1ff, data: [9] })]);
    assert.deepEqual(bus.listRules()[0]?.counters, { handled: 2, dropped: 0, deleted: 0 });
    bus.flushRules();
    assert.deepEqual(bus.listRules(), []);
  });

  it('modifies frames: SET id, XOR data, with an XOR checksum', async () => {
    const rule = forward({
      modifications: {
        set: { fields: ['id'], canId: 0x555, len: 0, flags: 0, data: new Uint8Array(0) },
        xor: { fields: ['data'], canId: 0, len: 0, flags: 0, data: Uint8Array.of(0xff, 0x0f) },
      },
      xorChecksum: { fromIndex: 0, toIndex: 1, resultIndex: 3, initialValue: 0 },
    });
    bus.addRule(rule);
    const received = await sendAndCollect([classicFrame({ id: 0x100, data: [0x11, 0x22, 0x33, 0x44] })]);
    // data after XOR: ee 2d 33 44; checksum of bytes 0..1 (ee ^ 2d = c3) written to byte 3.
    assert.deepEqual(received, [classicFrame({ id: 0x555, data: [0xee, 0x2d, 0x33, 0xc3] })]);
    const listed = bus.listRules();
    assert.equal(listed.length, 1);
    assert.deepEqual(listed[0]?.rule.xorChecksum, rule.xorChecksum);
    assert.deepEqual(listed[0]?.rule.modifications?.set?.canId, 0x555);
    assert.equal(bus.deleteRule(rule), true);
  });

  it('forwards CAN FD frames only with an FD rule, and classic frames on FD links with a classic rule', async () => {
    const fd = fdFrame({ id: 0x42, brs: true, data: new Uint8Array(12).fill(0xa5) });
    const classic = classicFrame({ id: 0x43, data: [1, 2, 3] });
    bus.addRule(forward());
    assert.deepEqual(await sendAndCollect([fd, classic]), [classic], 'a classic rule carries no FD frames');
    bus.addRule(forward({ fd: true }));
    assert.deepEqual(await sendAndCollect([fd, classic]), [fd, classic]);
    const counters = bus.listRules().map((entry) => [entry.rule.fd === true, entry.counters.handled]);
    assert.deepEqual(counters.sort(), [
      [false, 2],
      [true, 1],
    ]);
    bus.flushRules();
  });

  it('lets a socket receive its own frames only when asked', async () => {
    const plain = open(1);
    const own = kernel.canSocket('cx1', { netns: kernel.owned('ct-m1'), receiveOwnMessages: true });
    sockets.push(own);
    own.send(classicFrame({ id: 0x77 }));
    assert.deepEqual(await own.receiveAll(QUIET_MS), [classicFrame({ id: 0x77 })], 'asked: sees its own frame');
    assert.deepEqual(await plain.receiveAll(QUIET_MS), [classicFrame({ id: 0x77 })], 'local loopback reaches other sockets on the sender');
    plain.send(classicFrame({ id: 0x78 }));
    assert.deepEqual(await own.receiveAll(QUIET_MS), [classicFrame({ id: 0x78 })]);
    assert.deepEqual(await plain.receiveAll(QUIET_MS), [], 'not asked: does not see its own frame');
  });

  it('applies socket filters', async () => {
    const sender = open(1);
    const filtered = kernel.canSocket('cx2', { netns: kernel.owned('ct-m2'), filters: [{ id: 0x200, mask: 0x7f0 }] });
    sockets.push(filtered);
    bus.addRule(forward());
    for (const id of [0x100, 0x205, 0x20f, 0x210]) sender.send(classicFrame({ id }));
    assert.deepEqual(
      (await filtered.receiveAll(QUIET_MS)).map((frame) => frame.id),
      [0x205, 0x20f],
    );
    bus.flushRules();
  });

  it('removes the links and rules of a namespace with it', async () => {
    bus.addRule(forward());
    // Open sockets hold their namespace alive; the kernel then destroys it asynchronously (cleanup_net).
    for (const socket of sockets.splice(0)) socket.close();
    kernel.namespaces.delete('ct-m2');
    await waitFor('hx2 to vanish with its peer namespace', () => bus.findLink('hx2') === undefined);
    assert.deepEqual(bus.listRules(), [], 'rules on a vanished link are gone');
    assert.equal(bus.findLink('hx1')?.kind, 'vxcan');
  });
});

describe('kernel layer: preflight on the lab kernel', () => {
  it('sees every CAN module as loaded or loadable and reads max_hops once can-gw is loaded', () => {
    sh('modprobe can-gw');
    const report = kernel.preflight();
    assert.equal(report.ok, true);
    for (const module of report.modules)
      assert.ok(['loaded', 'loadable', 'builtin'].includes(module.state), `${module.module}: ${module.state}`);
    assert.equal(report.modules.find((m) => m.module === 'can_gw')?.state, 'loaded');
    assert.equal(typeof report.maxHops, 'number');
  });
});

describe('kernel layer: nothing is left behind', () => {
  it('has no namespace of the suite left, and no test link in the initial namespace', () => {
    assert.deepEqual(kernel.namespaces.list(), []);
    const route = kernel.route();
    try {
      assert.deepEqual(
        route
          .listLinks()
          .filter((link) => /^(ct|hx|cx|vc)/u.test(link.name))
          .map((link) => link.name),
        [],
      );
      assert.deepEqual(route.listRules(), []);
    } finally {
      route.close();
    }
  });
});

describe('kernel layer: what a namespace path names (#22)', () => {
  const dir = '/run/cantainer-test/identify';
  before(() => {
    sh(`mkdir -p ${dir} && rm -f ${dir}/fifo && mkfifo ${dir}/fifo && touch ${dir}/file`);
  });
  after(() => {
    sh(`rm -rf ${dir}`);
  });

  it('tells a network namespace from a FIFO, a directory, a plain file and another kind of namespace, without hanging', () => {
    const own = kernel.identify('/proc/self/ns/net');
    assert.equal(own.kind, 'netns');
    assert.deepEqual(kernel.identify(`/proc/${process.pid}/ns/net`), own);
    assert.deepEqual(kernel.identify(`${dir}/fifo`), { kind: 'other', what: 'a FIFO' });
    assert.deepEqual(kernel.identify(dir), { kind: 'other', what: 'a directory' });
    assert.deepEqual(kernel.identify(`${dir}/file`), { kind: 'other', what: 'a plain file, not a namespace' });
    assert.deepEqual(kernel.identify('/proc/self/ns/mnt'), { kind: 'other', what: 'a mnt namespace, not a network namespace' });
    assert.deepEqual(kernel.identify(`${dir}/none`), { kind: 'gone' });
  });

  it('refuses to enter a FIFO at once instead of waiting for a writer', () => {
    const started = Date.now();
    assert.throws(() => kernel.route({ label: 'fifo', path: `${dir}/fifo` }), /opening netns .*fifo: .*not a namespace file/u);
    assert.ok(Date.now() - started < 5_000);
  });
});
