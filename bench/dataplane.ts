// Section 2: the data plane. Frames per second, latency and loss from one member to another across a bus of 2, 10
// and 50 members (classic and FD), against a hand-made vxcan pair per side and one can-gw rule between them, on the
// same kernel in the same VM. Frames are made by can-utils' cangen (a counter in the data) and timed by candump: the
// latency run stamps each frame with CLOCK_REALTIME just before sending it; the receiver's candump prints the
// kernel's receive timestamp, on the same clock.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import koffi from 'koffi';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { classicFrame, fdFrame } from '../src/can/frame.js';
import { systemKernel } from '../src/kernel/index.js';
import type { Bus, Member } from '../src/bus/model.js';
import { parseCandumpLog } from '../src/can/text.js';
import { CAN_LINK_MTU } from '../src/netlink/link.js';
import { Reconciler } from '../src/reconcile/reconciler.js';
import { median, spread, type Spread } from './stats.js';
import { stopChild } from '../test/support/child.js';
import { errorMessage } from '../src/errors.js';

export interface PathFigures {
  /** Frames per second over the burst, first to last arrival. */
  readonly fps: number;
  readonly sent: number;
  readonly received: number;
  readonly lost: number;
  readonly duplicates: number;
  readonly outOfOrder: number;
  /** One way, from just before the send call to the kernel timestamp at the receiving socket, at 1000 frames/s (no queueing), in microseconds. */
  readonly latencyUs: Spread;
}

export interface DataPlaneResult {
  readonly members: number;
  readonly fd: boolean;
  /**
   * The kernel's work per frame sent on the bus, from its can-gw counters over all rounds: frames forwarded (one
   * per delivery) and frames met again and stopped by the hop limit (in the monitor, which echoes).
   */
  readonly perFrame?: { readonly forwarded: number; readonly deleted: number };
  readonly ours: PathFigures;
  readonly baseline: PathFigures;
}

const DIR = '/run/cantainer-bench/dataplane';
const buses = systemKernel({ netnsDir: `${DIR}/bus` });
const ecus = systemKernel({ netnsDir: `${DIR}/ecu` });
const reconciler = new Reconciler(buses);

/** A namespace standing in for an ECU's container (made once, kept for the run). */
export function namespace(name: string): string {
  if (!ecus.namespaces.exists(name)) ecus.namespaces.create(name);
  return ecus.namespaces.path(name);
}

const libc = koffi.load('libc.so.6');
koffi.struct('bench_timespec', { tv_sec: 'int64_t', tv_nsec: 'long' });
const clockGettime = libc.func('int clock_gettime(int clock, _Out_ bench_timespec *time)');

/** CLOCK_REALTIME in ms with its nanoseconds: the clock of the kernel's receive timestamps, which candump prints. */
function realtimeMs(): number {
  const time: { tv_sec: number | bigint; tv_nsec: number | bigint } = { tv_sec: 0, tv_nsec: 0 };
  clockGettime(0, time);
  return Number(time.tv_sec) * 1000 + Number(time.tv_nsec) / 1e6;
}

/** Sockets on `can0` in a namespace (candump's), from /proc/net/can/rcvlist_all. */
function listeners(ns: string): number {
  const out = spawnSync('nsenter', [`--net=${ns}`, 'cat', '/proc/net/can/rcvlist_all'], { encoding: 'utf8' }).stdout;
  return out.split('\n').filter((line) => /^\s+can0\s+[0-9A-Fa-f]+\s+[0-9A-Fa-f]{8}\s/u.test(line)).length;
}

function candump(ns: string, file: string): ChildProcess {
  rmSync(file, { force: true });
  // A receive buffer for a whole flood (-r, forced as root): the receiver must not be what loses frames.
  return spawn('sh', ['-c', `exec nsenter --net=${ns} candump -r 67108864 -L can0 > ${file} 2> ${file}.err`], { stdio: 'ignore' });
}

async function until(what: string, condition: () => boolean, timeoutMs = 20_000, everyMs = 20): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** The counter cangen -D i writes into the data (little endian). */
function counter(data: Uint8Array): number {
  let value = 0;
  for (let i = 5; i >= 0; i--) value = value * 256 + (data[i] ?? 0);
  return value;
}

interface Arrival {
  readonly seq: number;
  readonly timeMs: number;
}

function arrivals(file: string): Arrival[] {
  return parseCandumpLog(readFileSync(file, 'utf8'), file).map((entry) => ({ seq: counter(entry.frame.data), timeMs: entry.timeMs }));
}

