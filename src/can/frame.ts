// CAN frames as the kernel lays them out (linux/can.h): struct can_frame (16 bytes) and struct canfd_frame
// (72 bytes). can_id is in host byte order (little-endian on every platform cantainer runs on).
import { InvalidValueError, MalformedMessageError } from '../errors.js';

export const CAN_MTU = 16;
export const CANFD_MTU = 72;
export const CAN_MAX_DLEN = 8;
export const CANFD_MAX_DLEN = 64;

export const CAN_EFF_FLAG = 0x80000000;
export const CAN_RTR_FLAG = 0x40000000;
export const CAN_ERR_FLAG = 0x20000000;
export const CAN_SFF_MASK = 0x7ff;
export const CAN_EFF_MASK = 0x1fffffff;
/** In a can_filter id: invert the match. */
export const CAN_INV_FILTER = 0x20000000;

export const CANFD_BRS = 0x01;
export const CANFD_ESI = 0x02;
/** Set by the kernel on every FD frame since CAN XL support; carries no meaning for senders. */
export const CANFD_FDF = 0x04;

/** Data lengths a CAN FD frame can carry (the DLC codes 9..15 map to 12..64). */
export const CANFD_LENGTHS: readonly number[] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64];

interface FrameCommon {
  /** Identifier without flag bits: 11 bits, or 29 bits when `extended`. */
  readonly id: number;
  readonly extended: boolean;
  /** An error frame: `id` holds the error class bits. */
  readonly error: boolean;
  readonly data: Uint8Array;
}

export interface ClassicFrame extends FrameCommon {
  readonly kind: 'classic';
  /** Remote transmission request; `data` is then all zeros and its length is the requested length. */
  readonly rtr: boolean;
  /** Raw DLC 9..15 for an 8-byte frame, when the sender set one; otherwise undefined. */
  readonly len8Dlc: number | undefined;
}

export interface FdFrame extends FrameCommon {
  readonly kind: 'fd';
  /** Bit rate switch. */
  readonly brs: boolean;
  /** Error state indicator. */
  readonly esi: boolean;
}

export type CanFrame = ClassicFrame | FdFrame;

export interface ClassicFrameInit {
  id: number;
  extended?: boolean;
  rtr?: boolean;
  error?: boolean;
  data?: Uint8Array | readonly number[];
  len8Dlc?: number;
}

export interface FdFrameInit {
  id: number;
  extended?: boolean;
  error?: boolean;
  brs?: boolean;
  esi?: boolean;
  data?: Uint8Array | readonly number[];
}

/** Builds a validated classic frame; `extended` defaults to true when the id does not fit in 11 bits. */
export function classicFrame(init: ClassicFrameInit): ClassicFrame {
  const extended = init.extended ?? init.id > CAN_SFF_MASK;
  checkId(init.id, extended, init.error ?? false);
  const data = Uint8Array.from(init.data ?? []);
  if (data.length > CAN_MAX_DLEN) throw new InvalidValueError('frame.data', data, `0..${CAN_MAX_DLEN} bytes for a classic CAN frame`);
  if (
    init.len8Dlc !== undefined &&
    (data.length !== CAN_MAX_DLEN || !Number.isInteger(init.len8Dlc) || init.len8Dlc < 9 || init.len8Dlc > 15)
  ) {
    throw new InvalidValueError('frame.len8Dlc', init.len8Dlc, 'an integer 9..15, only on a frame with 8 data bytes');
  }
  return { kind: 'classic', id: init.id, extended, error: init.error ?? false, rtr: init.rtr ?? false, data, len8Dlc: init.len8Dlc };
}

export function fdFrame(init: FdFrameInit): FdFrame {
  const extended = init.extended ?? init.id > CAN_SFF_MASK;
  checkId(init.id, extended, init.error ?? false);
  const data = Uint8Array.from(init.data ?? []);
  if (!CANFD_LENGTHS.includes(data.length))
    throw new InvalidValueError('frame.data', data, `a CAN FD length: ${CANFD_LENGTHS.join(', ')} bytes`);
  return { kind: 'fd', id: init.id, extended, error: init.error ?? false, brs: init.brs ?? false, esi: init.esi ?? false, data };
}

