import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidValueError } from '../../../src/errors.js';
import { classicFrame, fdFrame } from '../../../src/can/frame.js';
import { formatCandump, formatCandumpLog, formatCansend, parseCandumpLog, parseCansend } from '../../../src/can/text.js';

describe('frames as can-utils writes them', () => {
  it("parses cansend's syntax: standard, extended, remote, dotted data, FD with flags", () => {
    assert.deepEqual(parseCansend('frame', '123#DEADBEEF'), classicFrame({ id: 0x123, data: [0xde, 0xad, 0xbe, 0xef] }));
    assert.deepEqual(parseCansend('frame', '12345678#11.22'), classicFrame({ id: 0x12345678, extended: true, data: [0x11, 0x22] }));
    assert.deepEqual(parseCansend('frame', '00000123#'), classicFrame({ id: 0x123, extended: true }));
    assert.deepEqual(parseCansend('frame', '7DF#R'), classicFrame({ id: 0x7df, rtr: true }));
    assert.deepEqual(parseCansend('frame', '7DF#R3'), classicFrame({ id: 0x7df, rtr: true, data: new Uint8Array(3) }));
    assert.deepEqual(
      parseCansend('frame', '123##1' + '11'.repeat(12)),
      fdFrame({ id: 0x123, brs: true, data: new Uint8Array(12).fill(0x11) }),
    );
    assert.deepEqual(parseCansend('frame', '123##3'), fdFrame({ id: 0x123, brs: true, esi: true }));
  });

  it('refuses what cansend would, naming the field and the syntax', () => {
    for (const bad of ['', '12#00', '123', '123#0', '800#00', '123#001122334455667788', '123##', '123##1' + '11'.repeat(9), 'xyz#00']) {
      assert.throws(
        () => parseCansend('frame', bad),
        (error: unknown) =>
          error instanceof InvalidValueError && error.field === 'frame' && /ID#DATA as cansend takes it/u.test(error.message),
        bad,
      );
    }
  });

  it('writes frames back in the compact syntax candump -L uses, round trip', () => {
    for (const text of ['123#DEADBEEF', '12345678#1122', '7DF#R', '7DF#R3', '123##5' + '11'.repeat(12), '123##4', '123##7', '000#'])
      assert.equal(formatCansend(parseCansend('frame', text)), text);
    assert.equal(formatCansend(parseCansend('frame', '123##1AA')), '123##5AA', 'the FDF bit (4) is written, as candump -L does');
  });

  it("writes candump's long lines: id, [length], bytes; FD lengths in two digits; remote requests", () => {
    assert.equal(formatCandump('vcan0', parseCansend('f', '123#DEADBEEF')), '  vcan0  123   [4]  DE AD BE EF');
    assert.equal(formatCandump('vcan0', parseCansend('f', '12345678#1122')), '  vcan0  12345678   [2]  11 22');
    assert.equal(formatCandump('vcan0', parseCansend('f', '123##1' + '11'.repeat(12))), `  vcan0  123  [12]  ${'11 '.repeat(12).trim()}`);
    assert.equal(formatCandump('vcan0', parseCansend('f', '7DF#R2')), '  vcan0  7DF   [2]  remote request');
    assert.equal(formatCandump('can0', parseCansend('f', '123#'), 5), '   can0  123   [0]');
    assert.equal(
      formatCandump('vcan0', parseCansend('f', '7DF#R'), 5, true),
      '  vcan0       7DF   [0]  remote request',
      'indented once an extended id was shown',
    );
  });

  it('writes candump -L lines with seconds and microseconds', () => {
    assert.equal(formatCandumpLog(1700000000123456, 'powertrain', parseCansend('f', '123#01')), '(1700000000.123456) powertrain 123#01');
    assert.equal(formatCandumpLog(5000, 'x', parseCansend('f', '123#')), '(0000000000.005000) x 123#');
  });

  it('reads candump -L logs back, with their timing, skipping blank and comment lines', () => {
    const log = [
      '(1700000000.000000) can0 123#01',
      '',
      '# a comment',
      '(1700000000.250000) vcan1 12345678##5AABB T',
      '(1700000001.000001) powertrain 7DF#R',
    ].join('\n');
    const entries = parseCandumpLog(log);
    assert.deepEqual(
      entries.map((e) => [Math.round((e.timeMs - 1700000000000) * 1000) / 1000, e.iface, formatCansend(e.frame)]),
      [
        [0, 'can0', '123#01'],
        [250, 'vcan1', '12345678##5AABB'],
        [1000.001, 'powertrain', '7DF#R'],
      ],
    );
    assert.throws(() => parseCandumpLog('(1.000000) can0 123#01\ngarbage'), /log line 2: "garbage" is not valid/u);
    assert.throws(() => parseCandumpLog('(1.000000) can0 12#01'), /log line 1: "12#01"/u);
  });
});