/** candump on the receiver's can0 while `send` runs; returns what it saw once no more frames come. */
async function received(receiver: string, send: () => Promise<void> | void): Promise<Arrival[]> {
  const rxFile = `${DIR}/rx.log`;
  const before = listeners(receiver);
  const rx = candump(receiver, rxFile);
  await until('candump to listen', () => listeners(receiver) > before).catch((error: unknown) => {
    throw new Error(
      `${errorMessage(error)}: candump exit ${rx.exitCode ?? 'none'} ${existsSync(`${rxFile}.err`) ? readFileSync(`${rxFile}.err`, 'utf8') : ''}`,
    );
  });
  await send();
  // Done when the receiver's file stops growing.
  let size = -1;
  await until(
    'the last frames to arrive',
    () => {
      const now = statSync(rxFile).size;
      const settled = now === size;
      size = now;
      return settled;
    },
    120_000,
    500,
  );
  await stopChild(rx, 'SIGINT');
  return arrivals(rxFile);
}

/** A flood of `count` frames as fast as cangen sends them (it waits when the socket's buffer is full). */
function flood(sender: string, fd: boolean, count: number): void {
  const length = fd ? ['-f', '-L', '64'] : ['-L', '8'];
  const made = spawnSync(
    'nsenter',
    [`--net=${sender}`, 'cangen', 'can0', '-g', '0', '-p', '100', '-n', String(count), '-I', '123', '-D', 'i', ...length],
    { encoding: 'utf8', timeout: 600_000 },
  );
  if (made.status !== 0) throw new Error(`cangen: ${made.stderr}`);
}

/**
 * 1000 frames at 1 ms intervals from a socket of this process, each stamped with the wall clock just before it is
 * sent (the clock of the receiver's kernel timestamps); returns the send times by counter. Between frames the
 * process sleeps in the kernel (Atomics.wait) rather than spinning: the pacer must not take a CPU from the path it
 * measures.
 */
const sleeper = new Int32Array(new SharedArrayBuffer(4));

function paced(sender: string, fd: boolean, count: number): Map<number, number> {
  const socket = buses.canSocket('can0', { netns: { label: 'sender', path: sender }, fd });
  const sentAt = new Map<number, number>();
  try {
    for (let seq = 0; seq < count; seq++) {
      const data = new Uint8Array(fd ? 64 : 8);
      for (let i = 0, v = seq; i < 6; i++, v = Math.floor(v / 256)) data[i] = v % 256;
      const frame = fd ? fdFrame({ id: 0x123, data }) : classicFrame({ id: 0x123, data });
      const due = performance.now() + 1;
      sentAt.set(seq, realtimeMs());
      socket.send(frame);
      const rest = due - performance.now();
      if (rest > 0) Atomics.wait(sleeper, 0, 0, rest);
    }
  } finally {
    socket.close();
  }
  return sentAt;
}

/** Throughput of a flood, loss and order, and latency at 1000 frames/s, from a sender's can0 to a receiver's. */
export async function figures(sender: string, receiver: string, fd: boolean, frames: number): Promise<PathFigures> {
  const got = await received(receiver, () => {
    flood(sender, fd, frames);
  });
  const seqs = got.map((arrival) => arrival.seq);
  const unique = new Set(seqs).size;
  let outOfOrder = 0;
  for (let i = 1; i < seqs.length; i++) if ((seqs[i] ?? 0) <= (seqs[i - 1] ?? 0)) outOfOrder += 1;
  const first = got[0]?.timeMs ?? 0;
  const last = got.at(-1)?.timeMs ?? 0;
  let sentAt = new Map<number, number>();
  const timed = await received(receiver, () => {
    sentAt = paced(sender, fd, 1000);
  });
  const latencies = timed.flatMap((arrival) => {
    const at = sentAt.get(arrival.seq);
    return at === undefined ? [] : [(arrival.timeMs - at) * 1000];
  });
  return {
    fps: last > first ? ((got.length - 1) * 1000) / (last - first) : 0,
    sent: frames,
    received: got.length,
    lost: frames - unique,
    duplicates: seqs.length - unique,
    outOfOrder,
    latencyUs: spread(latencies),
  };
}

