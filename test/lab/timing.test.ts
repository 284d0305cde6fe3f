// Timed buses on the real kernel, against a running daemon: members are network namespaces attached over the control
// socket (as the CNI and netavark plugins attach them). Measured and asserted:
//   - the rate of a flood against the bit formula, at 125k, 500k and 1M with 8-byte standard frames, and rows for
//     extended ids, short frames and FD frames: the time between the first and the last frame received against the
//     sum of the frame times of those frames (the bus is saturated, so they crossed back to back);
//   - exactly once and in order per sender: every frame sent is received once, in order, or counted as bus-full;
//   - arbitration: two members flooding 0x100 and 0x200 together, and a third sending 0x050 at 10% load.
// Every figure is printed as a diagnostic line ("timing: ...") for BENCHMARKS.md.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { classicFrame, fdFrame, type CanFrame } from '../../src/can/frame.js';
import { frameTimeUs } from '../../src/can/bit-length.js';
import { callDaemon } from '../../src/control/client.js';
import { nowUs, systemKernel, type CanSocketPort } from '../../src/kernel/index.js';
import { sh, startCantainerDaemon, type RunningDaemon } from '../support/lab.js';

const DIR = '/run/cantainer-timing';
const CONTROL = `${DIR}/control.sock`;
const NAMESPACES = ['tm-a', 'tm-b', 'tm-c', 'tm-d'] as const;
const kernel = systemKernel();

