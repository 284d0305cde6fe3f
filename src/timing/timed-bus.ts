// The traffic of one timed bus: a socket on every sender's end takes its frames, with the kernel's receive times, to
// the arbiter; when a frame's last bit is on the simulated wire, a socket on that sender's release vcan puts it on
// the bus, once, and the bus's rules take it to everyone else. Frames wait only here: a frame the arbiter refused (its
// sender's queue was full) is counted, never sent later.
import type { CanFrame } from '../can/frame.js';
import type { TimedSender, TimingPlan } from '../bus/plan.js';
import { nowUs } from '../kernel/clock.js';
import type { CanSocketPort, KernelPort, NetnsTarget } from '../kernel/port.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { Arbiter, type Release } from './arbiter.js';
import { LoadWindow } from './load.js';
import { DelayLine } from './delay.js';

/** Frames one sender may have waiting for the bus: an ISO-TP message of 4095 bytes (586 frames) fits, with room. */
export const SENDER_QUEUE_FRAMES = 2048;
/**
 * Room in the kernel for a sender's frames not read yet (the kernel counts about 1 KiB per frame): a flood far above
 * the bus rate must reach the arbiter, to be counted when it refuses it, rather than be lost unseen in the socket.
 */
const READER_BUFFER_BYTES = 8 * 1024 * 1024;
/**
 * How early a frame held by a delay fault may go, at least: timers fire late (a millisecond or so, more on a busy
 * or emulated machine), so waking at the due time would make every delay that much longer. The bus goes early by
 * what its timers were late of late (see #lateUs), at least this much: the delays centre on what was asked.
 */
const DELAY_EARLY_US = 1000;
/** The most a held frame goes early, whatever the timers do. */
const DELAY_EARLY_MAX_US = 5000;
/** Released frames kept for a release vcan that would not take them (it was down or being made again). */
const PENDING_LIMIT = 4096;

export type DropReason = 'bus-full' | 'unwired' | 'fault';

export interface TimedBusStats {
  /** None: an untimed bus whose frames go through the arbiter for its faults. */
  readonly bitrate?: number;
  readonly dbitrate?: number;
  /** Frames that crossed. */
  readonly frames: number;
  /** Bus time those frames took, microseconds. */
  readonly busyUs: number;
  /** The share of the bus's time frames took over the last seconds (timing/load.ts), 0..1. */
  readonly load: number;
  /** Frames waiting for the bus now. */
  readonly waiting: number;
  /** Frames lost: the sender's queue was full (`bus-full`), their way on was gone (`unwired`), a fault lost them (`fault`). */
  readonly dropped: Readonly<Record<DropReason, number>>;
}

interface Sender {
  readonly index: number;
  link: TimedSender;
  reader: CanSocketPort | undefined;
  writer: CanSocketPort | undefined;
  /** Frames that crossed but that the release vcan did not take yet, in order. */
  pending: CanFrame[];
  /** Frames that crossed and that a delay fault holds back. */
  readonly delayed: DelayLine<CanFrame>;
}

export class TimedBus {
  readonly #kernel: KernelPort;
  readonly #log: Logger;
  readonly #netns: NetnsTarget;
  readonly #fd: boolean;
  readonly #busName: string;
  #timing: TimingPlan;
  #arbiter: Arbiter;
  readonly #senders = new Map<string, Sender>();
  readonly #byIndex = new Map<number, Sender>();
  #nextIndex = 0;
  #timer: NodeJS.Timeout | undefined;
  /** When the pending timer was asked to fire. */
  #timerDueUs = 0;
  /** How late timers fired of late: a moving average, microseconds. */
  #lateUs = DELAY_EARLY_US;
  #immediate: NodeJS.Immediate | undefined;
  #closed = false;
  #frames = 0;
  readonly #load = new LoadWindow(nowUs());
  readonly #dropped: Record<DropReason, number> = { 'bus-full': 0, unwired: 0, fault: 0 };

