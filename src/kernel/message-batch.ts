// Batched socket I/O: one recvmmsg(2) call reads up to `count` messages (CAN frames, or datagrams with their
// senders' addresses), each with the kernel's receive time when SO_TIMESTAMP is on, and one sendmmsg(2) call writes
// up to `count` frames. The message headers, their iovecs, the buffers, the control buffers and the address buffers
// live in one native block laid out as 64-bit Linux lays them out, filled in once; messages are read and written
// through a view of that block, so the FFI neither marshals nor copies anything per call.
import { encodeFrameInto, type CanFrame } from '../can/frame.js';
import { allocNative, freeNative, recvmmsg, sendmmsg, type NativeBlock } from './libc.js';

/** struct mmsghdr on LP64: struct msghdr (56 bytes) and msg_len, padded to 64. */
const MMSGHDR_SIZE = 64;
const IOVEC_SIZE = 16;
/** CMSG_SPACE(sizeof(struct timeval)): a 16-byte cmsghdr and a 16-byte timeval. */
const CONTROL_SIZE = 32;
const CONTROL_SIZE_BIG = BigInt(CONTROL_SIZE);
/** Room for a struct sockaddr_in6 (28 bytes), the largest address a UDP socket reports. */
const NAME_SIZE = 32;
/** Offsets in struct msghdr and struct mmsghdr. */
const MSG_NAME = 0;
const MSG_NAMELEN = 8;
const MSG_IOV = 16;
const MSG_IOVLEN = 24;
const MSG_CONTROL = 32;
const MSG_CONTROLLEN = 40;
const MSG_FLAGS = 48;
const MSG_LEN = 56;
const SOL_SOCKET = 1;
/** SCM_TIMESTAMP (SO_TIMESTAMP_OLD): a struct timeval of two longs on 64-bit. */
const SCM_TIMESTAMP = 29;

/** `count` messages of one buffer each (and a control buffer and an address buffer each when asked), in one native block. */
class MessageBlock {
  readonly count: number;
  readonly frameSize: number;
  readonly view: DataView;
  readonly bytes: Buffer;
  readonly framesAt: number;
  readonly controlAt: number;
  readonly namesAt: number;
  readonly #block: NativeBlock;
  #freed = false;