/** A small deterministic generator, so that a run can be repeated frame for frame. */
function generator(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

interface Heard {
  readonly frames: CanFrame[];
  readonly timesUs: number[];
}

/** Everything a socket receives from now on, with the kernel's receive times. */
function listenAll(socket: CanSocketPort): Heard {
  const heard: Heard = { frames: [], timesUs: [] };
  socket.listen(
    (frames, times) => {
      heard.frames.push(...frames);
      heard.timesUs.push(...times);
    },
    (error) => {
      throw error;
    },
  );
  return heard;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface TimingView {
  readonly frames?: number;
  readonly waiting?: number;
  readonly load?: number;
  readonly dropped?: Readonly<Record<string, number>>;
}

async function timingOf(bus: string): Promise<TimingView> {
  const detail = await callDaemon(CONTROL, 'Bus.Inspect', { bus });
  assert.ok(detail.timing, `bus ${bus} is timed`);
  return detail.timing;
}

/** Waits until the bus has nothing waiting and nothing more arrives for half a second. */
async function drained(bus: string, heard: Heard): Promise<void> {
  const deadline = Date.now() + 120_000;
  let count = -1;
  while (Date.now() < deadline) {
    const waiting = (await timingOf(bus)).waiting ?? 0;
    if (waiting === 0 && heard.frames.length === count) return;
    count = heard.frames.length;
    await sleep(500);
  }
  throw new Error(`bus ${bus} still had frames waiting after 120 s`);
}

describe('timed buses on the real kernel', () => {
  let daemon: RunningDaemon;
  const sockets: CanSocketPort[] = [];
  const buses: string[] = [];
  const open = (ns: string, options: { fd?: boolean; timestamps?: boolean } = {}): CanSocketPort => {
    const socket = kernel.canSocket('can0', {
      netns: { label: ns, path: `/run/netns/${ns}` },
      receiveBufferBytes: 16 * 1024 * 1024,
      ...options,
    });
    sockets.push(socket);
    return socket;
  };
  /** A timed bus with every namespace on it (the interface can0 in each). */
  const timedBus = async (bus: string, timing: { bitrate: number; dbitrate?: number }, fd = false): Promise<void> => {
    for (const ns of NAMESPACES)
      await callDaemon(CONTROL, 'Member.Attach', {
        bus,
        netns: `/run/netns/${ns}`,
        member: `${bus}-${ns}`,
        interface: 'can0',
        create: true,
        fd,
        ...timing,
      });
    buses.push(bus);
  };
  const leave = async (bus: string): Promise<void> => {
    for (const socket of sockets.splice(0)) socket.close();
    for (const ns of NAMESPACES) await callDaemon(CONTROL, 'Member.Detach', { bus, member: `${bus}-${ns}` });
    buses.splice(buses.indexOf(bus), 1);
  };

  before(async () => {
    sh(`mkdir -p ${DIR} && modprobe -a vcan vxcan can-gw && for n in ${NAMESPACES.join(' ')}; do ip netns add $n; done`);
    daemon = await startCantainerDaemon(
      ['--state-dir', `${DIR}/state`, '--control-socket', CONTROL, '--netns-dir', `${DIR}/netns`, '--socket', `${DIR}/plugin.sock`],
      `${DIR}/daemon.log`,
    );
  });

  after(async () => {
    for (const socket of sockets) socket.close();
    for (const bus of [...buses]) await leave(bus).catch(() => undefined);
    await daemon.stop();
    sh(`for n in ${NAMESPACES.join(' ')}; do ip netns del $n; done; true`);
  });

  /**
   * Floods the bus from tm-a at about 1.5 times what it carries for `seconds`, numbering the frames, and measures
   * what tm-b receives. Returns the measured rate against the formula's.
   */
  const flood = async (
    bus: string,
    bitrate: number,
    make: (random: () => number) => CanFrame,
    options: { dbitrate?: number; fd?: boolean; seconds?: number; label: string },
  ): Promise<void> => {
    await timedBus(bus, { bitrate, ...(options.dbitrate === undefined ? {} : { dbitrate: options.dbitrate }) }, options.fd ?? false);
    const sender = open('tm-a', { fd: options.fd ?? false });
    const heard = listenAll(open('tm-b', { fd: options.fd ?? false, timestamps: true }));
    const random = generator(bitrate);
    const sample = make(generator(1));
    const capacity = 1e6 / frameTimeUs(sample, bitrate, options.dbitrate);
    const sent: CanFrame[] = [];
    const seconds = options.seconds ?? 3;
    const startedUs = nowUs();
    // 1.5 times what the bus carries, however late the timer wakes: always more than the bus takes, in batches the
    // sender's queue in the arbiter absorbs between two turns.
    for (let elapsedUs = 0; elapsedUs < seconds * 1e6; elapsedUs = nowUs() - startedUs) {
      const due = Math.min(Math.ceil((capacity * 1.5 * elapsedUs) / 1e6) - sent.length, 1000);
      if (due > 0) {
        const batch = Array.from({ length: due }, (_, i) => withSequence(make(random), sent.length + i));
        const taken = sender.sendBatch(batch);
        assert.equal(taken, batch.length, 'the sender never sees the bus full: its frames wait in the arbiter or are counted');
        sent.push(...batch);
      }
      await sleep(5);
    }
    await drained(bus, heard);
    const timing = await timingOf(bus);
    // Exactly once and in order: the sequence numbers received only ever rise, and what is missing was counted.
    const sequences = heard.frames.map(sequenceOf);
    for (let i = 1; i < sequences.length; i++) assert.ok(sequences[i]! > sequences[i - 1]!, `frame ${i} came out of order or twice`);
    const dropped = timing.dropped?.['bus-full'] ?? 0;
    assert.equal(heard.frames.length + dropped, sent.length, `${heard.frames.length} received + ${dropped} bus-full = ${sent.length} sent`);
    assert.equal(timing.dropped?.unwired ?? 0, 0);
    // The rate while saturated: from the frame received 0.5 s in to the last one sent before the sender stopped.
    const from = heard.timesUs.findIndex((time) => time >= startedUs + 500_000);
    const to = heard.timesUs.findLastIndex((time) => time <= startedUs + seconds * 1e6);
    assert.ok(from >= 0 && to > from + 100, `${to - from} frames in the window`);
    const measuredUs = heard.timesUs[to]! - heard.timesUs[from]!;
    const formulaUs = heard.frames.slice(from + 1, to + 1).reduce((sum, frame) => sum + frameTimeUs(frame, bitrate, options.dbitrate), 0);
    const rate = (to - from) / (measuredUs / 1e6);
    const expected = (to - from) / (formulaUs / 1e6);
    const bits = (formulaUs / (to - from)) * (bitrate / 1e6);
    console.log(
      `timing: ${options.label} at ${bitrate / 1000}k${options.dbitrate === undefined ? '' : `/${options.dbitrate / 1000}k`}: ` +
        `${rate.toFixed(0)} frames/s measured, ${expected.toFixed(0)} by the formula (${bits.toFixed(1)} bits a frame), ` +
        `ratio ${(rate / expected).toFixed(4)}; sent ${sent.length}, received ${heard.frames.length}, bus-full ${dropped}`,
    );
    assert.ok(Math.abs(rate / expected - 1) <= 0.05, `${rate.toFixed(0)} frames/s against ${expected.toFixed(0)}`);
    await leave(bus);
  };

  for (const bitrate of [125_000, 500_000, 1_000_000])
    it(`carries a flood of 8-byte standard frames at ${bitrate / 1000} kbit/s within 5% of the formula, each frame once and in order`, async () => {
      await flood(`t8-${bitrate}`, bitrate, (random) => eightBytes(0x123, random), { label: '8-byte standard' });
    });

  it('carries extended ids, short frames and FD frames within 5% of the formula', async () => {
    await flood('text-500', 500_000, (random) => classicFrame({ id: 0x18fe_f100, extended: true, data: bytes(8, random) }), {
      label: '8-byte extended',
    });
    await flood('tshort-125', 125_000, (random) => classicFrame({ id: 0x2a0, data: bytes(2, random) }), { label: '2-byte standard' });
    await flood('tfd-500', 500_000, (random) => fdFrame({ id: 0x0c8, brs: true, data: bytes(64, random) }), {
      label: '64-byte FD with BRS',
      dbitrate: 2_000_000,
      fd: true,
    });
  });

  it('lets the lowest id win: 0x100 takes the bus from 0x200, and 0x050 at 10% load loses nothing and waits about two frame times', async () => {
    const bitrate = 125_000;
    await timedBus('tarb', { bitrate });
    const [a, b, c] = [open('tm-a'), open('tm-b'), open('tm-c')];
    const heard = listenAll(open('tm-d', { timestamps: true }));
    const random = generator(7);
    const frameUs = frameTimeUs(eightBytes(0x100, generator(1)), bitrate);
    const sentAt = new Map<number, number>();
    const startedUs = nowUs();
    let sparse = 0;
    let nextSparseUs = startedUs;
    let flooded = 0;
    while (nowUs() - startedUs < 4e6) {
      // Each flooder at the bus's whole rate: together twice what it carries.
      const due = Math.min(Math.ceil((nowUs() - startedUs) / frameUs) - flooded, 500);
      if (due > 0) {
        a.sendBatch(Array.from({ length: due }, () => eightBytes(0x100, random)));
        b.sendBatch(Array.from({ length: due }, () => eightBytes(0x200, random)));
        flooded += due;
      }
      // 0x050 at 10% of the bus: one frame every 10 frame times.
      while (nowUs() >= nextSparseUs) {
        const frame = withSequence(eightBytes(0x050, random), sparse);
        sentAt.set(sparse, nowUs());
        c.send(frame);
        sparse += 1;
        nextSparseUs += 10 * frameUs;
      }
      await sleep(2);
    }
    await drained('tarb', heard);
    const crossed = heard.frames.map((frame, i) => ({ frame, timeUs: heard.timesUs[i]! }));
    const window = crossed.filter(({ timeUs }) => timeUs >= startedUs + 500_000 && timeUs <= startedUs + 4e6);
    const floods = window.filter(({ frame }) => frame.id !== 0x050);
    const share = floods.filter(({ frame }) => frame.id === 0x100).length / floods.length;
    const sparseHeard = crossed.filter(({ frame }) => frame.id === 0x050);
    const waits = sparseHeard.map(({ frame, timeUs }) => timeUs - (sentAt.get(sequenceOf(frame)) ?? timeUs)).sort((x, y) => x - y);
    const at = (q: number): number => waits[Math.min(waits.length - 1, Math.floor(q * waits.length))] ?? NaN;
    console.log(
      `timing: arbitration at 125k: 0x100 share ${(share * 100).toFixed(1)}% of ${floods.length} flood frames; ` +
        `0x050: ${sparseHeard.length}/${sparse} received, latency p50 ${(at(0.5) / 1000).toFixed(2)} ms, p99 ${(at(0.99) / 1000).toFixed(2)} ms, ` +
        `max ${((waits.at(-1) ?? NaN) / 1000).toFixed(2)} ms (a frame takes ${(frameUs / 1000).toFixed(2)} ms)`,
    );
    assert.ok(share >= 0.95, `0x100 took ${(share * 100).toFixed(1)}% of the bus`);
    assert.deepEqual(
      sparseHeard.map(({ frame }) => sequenceOf(frame)),
      Array.from({ length: sparse }, (_, i) => i),
      '0x050 lost nothing, in order',
    );
    // Two frame times (the frame on the wire, then its own) plus the daemon's timer step and the emulator's noise.
    assert.ok(at(0.99) <= 2 * frameUs + 10_000, `0x050 waited ${(at(0.99) / 1000).toFixed(2)} ms at p99`);
    await leave('tarb');
  });
});

function bytes(length: number, random: () => number): Uint8Array {
  return Uint8Array.from({ length }, () => Math.floor(random() * 256));
}

function eightBytes(id: number, random: () => number): CanFrame {
  return classicFrame({ id, data: bytes(8, random) });
}

/** The frame with a sequence number in its first two bytes (the rest stays as generated). */
function withSequence(frame: CanFrame, sequence: number): CanFrame {
  const data = Uint8Array.from(frame.data);
  data[0] = (sequence >> 8) & 0xff;
  data[1] = sequence & 0xff;
  return { ...frame, data };
}

/** The sequence number of a frame (a flood here stays under 65536 frames). */
function sequenceOf(frame: CanFrame): number {
  return ((frame.data[0] ?? 0) << 8) | (frame.data[1] ?? 0);
}