function checkId(id: number, extended: boolean, error: boolean): void {
  const max = extended || error ? CAN_EFF_MASK : CAN_SFF_MASK;
  if (!Number.isInteger(id) || id < 0 || id > max) {
    throw new InvalidValueError(
      'frame.id',
      id,
      `an integer 0..0x${max.toString(16)} for ${extended ? 'an extended (29-bit)' : 'a standard (11-bit)'} id`,
    );
  }
}

/** The frame's can_id as the kernel and the wire carry it: the id with its EFF, ERR and RTR flag bits. */
export function rawCanId(frame: CanFrame): number {
  let raw = frame.id;
  if (frame.extended) raw |= CAN_EFF_FLAG;
  if (frame.error) raw |= CAN_ERR_FLAG;
  if (frame.kind === 'classic' && frame.rtr) raw |= CAN_RTR_FLAG;
  return raw >>> 0;
}

/** Encodes a frame into the 16-byte (classic) or 72-byte (FD) kernel structure. */
export function encodeFrame(frame: CanFrame): Buffer {
  const out = Buffer.alloc(frame.kind === 'classic' ? CAN_MTU : CANFD_MTU);
  encodeFrameInto(frame, out);
  return out;
}

/** Writes the frame into `out` (at least 16 bytes classic, 72 FD), every byte of it; returns its length. */
export function encodeFrameInto(frame: CanFrame, out: Uint8Array): number {
  const length = frame.kind === 'classic' ? CAN_MTU : CANFD_MTU;
  const view = Buffer.from(out.buffer, out.byteOffset, length);
  view.fill(0);
  view.writeUInt32LE(rawCanId(frame), 0);
  view.writeUInt8(frame.data.length, 4);
  if (frame.kind === 'classic') {
    if (frame.len8Dlc !== undefined) view.writeUInt8(frame.len8Dlc, 7);
  } else {
    view.writeUInt8((frame.brs ? CANFD_BRS : 0) | (frame.esi ? CANFD_ESI : 0) | CANFD_FDF, 5);
  }
  view.set(frame.data, 8);
  return length;
}

/** Decodes a frame as read from a raw CAN socket: 16 bytes are classic, 72 bytes FD. */
export function decodeFrame(bytes: Uint8Array): CanFrame {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length !== CAN_MTU && buf.length !== CANFD_MTU) {
    throw new MalformedMessageError('CAN frame', `${buf.length} bytes, expected ${CAN_MTU} (classic) or ${CANFD_MTU} (FD)`);
  }
  const raw = buf.readUInt32LE(0);
  const extended = (raw & CAN_EFF_FLAG) !== 0;
  const error = (raw & CAN_ERR_FLAG) !== 0;
  const id = raw & (extended || error ? CAN_EFF_MASK : CAN_SFF_MASK);
  const len = buf.readUInt8(4);
  if (buf.length === CAN_MTU) {
    if (len > CAN_MAX_DLEN) throw new MalformedMessageError('CAN frame', `classic frame length ${len} exceeds ${CAN_MAX_DLEN}`);
    const rtr = (raw & CAN_RTR_FLAG) !== 0;
    const dlc = buf.readUInt8(7);
    const len8Dlc = len === CAN_MAX_DLEN && dlc >= 9 && dlc <= 15 ? dlc : undefined;
    return { kind: 'classic', id, extended, error, rtr, len8Dlc, data: Uint8Array.from(buf.subarray(8, 8 + len)) };
  }
  if (len > CANFD_MAX_DLEN) throw new MalformedMessageError('CAN FD frame', `length ${len} exceeds ${CANFD_MAX_DLEN}`);
  const flags = buf.readUInt8(5);
  return {
    kind: 'fd',
    id,
    extended,
    error,
    brs: (flags & CANFD_BRS) !== 0,
    esi: (flags & CANFD_ESI) !== 0,
    data: Uint8Array.from(buf.subarray(8, 8 + len)),
  };
}