/** The hand-made baseline: two namespaces, a vxcan pair from each into a third, one can-gw rule from one to the other. */
export function handMade(fd: boolean): { sender: string; receiver: string; remove: () => void } {
  const mtu = fd ? CAN_LINK_MTU.fd : CAN_LINK_MTU.classic;
  const [sender, receiver] = [namespace(`hs${fd ? 'fd' : ''}`), namespace(`hr${fd ? 'fd' : ''}`)];
  const gw = `hg${fd ? 'fd' : ''}`;
  if (!buses.namespaces.exists(gw)) buses.namespaces.create(gw);
  const route = buses.route(buses.owned(gw));
  try {
    for (const [near, far] of [
      ['a', sender],
      ['b', receiver],
    ] as const) {
      if (route.findLink(near) !== undefined) continue;
      route.createVxcanPair({ name: near, mtu, peer: { name: 'can0', netns: { label: far, path: far }, mtu } });
      route.setLinkUp(near, true);
      const there = buses.route({ label: far, path: far });
      there.setLinkUp('can0', true);
      there.close();
    }
    route.flushRules();
    const [a, b] = [route.findLink('a')?.index ?? 0, route.findLink('b')?.index ?? 0];
    // As one would make it by hand (cangw -A -s a -d b -i): the plainest rule that works. Without -i the kernel
    // drops frames whose ifindex in the sender's namespace happens to equal b's here.
    route.addRule({ sourceIndex: a, destinationIndex: b, allowToIncomingInterface: true, ...(fd ? { fd: true } : {}) });
  } finally {
    route.close();
  }
  return {
    sender,
    receiver,
    remove: () => {
      buses.namespaces.delete(gw);
    },
  };
}

export async function measureDataPlane(
  sizes: readonly number[],
  frames: number,
  rounds: number,
  log: (line: string) => void,
): Promise<DataPlaneResult[]> {
  const results: DataPlaneResult[] = [];
  for (const fd of [false, true]) {
    for (const members of sizes) {
      const list: Member[] = Array.from({ length: members }, (_, i) => ({
        id: `dp${members}${fd ? 'f' : 'c'}-${i}`,
        end: { name: 'can0', netns: namespace(`e${members}${fd ? 'f' : 'c'}${i}`), up: true },
      }));
      const bus: Bus = { id: `dp${members}${fd ? 'fd' : ''}`, name: `dp${members}`, fd, members: list };
      reconciler.apply(bus);
      const [sender, receiver] = [list[0]?.end.netns ?? '', list[1]?.end.netns ?? ''];
      const ours: PathFigures[] = [];
      const baseline: PathFigures[] = [];
      const hand = handMade(fd);
      for (let round = 0; round < rounds; round++) {
        baseline.push(await figures(hand.sender, hand.receiver, fd, frames));
        ours.push(await figures(sender, receiver, fd, frames));
      }
      hand.remove();
      const seen = reconciler.observe(bus.id);
      const sentOnBus = rounds * (frames + 1000);
      const perFrame = {
        forwarded: (seen?.rules ?? []).reduce((sum, rule) => sum + rule.counters.handled, 0) / sentOnBus,
        deleted: (seen?.rules ?? []).reduce((sum, rule) => sum + rule.counters.deleted, 0) / sentOnBus,
      };
      reconciler.remove(bus.id);
      const pick = (all: PathFigures[]): PathFigures => {
        const fps = median(all.map((f) => f.fps));
        const chosen = all.find((f) => f.fps === fps) ?? all[0];
        if (chosen === undefined) throw new Error('no rounds');
        return {
          ...chosen,
          lost: all.reduce((sum, f) => sum + f.lost, 0),
          duplicates: all.reduce((sum, f) => sum + f.duplicates, 0),
          outOfOrder: all.reduce((sum, f) => sum + f.outOfOrder, 0),
          sent: all.reduce((sum, f) => sum + f.sent, 0),
          received: all.reduce((sum, f) => sum + f.received, 0),
        };
      };
      const result: DataPlaneResult = { members, fd, perFrame, ours: pick(ours), baseline: pick(baseline) };
      log(
        `data plane ${fd ? 'FD' : 'classic'} ${members} members: ${result.ours.fps.toFixed(0)} fps vs ${result.baseline.fps.toFixed(0)} (${((100 * result.ours.fps) / result.baseline.fps).toFixed(0)}%), lost ${result.ours.lost}/${result.ours.sent} (baseline ${result.baseline.lost}), duplicates ${result.ours.duplicates}, out of order ${result.ours.outOfOrder}; latency p50 ${result.ours.latencyUs.p50.toFixed(0)} us p99 ${result.ours.latencyUs.p99.toFixed(0)} us (baseline ${result.baseline.latencyUs.p50.toFixed(0)}/${result.baseline.latencyUs.p99.toFixed(0)})`,
      );
      results.push(result);
    }
  }
  return results;
}