  constructor(count: number, frameSize: number, options: { readonly control: boolean; readonly names: boolean }) {
    this.count = count;
    this.frameSize = frameSize;
    const iovecsAt = count * MMSGHDR_SIZE;
    this.framesAt = iovecsAt + count * IOVEC_SIZE;
    this.controlAt = this.framesAt + count * frameSize;
    this.namesAt = this.controlAt + (options.control ? count * CONTROL_SIZE : 0);
    this.#block = allocNative(this.namesAt + (options.names ? count * NAME_SIZE : 0));
    this.view = new DataView(this.#block.memory);
    this.bytes = Buffer.from(this.#block.memory);
    const base = this.#block.address;
    for (let i = 0; i < count; i++) {
      const header = i * MMSGHDR_SIZE;
      const iovec = iovecsAt + i * IOVEC_SIZE;
      this.view.setBigUint64(iovec, base + BigInt(this.framesAt + i * frameSize), true);
      this.view.setBigUint64(iovec + 8, BigInt(frameSize), true);
      this.view.setBigUint64(header + MSG_IOV, base + BigInt(iovec), true);
      this.view.setBigUint64(header + MSG_IOVLEN, 1n, true);
      if (options.control) this.view.setBigUint64(header + MSG_CONTROL, base + BigInt(this.controlAt + i * CONTROL_SIZE), true);
      if (options.names) {
        this.view.setBigUint64(header + MSG_NAME, base + BigInt(this.namesAt + i * NAME_SIZE), true);
        this.view.setUint32(header + MSG_NAMELEN, NAME_SIZE, true);
      }
    }
  }

  get address(): bigint {
    return this.#block.address;
  }

  /** Sets how many bytes message `i` carries (its iovec's length). */
  setLength(i: number, length: number): void {
    this.view.setBigUint64(this.count * MMSGHDR_SIZE + i * IOVEC_SIZE + 8, BigInt(length), true);
  }

  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    freeNative(this.#block);
  }
}

export class ReceiveBatch {
  readonly #block: MessageBlock;
  readonly #names: boolean;
  /** Messages the last receive filled. */
  #filled = 0;

  /** `count` messages of up to `size` bytes; `names` keeps each sender's address (datagram sockets). */
  constructor(count: number, size: number, options: { readonly names?: boolean } = {}) {
    this.#names = options.names === true;
    this.#block = new MessageBlock(count, size, { control: true, names: this.#names });
    for (let i = 0; i < count; i++) this.#block.view.setBigUint64(i * MMSGHDR_SIZE + MSG_CONTROLLEN, CONTROL_SIZE_BIG, true);
  }

  get count(): number {
    return this.#block.count;
  }

  /** Reads what is waiting, up to `count` messages; returns how many (0 when none, EAGAIN). Throws what the kernel says. */
  receive(fd: number, flags: number, what: () => string): number {
    const { view, count } = this.#block;
    // The kernel writes back how much control data and address it used and each message's flags: set them afresh
    // for the messages the last call filled (the others are as the constructor or an earlier reset left them).
    for (let i = 0; i < this.#filled; i++) {
      view.setBigUint64(i * MMSGHDR_SIZE + MSG_CONTROLLEN, CONTROL_SIZE_BIG, true);
      view.setInt32(i * MMSGHDR_SIZE + MSG_FLAGS, 0, true);
      if (this.#names) view.setUint32(i * MMSGHDR_SIZE + MSG_NAMELEN, NAME_SIZE, true);
    }
    this.#filled = recvmmsg(fd, this.#block.address, count, flags, what) ?? 0;
    return this.#filled;
  }

  /** The sender's address of message `i` of the last receive, as a struct sockaddr (a view, like `frame`). */
  name(i: number): Buffer {
    const { view, bytes, namesAt } = this.#block;
    const length = Math.min(view.getUint32(i * MMSGHDR_SIZE + MSG_NAMELEN, true), NAME_SIZE);
    const at = namesAt + i * NAME_SIZE;
    return bytes.subarray(at, at + length);
  }

  /** The bytes of frame `i` of the last receive (a view: read them before the next receive). */
  frame(i: number): Buffer {
    const { view, bytes, framesAt, frameSize } = this.#block;
    const length = view.getUint32(i * MMSGHDR_SIZE + MSG_LEN, true);
    const at = framesAt + i * frameSize;
    return bytes.subarray(at, at + Math.min(length, frameSize));
  }

  /** When the kernel received frame `i`, in microseconds since the epoch; undefined without SO_TIMESTAMP. */
  timestampUs(i: number): number | undefined {
    const { view, controlAt } = this.#block;
    const used = Number(view.getBigUint64(i * MMSGHDR_SIZE + MSG_CONTROLLEN, true));
    const at = controlAt + i * CONTROL_SIZE;
    if (used < CONTROL_SIZE || view.getInt32(at + 8, true) !== SOL_SOCKET || view.getInt32(at + 12, true) !== SCM_TIMESTAMP)
      return undefined;
    const seconds = Number(view.getBigInt64(at + 16, true));
    const micros = Number(view.getBigInt64(at + 24, true));
    return seconds * 1_000_000 + micros;
  }

  free(): void {
    this.#block.free();
  }
}

export class SendBatch {
  readonly #block: MessageBlock;

  constructor(count: number, frameSize: number) {
    this.#block = new MessageBlock(count, frameSize, { control: false, names: false });
  }

  get count(): number {
    return this.#block.count;
  }

  /**
   * Writes frames `from` to `from + count` (at most) in one call, encoded straight into the native block; returns
   * how many the kernel took, in order (fewer when the socket's buffer filled). Throws what the kernel says when it
   * took none.
   */
  send(fd: number, frames: readonly CanFrame[], from: number, what: () => string): number {
    const { bytes, framesAt, frameSize } = this.#block;
    const n = Math.min(frames.length - from, this.#block.count);
    for (let i = 0; i < n; i++) {
      const at = framesAt + i * frameSize;
      this.#block.setLength(i, encodeFrameInto(frames[from + i] as CanFrame, bytes.subarray(at, at + frameSize)));
    }
    return n <= 0 ? 0 : sendmmsg(fd, this.#block.address, n, what);
  }

  free(): void {
    this.#block.free();
  }
}
