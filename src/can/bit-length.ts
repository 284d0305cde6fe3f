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
 * The bits of a frame as they are sent, counted rather than kept: bit stuffing (after five equal bits, a
 * complementary one, which counts as the first of the next run) and, for classic frames, the CRC-15 over the bits
 * before stuffing. Per bit a few integer operations: a timed bus computes this for every frame it carries.
 */
class BitCounter {
  bits = 0;
  stuff = 0;
  crc = 0;
  run = 0;
  last = -1;
  /** Whether the last bit counted made a stuff bit follow (FD: the fixed stuff bit takes its place instead). */
  stuffedLast = false;
  readonly withCrc: boolean;

  constructor(withCrc: boolean) {
    this.withCrc = withCrc;
  }

  /** The `width` low bits of `value` (at most 31), most significant first. */
  push(value: number, width: number): void {
    let bits = this.bits;
    let stuff = this.stuff;
    let crc = this.crc;
    let run = this.run;
    let last = this.last;
    let stuffed = this.stuffedLast;
    for (let i = width - 1; i >= 0; i--) {
      const bit = (value >>> i) & 1;
      if (this.withCrc) {
        const top = (crc >> 14) & 1;
        crc = (crc << 1) & 0x7fff;
        if ((top ^ bit) === 1) crc ^= CRC15_POLY;
      }
      bits += 1;
      if (bit === last) run += 1;
      else {
        last = bit;
        run = 1;
      }
      stuffed = run === 5;
      if (stuffed) {
        stuff += 1;
        last = 1 - bit;
        run = 1;
      }
    }
    this.bits = bits;
    this.stuff = stuff;
    this.crc = crc;
    this.run = run;
    this.last = last;
    this.stuffedLast = stuffed;
  }

  bit(bit: number): void {
    this.push(bit, 1);
  }
}

/** The identifier's bits, SOF included, up to (not including) RTR/RRS: base or extended format. */
function pushHeader(counter: BitCounter, frame: CanFrame): void {
  counter.bit(0);
  if (frame.extended) {
    counter.push(Math.floor(frame.id / 2 ** 18), 11);
    counter.push(0b11, 2); // SRR, IDE
    counter.push(frame.id % 2 ** 18, 18);
  } else counter.push(frame.id, 11);
}

function pushData(counter: BitCounter, data: Uint8Array): void {
  for (const byte of data) counter.push(byte, 8);
}

function classicBits(frame: Extract<CanFrame, { kind: 'classic' }>): FrameBits {
  const counter = new BitCounter(true);
  pushHeader(counter, frame);
  counter.bit(frame.rtr ? 1 : 0);
  // Base format: IDE (0) and r0; extended: r1 and r0.
  counter.push(0, 2);
  counter.push(frame.len8Dlc ?? frame.data.length, 4);
  if (!frame.rtr) pushData(counter, frame.data);
  // The CRC field is stuffed too, going on from the run the bits before it left.
  counter.push(counter.crc, 15);
  return { nominal: counter.bits + counter.stuff + FRAME_TAIL_BITS, data: 0, stuff: counter.stuff };
}

function fdBits(frame: Extract<CanFrame, { kind: 'fd' }>): FrameBits {
  const counter = new BitCounter(false);
  pushHeader(counter, frame);
  // RRS; base format: IDE (0); then FDF (1), res (0), BRS.
  counter.bit(0);
  if (!frame.extended) counter.bit(0);
  counter.push(0b10, 2);
  counter.bit(frame.brs ? 1 : 0);
  const nominalBits = counter.bits;
  const stuffBeforeEsi = counter.stuff;
  counter.bit(frame.esi ? 1 : 0);
  counter.push(CANFD_LENGTHS.indexOf(frame.data.length), 4);
  pushData(counter, frame.data);
  // No dynamic stuff bit after the data: the fixed stuff bit before the stuff count takes its place.
  const dynamic = counter.stuff - (counter.stuffedLast ? 1 : 0);
  const crcWidth = frame.data.length > 16 ? 21 : 17;
  const fixed = crcWidth === 17 ? 6 : 7;
  // The stuff count, the CRC and the fixed stuff bits: their length never depends on the content.
  const crcField = 4 + crcWidth + fixed;
  const total = counter.bits + dynamic + crcField + FRAME_TAIL_BITS;
  const nominal = frame.brs ? nominalBits + stuffBeforeEsi + FRAME_TAIL_BITS : total;
  return { nominal, data: total - nominal, stuff: dynamic + fixed };
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
