// The cannelloni 2.x wire format, pure: frames are encoded the same way over UDP (after a 5-byte packet header)
// and over TCP (after a 12-byte handshake, back to back with no header). Everything is big-endian:
//
//   packet header   version (2) | op code (0 = DATA) | sequence number | frame count (2 bytes)
//   frame           can_id with its EFF/RTR/ERR bits (4) | length (1; bit 7 marks CAN FD) | [flags (1), FD only]
//                   | data (length bytes; none for a remote request, whose length is the requested length)
//
// Decoding never trusts a count or a length: it stops at the first frame that does not fit or breaks a limit, keeps
// the complete frames before it (as cannelloni does) and names the problem, so the caller counts and drops it.
import {
  CAN_EFF_FLAG,
  CAN_EFF_MASK,
  CAN_ERR_FLAG,
  CAN_MAX_DLEN,
  CAN_RTR_FLAG,
  CAN_SFF_MASK,
  CANFD_BRS,
  CANFD_ESI,
  CANFD_FDF,
  CANFD_MAX_DLEN,
  rawCanId,
  type CanFrame,
} from '../can/frame.js';

export const CANNELLONI_VERSION = 2;
export const OP_DATA = 0;
export const PACKET_HEADER_SIZE = 5;
/** What each side of a TCP connection sends first, and expects from the other. */
export const TCP_HANDSHAKE = Buffer.from('CANNELLONIv1', 'ascii');
/** The largest encoded frame: an FD frame with 64 bytes. */
export const MAX_ENCODED_FRAME = 4 + 1 + 1 + CANFD_MAX_DLEN;
/** A packet's frame count is 16 bits. */
export const MAX_FRAMES_PER_PACKET = 0xffff;

const FD_LENGTH_FLAG = 0x80;

/** Why bytes were refused; each is counted under its own name. */
export type WireProblemCause = 'short-packet' | 'version' | 'op-code' | 'incomplete' | 'length' | 'handshake';

export interface WireProblem {
  readonly cause: WireProblemCause;
  readonly message: string;
}

/** The size of a frame on the wire. */
export function encodedSize(frame: CanFrame): number {
  const data = frame.kind === 'classic' && frame.rtr ? 0 : frame.data.length;
  return 4 + 1 + (frame.kind === 'fd' ? 1 : 0) + data;
}

/** Writes one frame at `offset` (the caller made room: `encodedSize`) and returns the offset after it. */
export function writeFrame(frame: CanFrame, out: Buffer, offset: number): number {
  let at = out.writeUInt32BE(rawCanId(frame), offset);
  if (frame.kind === 'fd') {
    at = out.writeUInt8(FD_LENGTH_FLAG | frame.data.length, at);
    // The flags byte as a socket reads it: the kernel sets CANFD_FDF on every FD frame, and cannelloni sends it on.
    at = out.writeUInt8((frame.brs ? CANFD_BRS : 0) | (frame.esi ? CANFD_ESI : 0) | CANFD_FDF, at);
  } else {
    at = out.writeUInt8(frame.data.length, at);
    if (frame.rtr) return at;
  }
  out.set(frame.data, at);
  return at + frame.data.length;
}

/** Frames back to back, as a TCP connection carries them after the handshake. */
export function encodeFrames(frames: readonly CanFrame[]): Buffer {
  const out = Buffer.alloc(frames.reduce((sum, frame) => sum + encodedSize(frame), 0));
  let at = 0;
  for (const frame of frames) at = writeFrame(frame, out, at);
  return out;
}

/** One UDP datagram: the header with `sequence` (taken modulo 256) and the frames. */
export function encodePacket(sequence: number, frames: readonly CanFrame[]): Buffer {
  if (frames.length > MAX_FRAMES_PER_PACKET)
    throw new RangeError(`a packet holds at most ${MAX_FRAMES_PER_PACKET} frames, not ${frames.length}`);
  const body = encodeFrames(frames);
  const out = Buffer.alloc(PACKET_HEADER_SIZE + body.length);
  out.writeUInt8(CANNELLONI_VERSION, 0);
  out.writeUInt8(OP_DATA, 1);
  out.writeUInt8(sequence & 0xff, 2);
  out.writeUInt16BE(frames.length, 3);
  body.copy(out, PACKET_HEADER_SIZE);
  return out;
}

type FrameRead = { readonly frame: CanFrame; readonly next: number } | { readonly need: number } | { readonly problem: WireProblem };

/**
 * Reads one frame at `offset`. When the bytes end inside the frame, says how many bytes the whole frame needs
 * (a stream waits for more); a length over the limit is a problem whatever follows.
 */
