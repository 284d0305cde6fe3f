import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeAck, decodeMessages, encodeMessage, encodeRequest, formatAckError } from '../../../src/netlink/message.js';
import { ReplyCollector } from '../../../src/netlink/reply.js';
import { Errno, describeErrno, errnoNumber } from '../../../src/netlink/errno.js';
import { MalformedMessageError } from '../../../src/errors.js';
import { hex } from '../../support/helpers.js';

// An NLMSG_ERROR as the kernel sends it for a failed RTM_NEWLINK when extended acks are on: nlmsgerr with the
// request header only (NLM_F_CAPPED) and an NLMSGERR_ATTR_MSG text (NLM_F_ACK_TLVS): flags 0x300.
const unknownDeviceType = hex(
  '3c000000 0200 0003 09000000 00000000', // nlmsghdr: len 60, NLMSG_ERROR, CAPPED|ACK_TLVS, seq 9
  'a1ffffff', // error -95 (EOPNOTSUPP)
  '44000000 1000 0506 09000000 00000000', // the request's header: len 68, RTM_NEWLINK, 0x605, seq 9
  '1800 0100', // NLMSGERR_ATTR_MSG, len 24
  '556e6b6e6f776e206465766963652074797065 00', // "Unknown device type\0"
);

describe('netlink message framing', () => {
  it('encodes the 16-byte header in host order with the total length', () => {
    const bytes = encodeMessage({ type: 24, flags: 0x5, seq: 0x01020304, pid: 77, payload: hex('1d010100') });
    assert.deepEqual(bytes, hex('14000000 1800 0500 04030201 4d000000 1d010100'));
  });

  it('pads the message to 4 bytes but counts only the real length', () => {
    const bytes = encodeRequest({ type: 3, flags: 0, payload: hex('aa') }, 1);
    assert.deepEqual(bytes, hex('11000000 0300 0000 01000000 00000000 aa000000'));
  });

  it('splits a datagram holding several messages', () => {
    const one = encodeRequest({ type: 16, flags: 2, payload: hex('01020304') }, 5);
    const done = encodeRequest({ type: 3, flags: 2, payload: hex('00000000') }, 5);
    const messages = decodeMessages(Buffer.concat([one, done]));
    assert.deepEqual(
      messages.map((m) => [m.type, m.flags, m.seq, m.payload.toString('hex')]),
      [
        [16, 2, 5, '01020304'],
        [3, 2, 5, '00000000'],
      ],
    );
  });

  describe('malformed datagrams', () => {
    const cases: Array<[string, Buffer, RegExp]> = [
      ['a truncated header', hex('14000000 1800'), /6 bytes at offset 0 are too short/u],
      ['a length below the header', hex('08000000 1800 0500 00000000 00000000'), /length 8, below the 16-byte header/u],
      ['a length past the end', hex('40000000 1800 0500 00000000 00000000'), /claims 64 bytes but only 16 remain/u],
      [
        'a second message cut short',
        Buffer.concat([encodeRequest({ type: 3, flags: 0, payload: Buffer.alloc(0) }, 1), hex('10000000')]),
        /4 bytes at offset 16/u,
      ],
    ];
    for (const [name, bytes, pattern] of cases) {
      it(`rejects ${name}`, () => {
        assert.throws(
          () => decodeMessages(bytes),
          (error: unknown) => error instanceof MalformedMessageError && pattern.test(error.message),
        );
      });
    }
  });
});

