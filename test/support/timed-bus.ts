// Measurements of timed buses on the real kernel, shared by the lab test (which asserts on them) and `npm run bench`
// (which reports them): members are network namespaces attached over a running daemon's control socket.
//   - flood: one member floods at 1.2 times what the bus carries, another receives; the time between the first and
//     the last frame received while the bus was saturated, against the sum of those frames' times by the formula;
//     every frame sent is received once and in order, or counted bus-full;
//   - arbitration: two members flood 0x100 and 0x200, a third sends 0x050 at 10% load.
import { classicFrame, type CanFrame } from '../../src/can/frame.js';
import { frameTimeUs } from '../../src/can/bit-length.js';
import { callDaemon } from '../../src/control/client.js';
import type { TimingSummary } from '../../src/control/protocol.js';
import { nowUs, systemKernel, type CanSocketPort } from '../../src/kernel/index.js';

const kernel = systemKernel();

/** A small deterministic generator, so that a run can be repeated frame for frame. */
export function generator(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

export function bytes(length: number, random: () => number): Uint8Array {
  return Uint8Array.from({ length }, () => Math.floor(random() * 256));
}

export function eightBytes(id: number, random: () => number): CanFrame {
  return classicFrame({ id, data: bytes(8, random) });
}

/** The frame with a sequence number in its first two bytes (a run here stays under 65536 frames). */
export function withSequence(frame: CanFrame, sequence: number): CanFrame {
  const data = Uint8Array.from(frame.data);
  data[0] = (sequence >> 8) & 0xff;
  data[1] = sequence & 0xff;
  return { ...frame, data };
}

export function sequenceOf(frame: CanFrame): number {
  return ((frame.data[0] ?? 0) << 8) | (frame.data[1] ?? 0);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Heard {
  readonly frames: CanFrame[];
  readonly timesUs: number[];
}

/** The namespaces and daemon a measurement runs against. */
export interface TimedLab {
  readonly control: string;
  /** Namespace names under /run/netns, at least four; each member's interface is can0. */
  readonly namespaces: readonly string[];
}

export interface Timing {
  readonly bitrate?: number;
  readonly dbitrate?: number;
}

/** A bus (timed when `timing` says so) with every namespace of the lab on it; returns a function that takes them off again. */
export async function timedBus(lab: TimedLab, bus: string, timing: Timing, fd = false): Promise<() => Promise<void>> {
  for (const ns of lab.namespaces)
    await callDaemon(lab.control, 'Member.Attach', {
      bus,
      netns: `/run/netns/${ns}`,
      member: `${bus}-${ns}`,
      interface: 'can0',
      create: true,
      fd,
      ...timing,
    });
  return async () => {
    for (const ns of lab.namespaces) await callDaemon(lab.control, 'Member.Detach', { bus, member: `${bus}-${ns}` });
  };
}

export function memberSocket(
  ns: string,
  options: { fd?: boolean; timestamps?: boolean; receiveOwnMessages?: boolean } = {},
): CanSocketPort {
  return kernel.canSocket('can0', { netns: { label: ns, path: `/run/netns/${ns}` }, receiveBufferBytes: 16 * 1024 * 1024, ...options });
}

export async function timingOf(control: string, bus: string): Promise<TimingSummary> {
  const detail = await callDaemon(control, 'Bus.Inspect', { bus });
  if (detail.timing === undefined) throw new Error(`bus ${bus} is not timed`);
  return detail.timing;
}

/** Everything a socket receives from now on, with the kernel's receive times. */
function listenAll(socket: CanSocketPort): Heard {
  const heard: Heard = { frames: [], timesUs: [] };
  socket.listen(
    (frames, times) => {
      heard.frames.push(...frames);
      heard.timesUs.push(...times);
    },
    () => undefined,
  );
  return heard;
}

/** Waits until the bus has nothing waiting and nothing more arrives for half a second. */
async function drained(control: string, bus: string, heard: Heard): Promise<void> {
  const deadline = Date.now() + 120_000;
  let count = -1;
  while (Date.now() < deadline) {
    const waiting = (await timingOf(control, bus)).waiting ?? 0;
    if (waiting === 0 && heard.frames.length === count) return;
    count = heard.frames.length;
    await sleep(500);
  }
  throw new Error(`bus ${bus} still had frames waiting after 120 s`);
}

export interface FloodResult {
  readonly label: string;
  readonly bitrate: number;
  readonly dbitrate?: number;
  /** Frames per second received while the bus was saturated. */
  readonly measuredFps: number;
  /** What the formula gives for the same frames. */
  readonly formulaFps: number;
  /** Mean bits of a frame received, by the formula. */
  readonly bitsPerFrame: number;
  readonly sent: number;
  readonly received: number;
  readonly busFull: number;
  readonly unwired: number;
  /** Every sequence number received was higher than the one before: no duplicate, no reordering. */
  readonly inOrder: boolean;
  /** Whether the sender's every write was taken. */
  readonly writesTaken: boolean;
}

/** Floods a new timed bus from the lab's first namespace and measures what its second receives. */
export async function flood(
  lab: TimedLab,
  options: {
    readonly bus: string;
    readonly label: string;
    readonly timing: Timing & { readonly bitrate: number };
    readonly make: (random: () => number) => CanFrame;
    readonly fd?: boolean;
    readonly seconds?: number;
  },
): Promise<FloodResult> {
  const { bitrate, dbitrate } = options.timing;
  const fd = options.fd ?? false;
  const leave = await timedBus(lab, options.bus, options.timing, fd);
  const [senderNs = '', receiverNs = ''] = lab.namespaces;
  const sender = memberSocket(senderNs, { fd });
  const receiver = memberSocket(receiverNs, { fd, timestamps: true });
  try {
    const heard = listenAll(receiver);
    const random = generator(bitrate);
    const capacity = 1e6 / frameTimeUs(options.make(generator(1)), bitrate, dbitrate);
    const seconds = options.seconds ?? 3;
    let sent = 0;
    let writesTaken = true;
    const startedUs = nowUs();
    // 1.2 times what the bus carries, however late the timer wakes: always more than the bus takes, in batches its
    // sender's queue in the arbiter absorbs between two turns.
    for (let elapsedUs = 0; elapsedUs < seconds * 1e6; elapsedUs = nowUs() - startedUs) {
      const due = Math.min(Math.ceil((capacity * 1.2 * elapsedUs) / 1e6) - sent, 1000);
      if (due > 0) {
        const batch = Array.from({ length: due }, (_, i) => withSequence(options.make(random), sent + i));
        const taken = sender.sendBatch(batch);
        if (taken !== batch.length) writesTaken = false;
        sent += taken;
      }
      await sleep(5);
    }
    await drained(lab.control, options.bus, heard);
    const timing = await timingOf(lab.control, options.bus);
    const sequences = heard.frames.map(sequenceOf);
    const inOrder = sequences.every((sequence, i) => i === 0 || sequence > (sequences[i - 1] ?? -1));
    // While saturated: from the frame received 0.5 s in to the last one received before the sender stopped.
    const from = heard.timesUs.findIndex((time) => time >= startedUs + 500_000);
    const to = heard.timesUs.findLastIndex((time) => time <= startedUs + seconds * 1e6);
    const frames = heard.frames.slice(from + 1, to + 1);
    const measuredUs = (heard.timesUs[to] ?? 0) - (heard.timesUs[from] ?? 0);
    const formulaUs = frames.reduce((sum, frame) => sum + frameTimeUs(frame, bitrate, dbitrate), 0);
    return {
      label: options.label,
      bitrate,
      ...(dbitrate === undefined ? {} : { dbitrate }),
      measuredFps: frames.length / (measuredUs / 1e6),
      formulaFps: frames.length / (formulaUs / 1e6),
      bitsPerFrame: (formulaUs / Math.max(1, frames.length)) * (bitrate / 1e6),
      sent,
      received: heard.frames.length,
      busFull: timing.dropped?.['bus-full'] ?? 0,
      unwired: timing.dropped?.unwired ?? 0,
      inOrder,
      writesTaken,
    };
  } finally {
    sender.close();
    receiver.close();
    await leave();
  }
}

export function floodLine(r: FloodResult): string {
  return (
    `${r.label} at ${r.bitrate / 1000}k${r.dbitrate === undefined ? '' : `/${r.dbitrate / 1000}k`}: ${r.measuredFps.toFixed(0)} frames/s measured, ` +
    `${r.formulaFps.toFixed(0)} by the formula (${r.bitsPerFrame.toFixed(1)} bits a frame), ratio ${(r.measuredFps / r.formulaFps).toFixed(4)}; ` +
    `sent ${r.sent}, received ${r.received}, bus-full ${r.busFull}, unwired ${r.unwired}, in order ${String(r.inOrder)}`
  );
}

export interface ArbitrationResult {
  readonly bitrate: number;
  /** A frame's time on the bus, µs. */
  readonly frameUs: number;
  /** Of the flood frames that crossed while both floods ran, the share that was 0x100. */
  readonly share: number;
  readonly floodFrames: number;
  readonly sparseSent: number;
  /** The sequence numbers of the 0x050 frames received, in the order received. */
  readonly sparseReceived: readonly number[];
  /** From the send to the receive of each 0x050 frame, µs: p50, p99, max. */
  readonly waitUs: { readonly p50: number; readonly p99: number; readonly max: number };
}

/** 0x100 and 0x200 flood together at the bus's whole rate each; 0x050 goes every 10 frame times; the fourth member listens. */
export async function arbitration(lab: TimedLab, bus: string, bitrate: number, seconds = 4): Promise<ArbitrationResult> {
  const leave = await timedBus(lab, bus, { bitrate });
  const [aNs = '', bNs = '', cNs = '', dNs = ''] = lab.namespaces;
  const [a, b, c, d] = [memberSocket(aNs), memberSocket(bNs), memberSocket(cNs), memberSocket(dNs, { timestamps: true })];
  try {
    const heard = listenAll(d);
    const random = generator(7);
    const frameUs = frameTimeUs(eightBytes(0x100, generator(1)), bitrate);
    const sentAt: number[] = [];
    const startedUs = nowUs();
    let flooded = 0;
    let nextSparseUs = startedUs;
    while (nowUs() - startedUs < seconds * 1e6) {
      const due = Math.min(Math.ceil((nowUs() - startedUs) / frameUs) - flooded, 500);
      if (due > 0) {
        a.sendBatch(Array.from({ length: due }, () => eightBytes(0x100, random)));
        b.sendBatch(Array.from({ length: due }, () => eightBytes(0x200, random)));
        flooded += due;
      }
      while (nowUs() >= nextSparseUs) {
        sentAt.push(nowUs());
        c.send(withSequence(eightBytes(0x050, random), sentAt.length - 1));
        nextSparseUs += 10 * frameUs;
      }
      await sleep(2);
    }
    await drained(lab.control, bus, heard);
    const crossed = heard.frames.map((frame, i) => ({ frame, timeUs: heard.timesUs[i] ?? 0 }));
    const floods = crossed.filter(
      ({ frame, timeUs }) => frame.id !== 0x050 && timeUs >= startedUs + 500_000 && timeUs <= startedUs + seconds * 1e6,
    );
    const sparse = crossed.filter(({ frame }) => frame.id === 0x050);
    const waits = sparse.map(({ frame, timeUs }) => timeUs - (sentAt[sequenceOf(frame)] ?? timeUs)).sort((x, y) => x - y);
    const at = (q: number): number => waits[Math.min(waits.length - 1, Math.floor(q * waits.length))] ?? Number.NaN;
    return {
      bitrate,
      frameUs,
      share: floods.filter(({ frame }) => frame.id === 0x100).length / Math.max(1, floods.length),
      floodFrames: floods.length,
      sparseSent: sentAt.length,
      sparseReceived: sparse.map(({ frame }) => sequenceOf(frame)),
      waitUs: { p50: at(0.5), p99: at(0.99), max: waits.at(-1) ?? Number.NaN },
    };
  } finally {
    for (const socket of [a, b, c, d]) socket.close();
    await leave();
  }
}

export function arbitrationLine(r: ArbitrationResult): string {
  const ms = (us: number): string => (us / 1000).toFixed(2);
  return (
    `arbitration at ${r.bitrate / 1000}k: 0x100 share ${(r.share * 100).toFixed(1)}% of ${r.floodFrames} flood frames; ` +
    `0x050: ${r.sparseReceived.length}/${r.sparseSent} received, wait p50 ${ms(r.waitUs.p50)} ms, p99 ${ms(r.waitUs.p99)} ms, ` +
    `max ${ms(r.waitUs.max)} ms (a frame takes ${ms(r.frameUs)} ms)`
  );
}