export function readFrame(bytes: Uint8Array, offset: number): FrameRead {
  const available = bytes.length - offset;
  if (available < 5) return { need: 5 };
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const raw = view.readUInt32BE(offset);
  const lengthByte = view.readUInt8(offset + 4);
  const fd = (lengthByte & FD_LENGTH_FLAG) !== 0;
  const length = lengthByte & ~FD_LENGTH_FLAG;
  const extended = (raw & CAN_EFF_FLAG) !== 0;
  const error = (raw & CAN_ERR_FLAG) !== 0;
  const id = raw & (extended || error ? CAN_EFF_MASK : CAN_SFF_MASK);
  if (fd) {
    if (length > CANFD_MAX_DLEN)
      return {
        problem: { cause: 'length', message: `CAN FD frame 0x${(raw >>> 0).toString(16)} of length ${length}: at most ${CANFD_MAX_DLEN}` },
      };
    const size = 6 + length;
    if (available < size) return { need: size };
    const flags = view.readUInt8(offset + 5);
    const data = Uint8Array.from(view.subarray(offset + 6, offset + size));
    return {
      frame: { kind: 'fd', id, extended, error, brs: (flags & CANFD_BRS) !== 0, esi: (flags & CANFD_ESI) !== 0, data },
      next: offset + size,
    };
  }
  if (length > CAN_MAX_DLEN)
    return {
      problem: { cause: 'length', message: `classic frame 0x${(raw >>> 0).toString(16)} of length ${length}: at most ${CAN_MAX_DLEN}` },
    };
  const rtr = (raw & CAN_RTR_FLAG) !== 0;
  // A remote request carries its requested length and no data.
  const size = 5 + (rtr ? 0 : length);
  if (available < size) return { need: size };
  const data = rtr ? new Uint8Array(length) : Uint8Array.from(view.subarray(offset + 5, offset + size));
  return { frame: { kind: 'classic', id, extended, error, rtr, len8Dlc: undefined, data }, next: offset + size };
}

export interface DecodedPacket {
  readonly sequence: number;
  /** The complete, valid frames, in order (up to a problem, if any). */
  readonly frames: CanFrame[];
  readonly problem?: WireProblem;
}

/** Decodes one UDP datagram. Never throws: bad bytes come back as a problem beside the frames read before it. */
export function decodePacket(bytes: Uint8Array): DecodedPacket {
  if (bytes.length < PACKET_HEADER_SIZE)
    return {
      sequence: 0,
      frames: [],
      problem: { cause: 'short-packet', message: `${bytes.length} bytes, shorter than the ${PACKET_HEADER_SIZE}-byte header` },
    };
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.readUInt8(0);
  const sequence = view.readUInt8(2);
  if (version !== CANNELLONI_VERSION)
    return { sequence, frames: [], problem: { cause: 'version', message: `format version ${version}, expected ${CANNELLONI_VERSION}` } };
  const opCode = view.readUInt8(1);
  if (opCode !== OP_DATA)
    return { sequence, frames: [], problem: { cause: 'op-code', message: `op code ${opCode}, expected ${OP_DATA} (DATA)` } };
  const count = view.readUInt16BE(3);
  const frames: CanFrame[] = [];
  let offset = PACKET_HEADER_SIZE;
  for (let i = 0; i < count; i++) {
    const read = readFrame(bytes, offset);
    if ('problem' in read) return { sequence, frames, problem: read.problem };
    if ('need' in read)
      return {
        sequence,
        frames,
        problem: {
          cause: 'incomplete',
          message: `frame ${i + 1} of ${count} needs ${read.need} bytes at offset ${offset}, the packet has ${bytes.length - offset}`,
        },
      };
    frames.push(read.frame);
    offset = read.next;
  }
  return { sequence, frames };
}

/**
 * Decodes a TCP stream from cannelloni: the handshake, then frames split across reads anywhere. Holds at most one
 * partial frame (70 bytes) between reads. After a problem the stream cannot be trusted: the caller closes it.
 */
export class StreamDecoder {
  #pending: Buffer = Buffer.alloc(0);
  #handshaken = false;
  #failed: WireProblem | undefined = undefined;

  /** Whether the peer's handshake has arrived. */
  get handshaken(): boolean {
    return this.#handshaken;
  }

  /** Bytes held for an unfinished handshake or frame. */
  get pendingBytes(): number {
    return this.#pending.length;
  }

  /** Takes the next bytes read; returns the frames they complete, and a problem that ends the stream. */
  push(chunk: Uint8Array): { frames: CanFrame[]; problem?: WireProblem } {
    if (this.#failed !== undefined) return { frames: [], problem: this.#failed };
    let bytes =
      this.#pending.length === 0 ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) : Buffer.concat([this.#pending, chunk]);
    if (!this.#handshaken) {
      const seen = Math.min(bytes.length, TCP_HANDSHAKE.length);
      if (!bytes.subarray(0, seen).equals(TCP_HANDSHAKE.subarray(0, seen))) {
        return this.#fail({
          cause: 'handshake',
          message: `the peer's first bytes ${JSON.stringify(bytes.subarray(0, seen).toString('latin1'))} are not ${JSON.stringify(TCP_HANDSHAKE.toString('ascii'))}`,
        });
      }
      if (seen < TCP_HANDSHAKE.length) {
        this.#pending = Buffer.from(bytes);
        return { frames: [] };
      }
      this.#handshaken = true;
      bytes = bytes.subarray(TCP_HANDSHAKE.length);
    }
    const frames: CanFrame[] = [];
    let offset = 0;
    while (offset < bytes.length) {
      const read = readFrame(bytes, offset);
      if ('problem' in read) return { ...this.#fail(read.problem), frames };
      if ('need' in read) break;
      frames.push(read.frame);
      offset = read.next;
    }
    // Copied, so that the chunk (often a large socket buffer) is not kept alive by a few bytes.
    this.#pending = offset === bytes.length ? Buffer.alloc(0) : Buffer.from(bytes.subarray(offset));
    return { frames };
  }

  #fail(problem: WireProblem): { frames: CanFrame[]; problem: WireProblem } {
    this.#failed = problem;
    this.#pending = Buffer.alloc(0);
    return { frames: [], problem };
  }
}
