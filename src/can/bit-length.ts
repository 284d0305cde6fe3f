// How long a frame holds a bus: its bits on the wire, as ISO 11898-1 lays them out, with the stuff bits its content
// makes. A timed bus (bitrate=N) carries no more frames than this allows.
//
// Classic frames (CAN 2.0): SOF, the identifier (11 bits; or 11, SRR, IDE and 18 more), RTR, IDE/r1, r0, DLC, the
// data, CRC-15; bit stuffing (a complementary bit after five equal ones) from SOF to the CRC's end; then 13 bits
// that are never stuffed: CRC delimiter, ACK slot, ACK delimiter, 7 of end of frame, 3 of intermission.
//
// FD frames (ISO 11898-1:2015): SOF, the identifier, RRS, IDE, FDF, res, BRS, ESI, DLC, the data, dynamically
// stuffed as above; then the stuff count (4 bits) and CRC-17 (up to 16 data bytes) or CRC-21, with a fixed stuff bit
// before the stuff count and after every 4 bits (6 or 7 of them; their number never depends on the content); then
// the same 13 bits. With BRS, the bits after BRS up to the CRC's end go at the data bit rate; the switch happens
// inside BRS and the CRC delimiter, which are counted at the nominal rate.
import { CANFD_LENGTHS, type CanFrame } from './frame.js';

/** A frame's bits: those sent at the nominal (arbitration) rate, those at the data rate (FD with BRS), the stuff bits among them. */
export interface FrameBits {
  readonly nominal: number;
  readonly data: number;
  /** Stuff bits among them: dynamic ones (those the content makes) and, in FD frames, the fixed ones. */
  readonly stuff: number;
}

/** The bits after the CRC field, never stuffed: CRC delimiter, ACK slot and delimiter, end of frame, intermission. */
export const FRAME_TAIL_BITS = 13;
export const CRC15_POLY = 0x4599;

function pushBits(bits: number[], value: number, width: number): void {
  for (let i = width - 1; i >= 0; i--) bits.push(Math.floor(value / 2 ** i) % 2);
}

/** A CRC over bits, most significant first: `poly` without its top term, register `width` bits from `init`. */
export function crcBits(bits: readonly number[], poly: number, width: number, init = 0): number {
  const mask = 2 ** width - 1;
  let register = init;
  for (const bit of bits) {
    const top = Math.floor(register / 2 ** (width - 1)) % 2;
    register = (register * 2) & mask;
    if ((top ^ bit) === 1) register ^= poly;
  }
  return register;
}

/**
 * Bit stuffing: after five equal bits, a complementary one, which counts as the first of the next run. Returns how
 * many stuff bits go in and how many of them come before input bit `mark` ends (the nominal-rate part of an FD
 * frame). Without `trailing`, no stuff bit follows the last input bit (FD: the fixed stuff bit takes its place).
 */
function stuffBits(bits: readonly number[], trailing: boolean, mark = bits.length): { count: number; beforeMark: number } {
  let run = 0;
  let last = -1;
  let count = 0;
  let beforeMark = 0;
  bits.forEach((bit, index) => {
    if (index === mark) beforeMark = count;
    if (bit === last) run += 1;
    else {
      last = bit;
      run = 1;
    }
    if (run === 5 && (trailing || index < bits.length - 1)) {
      count += 1;
      last = 1 - bit;
      run = 1;
    }
  });
  return { count, beforeMark: mark >= bits.length ? count : beforeMark };
}

/** The identifier's bits, SOF included, up to (not including) RTR/RRS: base or extended format. */
function headerBits(frame: CanFrame): number[] {
  const bits = [0];
  if (frame.extended) {
    pushBits(bits, Math.floor(frame.id / 2 ** 18), 11);
    bits.push(1, 1); // SRR, IDE
    pushBits(bits, frame.id % 2 ** 18, 18);
  } else pushBits(bits, frame.id, 11);
  return bits;
}

function dataBits(bits: number[], data: Uint8Array): void {
  for (const byte of data) pushBits(bits, byte, 8);
}

function classicBits(frame: Extract<CanFrame, { kind: 'classic' }>): FrameBits {
  const bits = headerBits(frame);
  bits.push(frame.rtr ? 1 : 0);
  // Base format: IDE (0) and r0; extended: r1 and r0.
  bits.push(0, 0);
  pushBits(bits, frame.len8Dlc ?? frame.data.length, 4);
  if (!frame.rtr) dataBits(bits, frame.data);
  pushBits(bits, crcBits(bits, CRC15_POLY, 15), 15);
  const { count } = stuffBits(bits, true);
  return { nominal: bits.length + count + FRAME_TAIL_BITS, data: 0, stuff: count };
}

function fdBits(frame: Extract<CanFrame, { kind: 'fd' }>): FrameBits {
  const bits = headerBits(frame);
  // RRS; base format: IDE (0); then FDF (1), res (0), BRS.
  bits.push(0);
  if (!frame.extended) bits.push(0);
  bits.push(1, 0, frame.brs ? 1 : 0);
  const afterBrs = bits.length;
  bits.push(frame.esi ? 1 : 0);
  pushBits(bits, CANFD_LENGTHS.indexOf(frame.data.length), 4);
  dataBits(bits, frame.data);
  const dynamic = stuffBits(bits, false, afterBrs);
  const crcWidth = frame.data.length > 16 ? 21 : 17;
  const fixed = crcWidth === 17 ? 6 : 7;
  // The stuff count, the CRC and the fixed stuff bits: their length never depends on the content.
  const crcField = 4 + crcWidth + fixed;
  const total = bits.length + dynamic.count + crcField + FRAME_TAIL_BITS;
  const nominal = frame.brs ? afterBrs + dynamic.beforeMark + FRAME_TAIL_BITS : total;
  return { nominal, data: total - nominal, stuff: dynamic.count + fixed };
}

/** A frame's bits on the wire; error frames are the kernel's reports, never sent: 0. */
export function frameBits(frame: CanFrame): FrameBits {
  if (frame.error) return { nominal: 0, data: 0, stuff: 0 };
  return frame.kind === 'fd' ? fdBits(frame) : classicBits(frame);
}

/** How long a frame holds the bus, in microseconds, at `bitrate` (and `dbitrate` for an FD frame's data phase). */
export function frameTimeUs(frame: CanFrame, bitrate: number, dbitrate = bitrate): number {
  const bits = frameBits(frame);
  return (bits.nominal * 1e6) / bitrate + (bits.data * 1e6) / dbitrate;
}
