// A timed bus as the wire carries it, as a discrete-event simulation over times the caller passes in (so tests drive
// it exactly and the daemon drives it with the kernel's receive times).
//
// Every sender has its own queue, in the order it sent: a controller sends its frames in order, so only each
// queue's first frame competes. When the bus is free, the waiting first frames arbitrate: the lowest arbitration
// field wins, as dominant bits do on the wire (exact per-id arbitration, not id classes). The winner holds the bus
// for its frame time (bits with the stuff bits its content makes and the interframe space, at the nominal and data
// bit rates); the next arbitration starts when it ends, among the frames that had arrived by then. A frame is
// released when its last bit is on the wire, never before. A sender whose queue is full loses the frames it sends
// then (tail drop, as a full transmit queue refuses them), and they are counted.
import { frameTimeUs } from '../can/bit-length.js';
import type { CanFrame } from '../can/frame.js';

export interface ArbiterSettings {
  /** Nominal bit rate, bit/s; none: frames take no bus time (an untimed bus whose frames the daemon loses or delays). */
  readonly bitrate?: number;
  /** Data-phase bit rate of FD frames with BRS, bit/s (default: the nominal rate). */
  readonly dbitrate?: number;
  /** Frames one sender may have waiting; more are dropped. */
  readonly queueLimit: number;
}

/** A frame that crossed the bus. */
export interface Release {
  /** The sender's index, as given to offer(). */
  readonly source: number;
  readonly frame: CanFrame;
  readonly arrivalUs: number;
  /** When it won arbitration and its first bit went out. */
  readonly startUs: number;
  /** When its last bit (interframe space included) was on the wire: when receivers have it. */
  readonly endUs: number;
}

interface Waiting {
  readonly frame: CanFrame;
  readonly arrivalUs: number;
  readonly key: number;
}

/** One sender's frames in order; `head` indexes the first still waiting (the array is compacted now and then). */
interface SenderQueue {
  items: Waiting[];
  head: number;
}

/**
 * The arbitration field as one number, lower winning, bit for bit as on the wire: the 11-bit base id, then RTR (a
 * standard frame) or SRR (recessive, an extended frame), then IDE, then an extended frame's 18 more id bits and its
 * RTR. So a standard frame beats an extended one with the same base id, and a data frame beats a remote one. FD
 * frames have no RTR: their RRS bit is dominant, as a data frame's. An error frame is the kernel's report, sent by
 * nobody: it goes first and takes no bus time.
 */
export function arbitrationKey(frame: CanFrame): number {
  if (frame.error) return -1;
  const rtr = frame.kind === 'classic' && frame.rtr ? 1 : 0;
  if (!frame.extended) return frame.id * 2 ** 21 + rtr * 2 ** 20;
  const base = Math.floor(frame.id / 2 ** 18);
  const low = frame.id % 2 ** 18;
  return base * 2 ** 21 + 2 ** 20 + 2 ** 19 + low * 2 + rtr;
}

export class Arbiter {
  readonly #bitrate: number | undefined;
  readonly #dbitrate: number | undefined;
  readonly #queueLimit: number;
  readonly #queues = new Map<number, SenderQueue>();
  /** The frame holding the bus: arbitration is done, it ends at `endUs`. */
  #onWire: Release | undefined;
  /** When the bus was last free (the end of the last frame). */
  #freeAtUs = -Infinity;
  #waiting = 0;
  /** Bus time used so far by frames that ended, microseconds. */
  #busyUs = 0;

  constructor(settings: ArbiterSettings) {
    this.#bitrate = settings.bitrate;
    this.#dbitrate = settings.dbitrate ?? settings.bitrate;
    this.#queueLimit = settings.queueLimit;
  }

  /** Frames waiting for the bus, all senders together (the one on the wire not counted). */
  get waiting(): number {
    return this.#waiting;
  }

  /** Bus time taken by the frames released so far, microseconds. */
  get busyUs(): number {
    return this.#busyUs;
  }

  /** How long a frame holds this bus, microseconds. */
  frameTimeUs(frame: CanFrame): number {
    return frame.error || this.#bitrate === undefined ? 0 : frameTimeUs(frame, this.#bitrate, this.#dbitrate);
  }

