// Promises that only the real kernel can show kept (#22): no frame twice while a member floods and filters change,
// requests answered while a flood goes through the daemon, the kernel's own reason for each rule of a large failing batch (never ENOBUFS), and a state file that a full disk
// cannot corrupt.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CantainerError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { systemKernel, KernelError, type CanSocketPort } from '../../src/kernel/index.js';
import { addRuleRequest, type CanGwRule } from '../../src/netlink/cangw.js';
import type { Member } from '../../src/bus/model.js';
import { BusService } from '../../src/service/buses.js';
import { StateStore } from '../../src/state/store.js';
import { kernelSnapshot } from '../support/snapshot.js';
import { projectPath } from '../support/helpers.js';
import { sh, startCantainerDaemon, waitFor } from '../support/lab.js';
import { callDaemon } from '../../src/control/client.js';

const kernel = systemKernel({ netnsDir: '/run/cantainer-test/reliable' });
const ecus = systemKernel({ netnsDir: '/run/cantainer-test/reliable-ecu' });

function ecu(name: string): Member {
  if (!ecus.namespaces.exists(name)) ecus.namespaces.create(name);
  return { id: name, end: { name: 'can0', netns: ecus.namespaces.path(name), up: true } };
}

/** A rule's size on the wire. */
function addRuleBytes(rule: CanGwRule | undefined): number {
  return rule === undefined ? 0 : 16 + addRuleRequest(rule).payload.length;
}

function socketOf(member: Member): CanSocketPort {
  return kernel.canSocket('can0', { netns: { label: member.id, path: member.end.netns }, receiveBufferBytes: 64 * 1024 * 1024 });
}

/** Sends `count` frames with id 123 and a 32-bit counter as payload from a process of its own, as fast as it can. */
function flood(member: Member, count: number): Promise<void> {
  const script = `
import { systemKernel } from ${JSON.stringify(projectPath('dist', 'src', 'kernel', 'index.js'))};
import { classicFrame } from ${JSON.stringify(projectPath('dist', 'src', 'can', 'frame.js'))};
const socket = systemKernel().canSocket('can0', { netns: { label: 'flood', path: ${JSON.stringify(member.end.netns)} } });
for (let i = 0; i < ${count}; i++) {
  const data = [i & 255, (i >>> 8) & 255, (i >>> 16) & 255, (i >>> 24) & 255];
  for (;;) {
    try { socket.send(classicFrame({ id: 0x123, data })); break; } catch { await new Promise((r) => setImmediate(r)); }
  }
}
socket.close();`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`the flood exited with ${code ?? 'a signal'}`));
    });
  });
}

