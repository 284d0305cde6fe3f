// CAN_RAW sockets: send and receive classic and FD frames on one interface of one namespace. Reception is driven
// by the event loop (a readiness watch on a non-blocking socket), so no thread blocks waiting for frames.
import { decodeFrame, encodeFrame, type CanFrame } from '../can/frame.js';
import { Errno } from '../netlink/errno.js';
import { KernelError } from './errors.js';
import {
  AF_CAN,
  bind,
  close,
  ifNameToIndex,
  MSG_DONTWAIT,
  send,
  setsockopt,
  setsockoptInt,
  SO_RCVBUFFORCE,
  SO_TIMESTAMP,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_RAW,
  socket,
  SOL_SOCKET,
  watchReadable,
} from './libc.js';
import { inNetns, withNetnsFile } from './netns.js';
import { CURRENT_NETNS, type CanSocketOptions, type CanSocketPort, type NetnsTarget, type StampedFrame } from './port.js';
import { ReceiveBatch, SendBatch } from './message-batch.js';
import { nowUs } from './clock.js';

const CAN_RAW = 1;
const SOL_CAN_RAW = 101;
const CAN_RAW_FILTER = 1;
const CAN_RAW_LOOPBACK = 3;
const CAN_RAW_RECV_OWN_MSGS = 4;
const CAN_RAW_FD_FRAMES = 5;
/** struct canfd_frame: the largest frame a CAN_RAW socket reads. */
const FRAME_BYTES = 72;

export interface CanFilter {
  /** can_id to match (flag bits included); CAN_INV_FILTER inverts. */
  readonly id: number;
  readonly mask: number;
}

/** Frames one recvmmsg call reads at most. */
const BATCH = 64;
/**
 * Frames read per wake-up at most: the rest wait in the kernel's buffer for the next turn of the event loop (the
 * readiness watch fires again while anything is waiting), so that a flood cannot starve requests and timers.
 */
export const MAX_FRAMES_PER_WAKE = 512;
/**
 * Frames kept for receive() at most. Beyond, reading pauses and frames wait in the kernel's buffer (which, when full,
 * drops and counts them as the kernel does for any slow reader) until the reader catches up.
 */
export const MAX_QUEUED_FRAMES = 4096;

export class CanSocket implements CanSocketPort {
  readonly ifname: string;
  readonly netns: NetnsTarget;
  readonly #fd: number;
  readonly #batch: ReceiveBatch;
  /** Made on the first sendBatch: most sockets only receive, or send one frame at a time. */
  #sendBatch: SendBatch | undefined;
  readonly #timestamps: boolean;
  readonly #queue: CanFrame[] = [];
  /** Receive times of the queued frames, in the same order (sockets opened with `timestamps` only). */
  readonly #stamps: number[] = [];
  readonly #waiters: Array<() => void> = [];
  #watch: { close(): void; unref(): void; ref(): void } | undefined;
  /** Whether a receive() is waiting, holding the event loop open. */
  #held = false;
  #closed = false;
  /** An error of the socket, kept for the next receive (see #drain). */
  #error: Error | undefined = undefined;
  #listener:
    { readonly onFrames: (frames: CanFrame[], timesUs: readonly number[]) => void; readonly onError: (error: Error) => void } | undefined =
    undefined;

  private constructor(fd: number, ifname: string, netns: NetnsTarget, timestamps: boolean) {
    this.#fd = fd;
    this.ifname = ifname;
    this.netns = netns;
    this.#timestamps = timestamps;
    this.#batch = new ReceiveBatch(BATCH, FRAME_BYTES);
    this.#watchSocket();
  }

  static open(ifname: string, options: CanSocketOptions = {}): CanSocket {
    const netns = options.netns ?? CURRENT_NETNS;
    const what = (): string => `opening a CAN socket on ${ifname} in netns ${netns.label}`;
    const { fd, index } = withNetnsFile(netns.path, (nsFd) =>
      inNetns(nsFd, netns.label, () => {
        // The interface index must be resolved in the socket's namespace, so inside the switch.
        const found = ifNameToIndex(ifname);
        if (found === 0) throw KernelError.fromErrno(what(), Errno.ENODEV);
        return { fd: socket(AF_CAN, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, CAN_RAW, what), index: found };
      }),
    );
    try {
      if (options.fd === true) setsockoptInt(fd, SOL_CAN_RAW, CAN_RAW_FD_FRAMES, 1, what);
      if (options.loopback === false) setsockoptInt(fd, SOL_CAN_RAW, CAN_RAW_LOOPBACK, 0, what);
      if (options.receiveOwnMessages === true) setsockoptInt(fd, SOL_CAN_RAW, CAN_RAW_RECV_OWN_MSGS, 1, what);
      if (options.filters !== undefined) setsockopt(fd, SOL_CAN_RAW, CAN_RAW_FILTER, encodeFilters(options.filters), what);
      if (options.receiveBufferBytes !== undefined) setsockoptInt(fd, SOL_SOCKET, SO_RCVBUFFORCE, options.receiveBufferBytes, what);
      if (options.timestamps === true) setsockoptInt(fd, SOL_SOCKET, SO_TIMESTAMP, 1, what);
      const address = Buffer.alloc(24);
      address.writeUInt16LE(AF_CAN, 0);
      address.writeInt32LE(index, 4);
      bind(fd, address, what);
    } catch (error) {
      close(fd);
      throw error;
    }
    return new CanSocket(fd, ifname, netns, options.timestamps === true);
  }

