// A frame's bits on the wire, against frames worked out by hand from ISO 11898-1 and against the standard's fixed
// fields for many generated frames: the stuff bits are what the content makes, the rest never changes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { classicFrame, fdFrame, CANFD_LENGTHS } from '../../../src/can/frame.js';
import { CRC15_POLY, crcBits, frameBits, frameTimeUs } from '../../../src/can/bit-length.js';

function asciiBits(text: string): number[] {
  return [...Buffer.from(text, 'latin1')].flatMap((byte) => Array.from({ length: 8 }, (_, i) => (byte >> (7 - i)) & 1));
}

/** A small deterministic generator, so that a failure can be run again. */
function generator(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe('bits on the wire', () => {
  it("computes CRC-15 as CAN does (the catalogue's check value for '123456789' is 0x059E)", () => {
    assert.equal(crcBits(asciiBits('123456789'), CRC15_POLY, 15), 0x059e);
  });

  it('counts a classic frame of id 0 and no data by hand: 34 zeros from SOF to CRC, a stuff bit after each 5, 13 after', () => {
    // SOF, 11 id bits, RTR, IDE, r0, DLC (4): 19 zeros; the CRC of zeros is 0: 15 more. Stuff bits after the 5th,
    // 10th, ..., 30th zero (each stuff bit is a one, and the zeros after it start a new run): 6.
    assert.deepEqual(frameBits(classicFrame({ id: 0 })), { nominal: 34 + 6 + 13, data: 0, stuff: 6 });
    assert.equal(frameTimeUs(classicFrame({ id: 0 }), 500_000), 106);
  });

  it('counts an FD frame of id 0, no data and BRS by hand, the data phase apart', () => {
    // SOF, 11 id bits, RRS, IDE: 14 zeros (stuff bits after the 5th and 10th); FDF 1, res 0, BRS 1: 17 bits and 2
    // stuff bits at the nominal rate. ESI 0 and DLC 0000 are five zeros, but no dynamic stuff bit follows the last
    // bit before the CRC field: its fixed stuff bit comes instead. Stuff count 4, CRC-17, 6 fixed stuff bits: 27.
    assert.deepEqual(frameBits(fdFrame({ id: 0, brs: true })), { nominal: 17 + 2 + 13, data: 5 + 27, stuff: 2 + 6 });
    // 32 bits at 500 kbit/s and 32 at 2 Mbit/s.
    assert.equal(frameTimeUs(fdFrame({ id: 0, brs: true }), 500_000, 2_000_000), 64 + 16);
    // Without BRS every bit goes at the nominal rate, and BRS 0 makes res, BRS, ESI and DLC seven zeros: a third
    // dynamic stuff bit after the fifth.
    assert.deepEqual(frameBits(fdFrame({ id: 0 })), { nominal: 22 + 3 + 27 + 13, data: 0, stuff: 3 + 6 });
  });

  it('never counts error frames: they are the kernel reporting, not frames on the wire', () => {
    assert.deepEqual(frameBits(classicFrame({ id: 0x004, error: true, data: [0, 0, 0, 0, 0, 0, 0, 0] })), {
      nominal: 0,
      data: 0,
      stuff: 0,
    });
  });

  it('gives every frame the fixed fields of its format, and no more stuff bits than one in four of the stuffed part', () => {
    const random = generator(7);
    const byte = (): number => Math.floor(random() * 256);
    for (let i = 0; i < 2000; i++) {
      const extended = random() < 0.5;
      const id = Math.floor(random() * (extended ? 2 ** 29 : 2 ** 11));
      if (random() < 0.5) {
        const rtr = random() < 0.2;
        const length = Math.floor(random() * 9);
        const frame = classicFrame({ id, extended, rtr, data: rtr ? new Array<number>(length).fill(0) : Array.from({ length }, byte) });
        const bits = frameBits(frame);
        // SOF..DLC is 19 bits (39 extended), then the data, CRC 15, and 13 never stuffed.
        const stuffed = (extended ? 39 : 19) + (rtr ? 0 : 8 * length) + 15;
        assert.equal(bits.nominal - bits.stuff, stuffed + 13, JSON.stringify(frame));
        assert.ok(bits.stuff <= Math.floor((stuffed - 1) / 4), `stuff bits of ${JSON.stringify(frame)}`);
        assert.equal(bits.data, 0);
      } else {
        const length = CANFD_LENGTHS[Math.floor(random() * CANFD_LENGTHS.length)] ?? 0;
        const brs = random() < 0.5;
        const frame = fdFrame({ id, extended, brs, esi: random() < 0.1, data: Array.from({ length }, byte) });
        const bits = frameBits(frame);
        // SOF..DLC is 22 bits (41 extended), then the data; stuff count and CRC-17 or CRC-21; 13 after.
        const header = extended ? 41 : 22;
        const crcField = 4 + (length > 16 ? 21 : 17);
        const fixed = length > 16 ? 7 : 6;
        assert.equal(bits.nominal + bits.data - bits.stuff, header + 8 * length + crcField + 13, JSON.stringify(frame));
        assert.ok(bits.stuff - fixed <= Math.floor((header + 8 * length - 1) / 4));
        if (brs) {
          // The nominal part: SOF to BRS (17 bits, 36 extended), its stuff bits, and the 13 after the CRC.
          const throughBrs = extended ? 36 : 17;
          assert.ok(bits.nominal >= throughBrs + 13 && bits.nominal <= throughBrs + Math.floor(throughBrs / 4) + 13);
        } else assert.equal(bits.data, 0);
      }
    }
  });

  it('spans the known range of 8-byte classic frames: 111 to 135 bits (131 to 160 extended)', () => {
    const random = generator(11);
    const lengths = { base: [] as number[], extended: [] as number[] };
    for (let i = 0; i < 3000; i++) {
      const extended = i % 2 === 1;
      const frame = classicFrame({
        id: Math.floor(random() * (extended ? 2 ** 29 : 2 ** 11)),
        extended,
        data: Array.from({ length: 8 }, () => (random() < 0.5 ? 0 : random() < 0.5 ? 0xff : Math.floor(random() * 256))),
      });
      lengths[extended ? 'extended' : 'base'].push(frameBits(frame).nominal);
    }
    assert.ok(Math.min(...lengths.base) >= 111 && Math.max(...lengths.base) <= 135);
    assert.ok(Math.min(...lengths.extended) >= 131 && Math.max(...lengths.extended) <= 160);
  });
});