describe('promises kept on the real kernel (#22)', () => {
  const dir = '/run/cantainer-test/reliable-state';
  let service: BusService;

  before(() => {
    sh('modprobe -a vcan vxcan can-gw can-raw');
    rmSync(dir, { recursive: true, force: true });
    service = new BusService({ kernel, store: new StateStore(dir), log: silentLogger });
    service.start();
  });
  after(async () => {
    for (const bus of service.list()) await service.removeBus(bus.id);
    for (const name of ecus.namespaces.list()) ecus.namespaces.delete(name);
    rmSync(dir, { recursive: true, force: true });
  });

  it('no receiver hears a frame twice while a member floods and filters change again and again', async () => {
    await service.createBus({ id: 'once', name: 'once', fd: false, members: [] });
    const [sender, changing, steady] = [ecu('e1'), ecu('e2'), ecu('e3')];
    for (const member of [sender, changing, steady]) await service.addMember('once', member);
    const heard = new Map<string, number[]>([
      ['e2', []],
      ['e3', []],
    ]);
    const sockets = [changing, steady].map((member) => {
      const socket = socketOf(member);
      socket.listen(
        (frames) => {
          for (const frame of frames) heard.get(member.id)?.push(Buffer.from(frame.data).readUInt32LE(0));
        },
        () => undefined,
      );
      return socket;
    });
    try {
      const COUNT = 20_000;
      const flooding = flood(sender, COUNT);
      let changes = 0;
      const progress = { done: false };
      void flooding.finally(() => {
        progress.done = true;
      });
      for (const receive of [['100/700'], ['120/7F0'], ['123'], ['000/000'], ['123/7FF']]) {
        await service.addMember('once', { ...changing, receive });
        changes += 1;
      }
      while (!progress.done) {
        await service.addMember('once', { ...changing, receive: changes % 2 === 0 ? ['100/700'] : ['123'] });
        changes += 1;
        // A change runs its system calls synchronously: without a turn of the event loop here, neither the flood's
        // exit nor the receivers' frames would ever be seen, and this loop would never end.
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await flooding;
      // The kernel may drop frames of a flood (its backlog is finite); it must never deliver one twice.
      await waitFor('the last frames', () => (heard.get('e3')?.length ?? 0) >= COUNT, 3_000).catch(() => undefined);
      for (const [name, values] of heard) {
        const seen = new Set<number>();
        const twice = values.filter((value) => seen.size === seen.add(value).size);
        assert.deepEqual(twice.slice(0, 5), [], `${name} heard these twice (of ${values.length} frames, ${changes} changes)`);
      }
      assert.ok(changes >= 5);
      assert.ok((heard.get('e2')?.length ?? 0) > 0, 'the changing member heard frames between the changes');
      assert.ok((heard.get('e3')?.length ?? 0) > 0, 'the member no change concerns heard the flood');
      console.log(
        `measure: a flood of ${COUNT} frames during ${changes} filter changes: e2 heard ${heard.get('e2')?.length ?? 0}, e3 ${heard.get('e3')?.length ?? 0}, none twice`,
      );
    } finally {
      for (const socket of sockets) socket.close();
    }
  });

  it('answers control requests within 1 s while a member floods a bus whose tunnel reads every frame', async () => {
    const root = '/run/cantainer-flood';
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root, { recursive: true });
    const control = join(root, 'control.sock');
    const daemon = await startCantainerDaemon(
      [
        '--socket',
        join(root, 'plugin.sock'),
        '--control-socket',
        control,
        '--state-dir',
        join(root, 'state'),
        '--netns-dir',
        join(root, 'netns'),
      ],
      join(root, 'daemon.log'),
    );
    try {
      const member = ecu('f1');
      await callDaemon(control, 'Member.Attach', {
        bus: 'flooded',
        create: true,
        netns: ecus.namespaces.path('f1'),
        member: 'f1',
        interface: 'can0',
      });
      await callDaemon(control, 'Tunnel.Add', { bus: 'flooded', transport: 'udp', listen: '127.0.0.1:29400', peer: '127.0.0.1:29401' });
      const COUNT = 200_000;
      const flooding = flood(member, COUNT);
      const progress = { done: false };
      void flooding.finally(() => (progress.done = true));
      const latencies: number[] = [];
      while (!progress.done) {
        const started = performance.now();
        await callDaemon(control, 'Daemon.Status', {});
        latencies.push(performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await flooding;
      const tunnel = (await callDaemon(control, 'Tunnel.List', {})).tunnels[0];
      const out = tunnel?.counters?.framesOut ?? 0;
      const worst = Math.max(...latencies);
      console.log(
        `measure: ${latencies.length} requests during a flood of ${COUNT} frames: worst ${Math.round(worst)} ms, the tunnel sent ${out} frames`,
      );
      assert.ok(latencies.length >= 3, `the flood lasted long enough to ask ${latencies.length} times`);
      assert.ok(out > COUNT / 10, `the tunnel read the flood (${out} frames out)`);
      assert.ok(worst < 1000, `every request answered within 1 s (worst ${Math.round(worst)} ms)`);
      // The tunnel goes, then the last member, and with it the bus it made: nothing is left mounted under the root.
      await callDaemon(control, 'Tunnel.Remove', { bus: 'flooded', name: 'udp-29400' });
      const left = await callDaemon(control, 'Member.Detach', { bus: 'flooded', member: 'f1' });
      assert.equal(left.busRemoved, true);
    } finally {
      await daemon.stop();
      sh(`for f in ${root}/netns/*; do umount "$f" 2>/dev/null; done; true`);
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("reports the kernel's own reason for each of 256 failing FD rules with edits (356 bytes each), never ENOBUFS", () => {
    kernel.namespaces.create('big-batch');
    const route = kernel.route(kernel.owned('big-batch'));
    try {
      const data = new Uint8Array(64).fill(0xa5);
      const mod = { fields: ['data' as const], canId: 0, len: 0, flags: 0, data };
      const rules: CanGwRule[] = Array.from({ length: 256 }, (_, i) => ({
        sourceIndex: 9000 + i,
        destinationIndex: 9999,
        fd: true,
        modifications: { and: mod, or: mod, xor: mod, set: mod },
      }));
      const results = route.addRules(rules);
      assert.equal(results.length, 256);
      // Every rule fails for the kernel's own reason (its source interface is missing), the same for all.
      const names = new Set(results.map((error) => (error instanceof KernelError ? error.errnoName : 'none')));
      assert.equal(names.size, 1, [...names].join(', '));
      assert.ok(!names.has('ENOBUFS') && !names.has('none'), [...names].join(', '));
      console.log(`measure: 256 failing rules of ${addRuleBytes(rules[0])} bytes in batches: each answered ${[...names].join('')}`);
      assert.deepEqual(route.listRules(), []);
    } finally {
      route.close();
      kernel.namespaces.delete('big-batch');
    }
  });

  it('keeps the state file whole when the disk fills up in the middle of writing it, and puts the kernel back', async () => {
    const small = '/run/cantainer-test/small-state';
    mkdirSync(small, { recursive: true });
    sh(`mount -t tmpfs -o size=64k tmpfs ${small}`);
    try {
      const store = new StateStore(join(small, 'state'));
      // Its own namespace directory: its start must not sweep the other service's buses.
      const tightKernel = systemKernel({ netnsDir: '/run/cantainer-test/reliable-tight' });
      const tight = new BusService({ kernel: tightKernel, store, log: silentLogger });
      tight.start();
      // A state larger than a page, so that a page left free takes only part of it.
      const members: Member[] = Array.from({ length: 40 }, (_, i) => ({ id: `member-with-a-long-id-${i}`, end: { name: `vxs${i}` } }));
      await tight.createBus({ id: 'tight', name: 'tight', fd: false, members });
      const good = readFileSync(store.path);
      assert.ok(good.length > 4096);
      const free = (): number => {
        const stat = statfsSync(small);
        return stat.bavail * stat.bsize;
      };
      // Fill the disk to one free page.
      writeFileSync(join(small, 'filler'), Buffer.alloc(Math.max(0, free() - 4096)));
      assert.ok(free() <= 4096 && free() > 0, `${free()} bytes free`);
      const before = kernelSnapshot(tightKernel);
      await assert.rejects(
        tight.addMember('tight', { id: 'one-more', end: { name: 'vxs-more' } }),
        (error: unknown) => error instanceof CantainerError && error.code === 'ESTATEWRITE',
      );
      assert.deepEqual(readFileSync(store.path), good, 'the state file is the good one, whole');
      assert.deepEqual(kernelSnapshot(tightKernel), before, 'the kernel is as it was');
      rmSync(join(small, 'filler'));
      await tight.removeBus('tight');
    } finally {
      sh(`umount ${small}`);
    }
  });
});