  constructor(options: { kernel: KernelPort; log: Logger; namespace: string; busName: string; fd: boolean; timing: TimingPlan }) {
    this.#kernel = options.kernel;
    this.#log = options.log;
    this.#netns = options.kernel.owned(options.namespace);
    this.#busName = options.busName;
    this.#fd = options.fd;
    this.#timing = options.timing;
    this.#arbiter = newArbiter(options.timing);
  }

  /** Whether `timing` needs a bus of its own (another bit rate): the caller then closes this one. */
  differs(timing: TimingPlan): boolean {
    return timing.bitrate !== this.#timing.bitrate || timing.dbitrate !== this.#timing.dbitrate;
  }

  /**
   * Takes the senders of `timing`: opens the sockets of new senders (and of those whose sockets failed), closes
   * those of senders gone. Throws when a socket cannot be opened (its link is missing): the bus is not wired then.
   */
  wire(timing: TimingPlan): void {
    this.#timing = timing;
    const wanted = new Map(timing.senders.map((sender) => [sender.end, sender]));
    for (const [end, sender] of this.#senders) {
      const want = wanted.get(end);
      if (want === undefined || want.release !== sender.link.release) this.#drop(sender);
    }
    for (const link of timing.senders) {
      let sender = this.#senders.get(link.end);
      if (sender === undefined) {
        sender = { index: this.#nextIndex++, link, reader: undefined, writer: undefined, pending: [], delayed: new DelayLine() };
        this.#senders.set(link.end, sender);
        this.#byIndex.set(sender.index, sender);
      }
      // Its faults may have changed: they apply to frames from now on.
      sender.link = link;
      this.#open(sender);
    }
  }

  stats(): TimedBusStats {
    return {
      ...(this.#timing.bitrate === undefined ? {} : { bitrate: this.#timing.bitrate }),
      ...(this.#timing.dbitrate === undefined ? {} : { dbitrate: this.#timing.dbitrate }),
      frames: this.#frames,
      busyUs: this.#arbiter.busyUs,
      load: this.#load.ratio(nowUs()),
      waiting: this.#arbiter.waiting,
      dropped: { ...this.#dropped },
    };
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    for (const sender of [...this.#senders.values()]) this.#drop(sender);
  }

  #open(sender: Sender): void {
    const options = { netns: this.#netns, fd: this.#fd };
    if (sender.writer === undefined) {
      // It only writes: it takes no frames (an empty filter list), not even those the bus's rules echo there.
      sender.writer = this.#kernel.canSocket(sender.link.release, { ...options, filters: [] });
    }
    if (sender.reader === undefined) {
      const reader = this.#kernel.canSocket(sender.link.end, { ...options, timestamps: true, receiveBufferBytes: READER_BUFFER_BYTES });
      sender.reader = reader;
      reader.listen(
        (frames, times) => {
          this.#offer(sender, frames, times);
        },
        (error) => {
          // Its link went down or away (a repair, the bus going): the next wiring opens a new socket.
          this.#log.debug('a timed bus lost a sender socket', { bus: this.#busName, end: sender.link.end, error: error.message });
          if (sender.reader === reader) {
            reader.close();
            sender.reader = undefined;
          }
        },
      );
    }
  }

  #drop(sender: Sender): void {
    sender.reader?.close();
    sender.writer?.close();
    sender.reader = undefined;
    sender.writer = undefined;
    this.#senders.delete(sender.link.end);
    this.#byIndex.delete(sender.index);
    const lost = this.#arbiter.forget(sender.index) + sender.pending.length + sender.delayed.clear();
    sender.pending = [];
    this.#dropped.unwired += lost;
  }

  #offer(sender: Sender, frames: readonly CanFrame[], times: readonly number[]): void {
    if (this.#closed || this.#senders.get(sender.link.end) !== sender) return;
    const now = nowUs();
    const drop = sender.link.faults?.drop ?? 0;
    frames.forEach((frame, i) => {
      if (drop > 0 && Math.random() < drop) {
        this.#dropped.fault += 1;
        return;
      }
      // A stamp from a clock ahead of ours would hold the frame back: it arrived by now at the latest.
      if (!this.#arbiter.offer(sender.index, frame, Math.min(times[i] ?? now, now))) this.#dropped['bus-full'] += 1;
    });
    this.#schedule();
  }

  /** Runs the bus when its next frame ends (or now, when one can start now). */
  #schedule(): void {
    if (this.#closed || this.#timer !== undefined || this.#immediate !== undefined) return;
    let next = this.#arbiter.nextEventUs();
    for (const sender of this.#senders.values()) {
      // Frames a release vcan would not take are tried again in a millisecond.
      const held = sender.delayed.nextDueUs();
      const due = sender.pending.length > 0 ? nowUs() + 1000 : held === undefined ? undefined : held - this.#earlyUs();
      if (due !== undefined && (next === undefined || due < next)) next = due;
    }
    if (next === undefined) return;
    const delayUs = next - nowUs();
    if (delayUs <= 0) {
      this.#immediate = setImmediate(() => {
        this.#immediate = undefined;
        this.#pump();
      });
      return;
    }
    // Timers have millisecond steps: frames that end within one go out together, each never before its end.
    const delayMs = Math.ceil(delayUs / 1000);
    this.#timerDueUs = nowUs() + delayMs * 1000;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#lateUs = 0.9 * this.#lateUs + 0.1 * Math.max(0, nowUs() - this.#timerDueUs);
      this.#pump();
    }, delayMs);
    this.#timer.unref();
  }

  /** How early held frames go: as late as timers fire of late, within bounds. */
  #earlyUs(): number {
    return Math.min(DELAY_EARLY_MAX_US, Math.max(DELAY_EARLY_US, this.#lateUs));
  }

  #pump(): void {
    if (this.#closed) return;
    const now = nowUs();
    for (const sender of this.#senders.values()) {
      const due = sender.delayed.takeDue(now + this.#earlyUs());
      if (sender.pending.length > 0 || due.length > 0) this.#flush(sender, due);
    }
    const released = this.#arbiter.run(now);
    this.#frames += released.length;
    for (const release of released) this.#load.add(release.endUs, release.endUs - release.startUs);
    this.#release(released);
    this.#schedule();
  }

  /** Puts frames that crossed on their senders' release vcans in the order they crossed, a run of one sender at a time. */
  #release(released: readonly Release[]): void {
    let start = 0;
    while (start < released.length) {
      const source = released[start]?.source;
      let end = start + 1;
      while (end < released.length && released[end]?.source === source) end++;
      const run = released.slice(start, end);
      const sender = source === undefined ? undefined : this.#byIndex.get(source);
      const faults = sender?.link.faults;
      if (sender === undefined) this.#dropped.unwired += run.length;
      else if (faults?.delayMs !== undefined || sender.delayed.size > 0)
        // Held back by a delay fault (or behind frames that are, once the fault is gone): out when due.
        for (const release of run) sender.delayed.hold(release.frame, release.endUs, faults?.delayMs ?? 0, faults?.jitterMs ?? 0);
      else
        this.#flush(
          sender,
          run.map((release) => release.frame),
        );
      start = end;
    }
  }

  /** Sends what `sender` has pending, then `frames`; what the vcan does not take waits (a bounded while) for the next run. */
  #flush(sender: Sender, frames: readonly CanFrame[]): void {
    const queue = sender.pending.length > 0 ? [...sender.pending, ...frames] : frames;
    let sent = 0;
    if (sender.writer !== undefined && queue.length > 0) {
      try {
        sent = sender.writer.sendBatch(queue);
      } catch (error) {
        this.#log.debug('a timed bus could not release frames yet', {
          bus: this.#busName,
          end: sender.link.end,
          error: errorMessage(error),
        });
      }
    }
    const rest = queue.slice(sent);
    const kept = rest.slice(0, PENDING_LIMIT);
    this.#dropped.unwired += rest.length - kept.length;
    sender.pending = kept;
  }
}

function newArbiter(timing: TimingPlan): Arbiter {
  return new Arbiter({
    ...(timing.bitrate === undefined ? {} : { bitrate: timing.bitrate }),
    ...(timing.dbitrate === undefined ? {} : { dbitrate: timing.dbitrate }),
    queueLimit: SENDER_QUEUE_FRAMES,
  });
}