describe('netlink acknowledgements', () => {
  it('decodes a plain ACK as success', () => {
    const ack = decodeAck(
      decodeMessages(hex('24000000 0200 0001 07000000 00000000', '00000000', '24000000 1800 0500 07000000 00000000'))[0]!,
    );
    assert.equal(ack.errno, 0);
    assert.equal(ack.name, 'OK');
    assert.deepEqual(ack.request, { type: 24, flags: 5, seq: 7, pid: 0 });
  });

  it('decodes an error with the errno name, the C library text and the extended-ack message', () => {
    const ack = decodeAck(decodeMessages(unknownDeviceType)[0]!);
    assert.equal(ack.errno, 95);
    assert.equal(ack.name, 'EOPNOTSUPP');
    assert.equal(ack.extendedMessage, 'Unknown device type');
    assert.equal(formatAckError(ack), 'EOPNOTSUPP (Operation not supported: Unknown device type)');
  });

  it('finds the extended-ack text after an uncapped echo of the whole request', () => {
    const bytes = hex(
      '34000000 0200 0002 02000000 00000000', // ACK_TLVS only: the request is echoed whole
      'efffffff', // -17 EEXIST
      '14000000 1800 0500 02000000 00000000 1d010100', // 20-byte request echoed
      '0c00 0100 6578697374 000000', // MSG "exist\0" (len 10 padded to 12)
    );
    const ack = decodeAck(decodeMessages(bytes)[0]!);
    assert.equal(formatAckError(ack), 'EEXIST (File exists: exist)');
  });

  it('names unknown errnos without guessing', () => {
    assert.deepEqual(describeErrno(4000), { errno: 4000, name: 'E4000', message: 'Unknown error 4000' });
    assert.equal(errnoNumber('EBUSY'), 16);
    for (const [name, number] of Object.entries(Errno)) assert.equal(errnoNumber(name), number, name);
  });

  it('rejects a truncated error and a positive error code', () => {
    assert.throws(() => decodeAck(decodeMessages(hex('18000000 0200 0000 01000000 00000000 efffffff 00000000'))[0]!), /at least 20/u);
    assert.throws(
      () => decodeAck(decodeMessages(hex('24000000 0200 0000 01000000 00000000 05000000', '10000000 1000 0000 01000000 00000000'))[0]!),
      /positive/u,
    );
  });

  it('rejects an extended ack whose echoed request overruns the payload', () => {
    const bytes = hex('24000000 0200 0002 01000000 00000000', 'efffffff', 'ff000000 1000 0000 01000000 00000000');
    assert.throws(() => decodeAck(decodeMessages(bytes)[0]!), MalformedMessageError);
  });
});

describe('reply collection', () => {
  const ackFor = (seq: number, error = 0): Buffer => {
    const payload = Buffer.alloc(20);
    payload.writeInt32LE(-error, 0);
    payload.writeUInt32LE(16, 4);
    payload.writeUInt32LE(seq, 12);
    return encodeRequest({ type: 2, flags: 0x100, payload }, seq);
  };

  it('completes an acknowledged request on its ACK and skips stale replies', () => {
    const collector = new ReplyCollector(8, false);
    assert.equal(collector.accept(ackFor(7, 17)), false);
    assert.equal(collector.accept(ackFor(8)), true);
    assert.deepEqual(collector.result(), { messages: [], error: undefined, interrupted: false });
  });

  it('reports the error of a failed request', () => {
    const collector = new ReplyCollector(3, false);
    collector.accept(ackFor(3, 16));
    assert.equal(collector.result().error?.name, 'EBUSY');
  });

  it('collects a dump over several datagrams until NLMSG_DONE', () => {
    const collector = new ReplyCollector(4, true);
    const entry = (n: number): Buffer => encodeRequest({ type: 24, flags: 0x2, payload: Buffer.of(29, 1, 0, n) }, 4);
    assert.equal(collector.accept(Buffer.concat([entry(1), entry(2)])), false);
    assert.equal(collector.accept(Buffer.concat([entry(3), encodeRequest({ type: 3, flags: 0x12, payload: hex('00000000') }, 4)])), true);
    const reply = collector.result();
    assert.deepEqual(
      reply.messages.map((m) => m.payload[3]),
      [1, 2, 3],
    );
    assert.equal(reply.interrupted, true);
  });

  it('turns a negative NLMSG_DONE status into an error', () => {
    const collector = new ReplyCollector(4, true);
    collector.accept(encodeRequest({ type: 3, flags: 0x2, payload: hex('f4ffffff') }, 4));
    assert.equal(collector.result().error?.name, 'ENOMEM');
  });

  it('refuses NLMSG_DONE for a request that was not a dump, and a result before completion', () => {
    const collector = new ReplyCollector(1, false);
    assert.throws(() => collector.result(), /not complete/u);
    assert.throws(() => collector.accept(encodeRequest({ type: 3, flags: 0x2, payload: hex('00000000') }, 1)), MalformedMessageError);
  });
});