  /** A frame from `source`, arrived at `arrivalUs`: queued (true) or dropped because its queue is full (false). */
  offer(source: number, frame: CanFrame, arrivalUs: number): boolean {
    let queue = this.#queues.get(source);
    if (queue === undefined) {
      queue = { items: [], head: 0 };
      this.#queues.set(source, queue);
    }
    if (queue.items.length - queue.head >= this.#queueLimit) return false;
    // Arrivals of one sender never go back in time: a late stamp joins at its predecessor's time.
    const last = queue.items[queue.items.length - 1];
    const at = last !== undefined && queue.items.length > queue.head && last.arrivalUs > arrivalUs ? last.arrivalUs : arrivalUs;
    queue.items.push({ frame, arrivalUs: at, key: arbitrationKey(frame) });
    this.#waiting += 1;
    return true;
  }

  /** Drops whatever `source` has waiting (it left the bus); returns how many. */
  forget(source: number): number {
    const queue = this.#queues.get(source);
    this.#queues.delete(source);
    const count = queue === undefined ? 0 : queue.items.length - queue.head;
    this.#waiting -= count;
    return count;
  }

  /**
   * Runs the bus up to `nowUs` and returns the frames whose last bit went out by then, in the order they crossed.
   * Arbitration is decided only for slots that begin by `nowUs`, so a frame that arrives later still competes for
   * every slot after its arrival.
   */
  run(nowUs: number): Release[] {
    const released: Release[] = [];
    for (;;) {
      const wire = this.#onWire;
      if (wire !== undefined) {
        if (wire.endUs > nowUs) break;
        released.push(wire);
        this.#busyUs += wire.endUs - wire.startUs;
        this.#freeAtUs = wire.endUs;
        this.#onWire = undefined;
      }
      const next = this.#arbitrate(nowUs);
      if (next === undefined) break;
      this.#onWire = next;
    }
    return released;
  }

  /** When the frame on the wire ends, or (bus idle) when the first waiting frame would: for the caller's timer. */
  nextEventUs(): number | undefined {
    if (this.#onWire !== undefined) return this.#onWire.endUs;
    let earliest: number | undefined;
    for (const queue of this.#queues.values()) {
      const head = queue.items[queue.head];
      if (head !== undefined && (earliest === undefined || head.arrivalUs < earliest)) earliest = head.arrivalUs;
    }
    return earliest === undefined ? undefined : Math.max(earliest, this.#freeAtUs);
  }

  /** The winner of the slot that begins once the bus is free and a frame waits, if that is by `nowUs`. */
  #arbitrate(nowUs: number): Release | undefined {
    let earliest = Infinity;
    for (const queue of this.#queues.values()) {
      const head = queue.items[queue.head];
      if (head !== undefined && head.arrivalUs < earliest) earliest = head.arrivalUs;
    }
    if (earliest === Infinity) return undefined;
    const startUs = Math.max(earliest, this.#freeAtUs);
    if (startUs > nowUs) return undefined;
    let winner: { source: number; queue: SenderQueue; item: Waiting } | undefined;
    for (const [source, queue] of this.#queues) {
      const item = queue.items[queue.head];
      if (item === undefined || item.arrivalUs > startUs) continue;
      // Equal fields from two senders would collide on a real bus; here the one that arrived first goes.
      if (winner === undefined || item.key < winner.item.key || (item.key === winner.item.key && item.arrivalUs < winner.item.arrivalUs))
        winner = { source, queue, item };
    }
    if (winner === undefined) return undefined;
    const { source, queue, item } = winner;
    queue.head += 1;
    this.#waiting -= 1;
    if (queue.head === queue.items.length) {
      queue.items = [];
      queue.head = 0;
    } else if (queue.head >= 1024 && queue.head * 2 >= queue.items.length) {
      queue.items = queue.items.slice(queue.head);
      queue.head = 0;
    }
    return { source, frame: item.frame, arrivalUs: item.arrivalUs, startUs, endUs: startUs + this.frameTimeUs(item.frame) };
  }
}