  send(frame: CanFrame): void {
    send(this.#fd, encodeFrame(frame), () => `sending a frame on ${this.ifname} in netns ${this.netns.label}`);
  }

  sendBatch(frames: readonly CanFrame[]): number {
    const what = (): string => `sending ${frames.length} frames on ${this.ifname} in netns ${this.netns.label}`;
    const batch = (this.#sendBatch ??= new SendBatch(BATCH, FRAME_BYTES));
    let sent = 0;
    while (sent < frames.length) {
      const asked = Math.min(frames.length - sent, batch.count);
      let taken: number;
      try {
        taken = batch.send(this.#fd, frames, sent, what);
      } catch (error) {
        // Those sent before stay sent; the error comes again on the next call if it lasts.
        if (sent > 0) return sent;
        throw error;
      }
      sent += taken;
      if (taken < asked) break;
    }
    return sent;
  }

  #watchSocket(): void {
    this.#watch = watchReadable(this.#fd, () => {
      this.#drain();
    });
    if (this.#held) this.#watch.ref();
    else this.#watch.unref();
  }

  /**
   * Reads the frames waiting, in batches, up to MAX_FRAMES_PER_WAKE. A socket error (the interface went down,
   * ENETDOWN, or away, ENODEV) is kept for the next receive to throw rather than thrown here: this also runs from the
   * readiness watch, where nobody could catch it. The kernel reports such an error once; the socket then goes on
   * receiving once the interface is up again.
   */
  #drain(): void {
    if (this.#closed) return;
    const what = (): string => `receiving on ${this.ifname} in netns ${this.netns.label}`;
    let read = 0;
    try {
      while (read < MAX_FRAMES_PER_WAKE && (this.#listener !== undefined || this.#queue.length < MAX_QUEUED_FRAMES)) {
        const count = this.#batch.receive(this.#fd, MSG_DONTWAIT, what);
        if (count === 0) break;
        read += count;
        const frames: CanFrame[] = [];
        const times: number[] = [];
        const readAt = nowUs();
        for (let i = 0; i < count; i++) {
          frames.push(decodeFrame(this.#batch.frame(i)));
          times.push(this.#timestamps ? (this.#batch.timestampUs(i) ?? readAt) : readAt);
        }
        if (this.#listener !== undefined) this.#listener.onFrames(frames, times);
        else {
          this.#queue.push(...frames);
          if (this.#timestamps) this.#stamps.push(...times);
        }
        if (count < BATCH) break;
      }
    } catch (error) {
      this.#error = error instanceof Error ? error : new Error(String(error));
    }
    if (this.#listener === undefined && this.#queue.length >= MAX_QUEUED_FRAMES && this.#watch !== undefined) {
      // Full: stop watching (the watch would fire for ever with nothing read) until receive() takes frames off.
      this.#watch.close();
      this.#watch = undefined;
    }
    const listener = this.#listener;
    if (listener !== undefined) {
      const error = this.#error;
      this.#error = undefined;
      if (error !== undefined) listener.onError(error);
      return;
    }
    for (const wake of this.#waiters.splice(0)) wake();
  }

  listen(onFrames: (frames: CanFrame[], timesUs: readonly number[]) => void, onError: (error: Error) => void): void {
    this.#listener = { onFrames, onError };
    const waiting = this.#queue.splice(0);
    const readAt = nowUs();
    const times = waiting.map((_, i) => this.#stamps[i] ?? readAt);
    this.#stamps.length = 0;
    if (this.#watch === undefined && !this.#closed) this.#watchSocket();
    // Whatever arrived before is handed over first, on the next turn (the caller may not be ready yet).
    setImmediate(() => {
      if (waiting.length > 0 && !this.#closed) onFrames(waiting, times);
      this.#drain();
    });
  }

  /** The next received frame, or undefined if none arrives within `timeoutMs`. */
  async receive(timeoutMs: number): Promise<CanFrame | undefined> {
    return (await this.receiveStamped(timeoutMs))?.frame;
  }

  async receiveStamped(timeoutMs: number): Promise<StampedFrame | undefined> {
    const deadline = Date.now() + timeoutMs;
    this.#drain();
    while (this.#queue.length === 0 && !this.#closed && this.#error === undefined) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      this.#held = true;
      this.#watch?.ref();
      try {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, remaining);
          this.#waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      } finally {
        this.#held = false;
        this.#watch?.unref();
      }
    }
    const error = this.#error;
    if (this.#queue.length === 0 && error !== undefined) {
      this.#error = undefined;
      throw error;
    }
    const frame = this.#queue.shift();
    const stamp = this.#stamps.shift();
    if (this.#watch === undefined && !this.#closed && this.#queue.length < MAX_QUEUED_FRAMES / 2) this.#watchSocket();
    return frame === undefined ? undefined : { frame, timeUs: stamp ?? nowUs() };
  }

  /** Frames received within `quietMs` of each other (and of the call): everything that is in flight. */
  async receiveAll(quietMs: number): Promise<CanFrame[]> {
    const frames: CanFrame[] = [];
    for (let frame = await this.receive(quietMs); frame !== undefined; frame = await this.receive(quietMs)) frames.push(frame);
    return frames;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#watch?.close();
    this.#watch = undefined;
    close(this.#fd);
    this.#batch.free();
    this.#sendBatch?.free();
    for (const wake of this.#waiters.splice(0)) wake();
  }
}

function encodeFilters(filters: readonly CanFilter[]): Buffer {
  const out = Buffer.alloc(filters.length * 8);
  filters.forEach((filter, i) => {
    out.writeUInt32LE(filter.id >>> 0, i * 8);
    out.writeUInt32LE(filter.mask >>> 0, i * 8 + 4);
  });
  return out;
}
