// Batched reception: one recvmmsg(2) call reads up to `count` datagrams (CAN frames) from a socket, each with the
// kernel's receive time when SO_TIMESTAMP is on. The message headers, their iovecs, the frame buffers and the control
// buffers live in one native block laid out as 64-bit Linux lays them out, filled in once; the frames are read
// through a view of that block, so the FFI neither marshals nor copies anything per call.
import { allocNative, freeNative, recvmmsg, type NativeBlock } from './libc.js';

/** struct mmsghdr on LP64: struct msghdr (56 bytes) and msg_len, padded to 64. */
const MMSGHDR_SIZE = 64;
const IOVEC_SIZE = 16;
/** CMSG_SPACE(sizeof(struct timeval)): a 16-byte cmsghdr and a 16-byte timeval. */
const CONTROL_SIZE = 32;
/** Offsets in struct msghdr and struct mmsghdr. */
const MSG_IOV = 16;
const MSG_IOVLEN = 24;
const MSG_CONTROL = 32;
const MSG_CONTROLLEN = 40;
const MSG_FLAGS = 48;
const MSG_LEN = 56;
const SOL_SOCKET = 1;
/** SCM_TIMESTAMP (SO_TIMESTAMP_OLD): a struct timeval of two longs on 64-bit. */
const SCM_TIMESTAMP = 29;

export class ReceiveBatch {
  readonly count: number;
  readonly #frameSize: number;
  readonly #block: NativeBlock;
  readonly #view: DataView;
  readonly #bytes: Buffer;
  readonly #framesAt: number;
  readonly #controlAt: number;
  #freed = false;

  constructor(count: number, frameSize: number) {
    this.count = count;
    this.#frameSize = frameSize;
    const iovecsAt = count * MMSGHDR_SIZE;
    this.#framesAt = iovecsAt + count * IOVEC_SIZE;
    this.#controlAt = this.#framesAt + count * frameSize;
    this.#block = allocNative(this.#controlAt + count * CONTROL_SIZE);
    this.#view = new DataView(this.#block.memory);
    this.#bytes = Buffer.from(this.#block.memory);
    for (let i = 0; i < count; i++) {
      const header = i * MMSGHDR_SIZE;
      const iovec = iovecsAt + i * IOVEC_SIZE;
      this.#view.setBigUint64(iovec, this.#block.address + BigInt(this.#framesAt + i * frameSize), true);
      this.#view.setBigUint64(iovec + 8, BigInt(frameSize), true);
      this.#view.setBigUint64(header + MSG_IOV, this.#block.address + BigInt(iovec), true);
      this.#view.setBigUint64(header + MSG_IOVLEN, 1n, true);
      this.#view.setBigUint64(header + MSG_CONTROL, this.#block.address + BigInt(this.#controlAt + i * CONTROL_SIZE), true);
    }
  }

  /** Reads what is waiting, up to `count` frames; returns how many (0 when none, EAGAIN). Throws what the kernel says. */
  receive(fd: number, flags: number, what: () => string): number {
    for (let i = 0; i < this.count; i++) {
      // The kernel writes back how much control data it used and the message's flags: set them afresh each call.
      this.#view.setBigUint64(i * MMSGHDR_SIZE + MSG_CONTROLLEN, BigInt(CONTROL_SIZE), true);
      this.#view.setInt32(i * MMSGHDR_SIZE + MSG_FLAGS, 0, true);
    }
    return recvmmsg(fd, this.#block.address, this.count, flags, what) ?? 0;
  }

  /** The bytes of frame `i` of the last receive (a view: read them before the next receive). */
  frame(i: number): Buffer {
    const length = this.#view.getUint32(i * MMSGHDR_SIZE + MSG_LEN, true);
    const at = this.#framesAt + i * this.#frameSize;
    return this.#bytes.subarray(at, at + Math.min(length, this.#frameSize));
  }

  /** When the kernel received frame `i`, in microseconds since the epoch; undefined without SO_TIMESTAMP. */
  timestampUs(i: number): number | undefined {
    const used = Number(this.#view.getBigUint64(i * MMSGHDR_SIZE + MSG_CONTROLLEN, true));
    const at = this.#controlAt + i * CONTROL_SIZE;
    if (used < CONTROL_SIZE || this.#view.getInt32(at + 8, true) !== SOL_SOCKET || this.#view.getInt32(at + 12, true) !== SCM_TIMESTAMP)
      return undefined;
    const seconds = Number(this.#view.getBigInt64(at + 16, true));
    const micros = Number(this.#view.getBigInt64(at + 24, true));
    return seconds * 1_000_000 + micros;
  }

  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    freeNative(this.#block);
  }
}
