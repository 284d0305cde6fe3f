// Raw CAN sockets on the fake kernel's links: a frame sent goes through the frame simulator (the links' rules and
// vxcan peers, as the kernel would forward it) and reaches every socket open on a link it arrives at, on a later
// turn of the event loop, in order. Sockets that did not ask for FD frames get none, as CAN_RAW without
// CAN_RAW_FD_FRAMES; a socket whose interface is gone fails to send with ENODEV, one whose interface is down with
// ENETDOWN.
import {
  CAN_EFF_FLAG,
  CAN_EFF_MASK,
  CAN_ERR_FLAG,
  CAN_RTR_FLAG,
  CAN_SFF_MASK,
  CANFD_BRS,
  CANFD_ESI,
  CANFD_FDF,
  CAN_INV_FILTER,
  rawCanId,
  type CanFrame,
} from '../../src/can/frame.js';
import { Errno } from '../../src/netlink/errno.js';
import { KernelError, type CanSocketOptions, type CanSocketPort, type NetnsTarget, type StampedFrame } from '../../src/kernel/index.js';
import type { FakeKernel, FakeLink } from './fake-kernel.js';
import { transmit, type SimFrame } from './frame-sim.js';

export function toSimFrame(frame: CanFrame): SimFrame {
  const data = new Uint8Array(frame.kind === 'fd' ? 64 : 8);
  data.set(frame.data);
  const flags = frame.kind === 'fd' ? (frame.brs ? CANFD_BRS : 0) | (frame.esi ? CANFD_ESI : 0) | CANFD_FDF : 0;
  return { canId: rawCanId(frame), fd: frame.kind === 'fd', len: frame.data.length, data, flags };
}

export function fromSimFrame(sim: SimFrame): CanFrame {
  const extended = (sim.canId & CAN_EFF_FLAG) !== 0;
  const error = (sim.canId & CAN_ERR_FLAG) !== 0;
  const id = sim.canId & (extended || error ? CAN_EFF_MASK : CAN_SFF_MASK);
  if (sim.fd)
    return {
      kind: 'fd',
      id,
      extended,
      error,
      brs: (sim.flags & CANFD_BRS) !== 0,
      esi: (sim.flags & CANFD_ESI) !== 0,
      data: sim.data.slice(0, sim.len),
    };
  const rtr = (sim.canId & CAN_RTR_FLAG) !== 0;
  return {
    kind: 'classic',
    id,
    extended,
    error,
    rtr,
    len8Dlc: undefined,
    data: rtr ? new Uint8Array(sim.len) : sim.data.slice(0, sim.len),
  };
}

export class FakeCanSocket implements CanSocketPort {
  readonly ifname: string;
  readonly netns: NetnsTarget;
  readonly link: FakeLink;
  readonly #kernel: FakeKernel;
  readonly #fd: boolean;
  /** Frames waiting, each with the time it arrived (the kernel stamps frames as it receives them). */
  readonly #queue: StampedFrame[] = [];
  #waiters: Array<() => void> = [];
  #listener: ((frames: CanFrame[], timesUs: readonly number[]) => void) | undefined;
  #closed = false;
  readonly #filters: CanSocketOptions['filters'];
  readonly #loopback: boolean;

  constructor(kernel: FakeKernel, link: FakeLink, options: CanSocketOptions) {
    this.#kernel = kernel;
    this.link = link;
    this.ifname = link.name;
    this.netns = link.netns.target;
    this.#fd = options.fd === true;
    this.#filters = options.filters;
    this.#loopback = options.loopback !== false;
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(frame: CanFrame): void {
    const what = `sending a frame on ${this.ifname} in netns ${this.netns.label}`;
    if (this.#closed) throw KernelError.fromErrno(what, Errno.EBADF);
    if (this.link.netns.links.get(this.link.name) !== this.link || !this.link.netns.alive) throw KernelError.fromErrno(what, Errno.ENODEV);
    if (!this.link.up) throw KernelError.fromErrno(what, Errno.ENETDOWN);
    if (frame.kind === 'fd' && (!this.#fd || this.link.mtu < 72)) throw KernelError.fromErrno(what, Errno.EINVAL);
    const sim = toSimFrame(frame);
    // Without local loopback nothing is received on the sender's link, so no rule starting there sees it either.
    const receptions = this.#loopback ? transmit(this.#kernel, this.netns, this.ifname, sim) : [];
    setImmediate(() => {
      // Local loopback: the other sockets on the link see what this one sent, as CAN_RAW's default.
      if (this.#loopback) for (const socket of this.#kernel.sockets) if (socket !== this) socket.deliver(this.link, sim);
      for (const reception of receptions) for (const socket of this.#kernel.sockets) socket.deliver(reception.link, reception.frame);
    });
  }

  sendBatch(frames: readonly CanFrame[]): number {
    let sent = 0;
    for (const frame of frames) {
      try {
        this.send(frame);
      } catch (error) {
        if (sent > 0) return sent;
        throw error;
      }
      sent += 1;
    }
    return sent;
  }

  /** A frame arriving at a link: taken if it is this socket's. */
  deliver(link: FakeLink, frame: SimFrame): void {
    if (this.#closed || link !== this.link || (frame.fd && !this.#fd) || !this.#passes(frame.canId)) return;
    const decoded = fromSimFrame(frame);
    const timeUs = Math.round(performance.timeOrigin * 1000 + performance.now() * 1000);
    if (this.#listener !== undefined) {
      this.#listener([decoded], [timeUs]);
      return;
    }
    this.#queue.push({ frame: decoded, timeUs });
    for (const wake of this.#waiters.splice(0)) wake();
  }

  async receive(timeoutMs: number): Promise<CanFrame | undefined> {
    return (await this.receiveStamped(timeoutMs))?.frame;
  }

  async receiveStamped(timeoutMs: number): Promise<StampedFrame | undefined> {
    if (this.#queue.length === 0 && !this.#closed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.#queue.shift();
  }

  async receiveAll(quietMs: number): Promise<CanFrame[]> {
    const frames: CanFrame[] = [];
    for (let frame = await this.receive(quietMs); frame !== undefined; frame = await this.receive(quietMs)) frames.push(frame);
    return frames;
  }

  /** CAN_RAW_FILTER: a frame passes when it matches any filter (an inverted one when it does not); none: nothing. */
  #passes(canId: number): boolean {
    if (this.#filters === undefined) return true;
    return this.#filters.some((filter) => {
      const match = (canId & filter.mask) >>> 0 === (filter.id & ~CAN_INV_FILTER & filter.mask) >>> 0;
      return (filter.id & CAN_INV_FILTER) !== 0 ? !match : match;
    });
  }

  listen(onFrames: (frames: CanFrame[], timesUs: readonly number[]) => void, _onError: (error: Error) => void): void {
    this.#listener = onFrames;
    const waiting = this.#queue.splice(0);
    if (waiting.length > 0)
      setImmediate(() => {
        onFrames(
          waiting.map((stamped) => stamped.frame),
          waiting.map((stamped) => stamped.timeUs),
        );
      });
  }

  close(): void {
    this.#closed = true;
    this.#kernel.sockets.delete(this);
    for (const wake of this.#waiters.splice(0)) wake();
  }
}
