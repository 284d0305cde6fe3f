import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { classicFrame, decodeFrame, encodeFrame, fdFrame } from '../../../src/can/frame.js';
import { InvalidValueError, MalformedMessageError } from '../../../src/errors.js';
import { hex } from '../../support/helpers.js';

describe('CAN frames (struct can_frame / canfd_frame, linux/can.h)', () => {
  it('encodes a classic standard frame', () => {
    assert.deepEqual(
      encodeFrame(classicFrame({ id: 0x123, data: [0xde, 0xad, 0xbe, 0xef] })),
      hex('23010000 04 00 00 00 deadbeef00000000'),
    );
  });

  it('encodes extended, RTR and raw-DLC frames', () => {
    assert.deepEqual(encodeFrame(classicFrame({ id: 0x12345678 })).subarray(0, 4), hex('78563492'));
    assert.deepEqual(encodeFrame(classicFrame({ id: 0x7ff, rtr: true, data: new Uint8Array(2) })).subarray(0, 5), hex('ff070040 02'));
    assert.deepEqual(encodeFrame(classicFrame({ id: 1, data: new Uint8Array(8), len8Dlc: 14 })).subarray(4, 8), hex('08 00 00 0e'));
  });

  it('encodes an FD frame with BRS and the FDF flag the kernel sets', () => {
    const bytes = encodeFrame(fdFrame({ id: 0x42, brs: true, data: new Uint8Array(12).fill(0xaa) }));
    assert.equal(bytes.length, 72);
    assert.deepEqual(bytes.subarray(0, 8), hex('42000000 0c 05 0000'));
    assert.deepEqual(bytes.subarray(8, 20), Buffer.alloc(12, 0xaa));
  });

  it('round-trips frames', () => {
    const frames = [
      classicFrame({ id: 0x1fffffff, extended: true, data: [1, 2, 3, 4, 5, 6, 7, 8], len8Dlc: 9 }),
      classicFrame({ id: 0, extended: false }),
      fdFrame({ id: 0x7ff, esi: true, data: new Uint8Array(64).fill(3) }),
      fdFrame({ id: 5, extended: true }),
    ];
    for (const frame of frames) assert.deepEqual(decodeFrame(encodeFrame(frame)), frame);
  });

  it('rejects invalid frames naming the field', () => {
    assert.throws(
      () => classicFrame({ id: 0x800, extended: false }),
      (e: unknown) => e instanceof InvalidValueError && /^frame\.id: 2048 .*standard \(11-bit\)/u.test(e.message),
    );
    assert.throws(() => classicFrame({ id: 1, data: new Uint8Array(9) }), /frame\.data: 9 bytes/u);
    assert.throws(() => fdFrame({ id: 1, data: new Uint8Array(9) }), /frame\.data: 9 bytes is not valid; allowed: a CAN FD length/u);
    assert.throws(() => classicFrame({ id: 1, data: new Uint8Array(7), len8Dlc: 9 }), /frame\.len8Dlc/u);
  });

  it('rejects wrong sizes and lengths on decode', () => {
    assert.throws(() => decodeFrame(new Uint8Array(15)), MalformedMessageError);
    assert.throws(() => decodeFrame(hex('01000000 09 000000 0000000000000000')), /classic frame length 9 exceeds 8/u);
    const fd = Buffer.alloc(72);
    fd[4] = 65;
    assert.throws(() => decodeFrame(fd), /length 65 exceeds 64/u);
  });
});
