import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { classicFrame, fdFrame, type CanFrame } from '../../../src/can/frame.js';
import { formatCansend, parseCansend } from '../../../src/can/text.js';
import {
  decodePacket,
  encodedSize,
  encodeFrames,
  encodePacket,
  MAX_ENCODED_FRAME,
  StreamDecoder,
  TCP_HANDSHAKE,
} from '../../../src/cannelloni/codec.js';
import { projectPath } from '../../support/helpers.js';

interface Recorded {
  readonly sent: { readonly frames: string[]; readonly datagrams: string[] };
  readonly batched: { readonly frames: string[]; readonly datagrams: string[] };
  readonly received: Array<{ readonly case: string; readonly datagram: string; readonly onBus: string[] }>;
  readonly tcp: {
    readonly serverToClient: string;
    readonly serverFrames: string[];
    readonly clientToServer: string;
    readonly onBus: string[];
  };
}

const recorded = JSON.parse(readFileSync(projectPath('test', 'fixtures', 'cannelloni', 'cannelloni-2.1.2.json'), 'utf8')) as Recorded;
const frame = (text: string): CanFrame => parseCansend('frame', text);
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const texts = (frames: readonly CanFrame[]): string[] => frames.map(formatCansend);

describe('cannelloni wire format: what cannelloni 2.1.2 sent', () => {
  it('encodes each frame into the datagram cannelloni sent for it, byte for byte, sequence numbers counting up', () => {
    assert.equal(recorded.sent.frames.length, recorded.sent.datagrams.length);
    recorded.sent.frames.forEach((text, i) => {
      assert.equal(hex(encodePacket(i, [frame(text)])), recorded.sent.datagrams[i], text);
    });
  });

  it('batches five frames into the one datagram cannelloni sent', () => {
    assert.equal(hex(encodePacket(0, recorded.batched.frames.map(frame))), recorded.batched.datagrams[0]);
  });

  it('decodes every datagram cannelloni sent back into the frames it was sent for', () => {
    recorded.sent.datagrams.forEach((datagram, i) => {
      const decoded = decodePacket(Buffer.from(datagram, 'hex'));
      assert.equal(decoded.problem, undefined);
      assert.equal(decoded.sequence, i);
      // The kernel marks FD frames with FDF (4): candump -L writes it, so compare as the bus would show them.
      assert.deepEqual(texts(decoded.frames), [formatCansend(frame(recorded.sent.frames[i]!))]);
    });
    assert.deepEqual(texts(decodePacket(Buffer.from(recorded.batched.datagrams[0]!, 'hex')).frames), recorded.batched.frames);
  });

  it('puts on the bus exactly what cannelloni put on the bus for each crafted datagram, valid or malformed', () => {
    for (const { case: name, datagram, onBus } of recorded.received) {
      const decoded = decodePacket(Buffer.from(datagram, 'hex'));
      assert.deepEqual(texts(decoded.frames), onBus, name);
    }
  });

  it('names the problem of each malformed datagram cannelloni refused', () => {
    const causes = Object.fromEntries(
      recorded.received.map(({ case: name, datagram }) => [name, decodePacket(Buffer.from(datagram, 'hex')).problem?.cause]),
    );
    assert.deepEqual(causes, {
      'valid classic 0x111 #AABB': undefined,
      'valid two frames, seq 7': undefined,
      'valid FD 0x114, flags BRS, length 12': undefined,
      'version 1': 'version',
      'op code ACK': 'op-code',
      'count 2 but one frame': 'incomplete',
      'classic length 9': 'length',
      'FD length 65': 'length',
      'header only, count 0': undefined,
      'RTR extended 0x120, length 4, no data': undefined,
      'valid classic 0x121 after the bad ones': undefined,
    });
  });

  it("streams frames over TCP as cannelloni's server did: handshake, then frames back to back", () => {
    const stream = Buffer.concat([TCP_HANDSHAKE, encodeFrames(recorded.tcp.serverFrames.map(frame))]);
    assert.equal(hex(stream), recorded.tcp.serverToClient);
    const decoder = new StreamDecoder();
    const { frames, problem } = decoder.push(Buffer.from(recorded.tcp.serverToClient, 'hex'));
    assert.equal(problem, undefined);
    assert.deepEqual(
      texts(frames),
      recorded.tcp.serverFrames.map((text) => formatCansend(frame(text))),
    );
  });

  it("takes a client's stream as cannelloni's server took it", () => {
    // The recorded client bytes hold one stray 0x02 after the first frame's length byte: read by this format's rules
    // (cannelloni's own decoder included) they cannot give 211#CAFE, which is what reached the bus. Without that
    // byte they are exactly the two frames the bus showed.
    const sent = Buffer.from(recorded.tcp.clientToServer, 'hex');
    assert.equal(hex(sent.subarray(0, 8)), '000002110202cafe');
    const stream = Buffer.concat([TCP_HANDSHAKE, sent.subarray(0, 5), sent.subarray(6)]);
    const { frames, problem } = new StreamDecoder().push(stream);
    assert.equal(problem, undefined);
    assert.deepEqual(texts(frames), recorded.tcp.onBus);
  });
});

describe('cannelloni wire format: limits and malformed input', () => {
  const frames: CanFrame[] = [
    classicFrame({ id: 0x123, data: [1, 2, 3] }),
    classicFrame({ id: 0x1abcdef, extended: true, data: [] }),
    classicFrame({ id: 0x7df, rtr: true, data: new Uint8Array(8) }),
    fdFrame({ id: 0x42, brs: true, esi: true, data: new Uint8Array(64).map((_, i) => i) }),
    fdFrame({ id: 0x1fffffff, extended: true, data: new Uint8Array(12).fill(0xee) }),
    classicFrame({ id: 0x1, error: true, data: [0, 4, 0, 0, 0, 0, 0, 0] }),
  ];

  it('round-trips classic, extended, remote, error and FD frames through a packet', () => {
    const packet = encodePacket(300, frames);
    assert.equal(packet[2], 300 & 0xff, 'the sequence number wraps at 256');
    assert.equal(packet.length, 5 + frames.reduce((sum, f) => sum + encodedSize(f), 0));
    const decoded = decodePacket(packet);
    assert.equal(decoded.problem, undefined);
    assert.deepEqual(decoded.frames, frames);
  });

  it('sizes frames as the wire does: no data for a remote request, a flags byte for FD', () => {
    assert.deepEqual(frames.map(encodedSize), [8, 5, 5, 70, 18, 13]);
    assert.equal(MAX_ENCODED_FRAME, 70);
  });

  it('refuses a packet shorter than its header, and every truncation of a valid packet, without throwing', () => {
    assert.equal(decodePacket(Buffer.from('0200', 'hex')).problem?.cause, 'short-packet');
    const packet = encodePacket(1, frames);
    for (let cut = 5; cut < packet.length; cut++) {
      const decoded = decodePacket(packet.subarray(0, cut));
      assert.equal(decoded.problem?.cause, 'incomplete', `cut at ${cut}`);
      assert.ok(decoded.frames.length < frames.length);
      assert.deepEqual(decoded.frames, frames.slice(0, decoded.frames.length), 'the complete frames before the cut');
    }
  });

  it('reads a count of 65535 over a tiny packet without reading past it', () => {
    const packet = Buffer.from('02000bffff0000012301aa', 'hex');
    const decoded = decodePacket(packet);
    assert.deepEqual(texts(decoded.frames), ['123#AA']);
    assert.match(decoded.problem?.message ?? '', /frame 2 of 65535 needs 5 bytes at offset 11, the packet has 0/u);
  });

  it('refuses every length over the limit: classic 9..127, FD 65..127', () => {
    for (let length = 9; length < 128; length++) {
      const bytes = Buffer.concat([Buffer.from([2, 0, 0, 0, 1, 0, 0, 1, 0x23, length]), Buffer.alloc(length)]);
      assert.equal(decodePacket(bytes).problem?.cause, 'length', `classic ${length}`);
      if (length > 64) {
        const fd = Buffer.concat([Buffer.from([2, 0, 0, 0, 1, 0, 0, 1, 0x23, 0x80 | length, 0]), Buffer.alloc(length)]);
        assert.equal(decodePacket(fd).problem?.cause, 'length', `FD ${length}`);
      }
    }
  });

  it('decodes random bytes without throwing or reading past them; what it keeps survives a round trip', () => {
    let seed = 12345;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed >>> 16;
    };
    let kept = 0;
    for (let round = 0; round < 5000; round++) {
      const bytes = Buffer.alloc(random() % 120);
      for (let i = 0; i < bytes.length; i++) bytes[i] = random() & 0xff;
      // Half with a valid header, so that the frame parser is what gets the garbage.
      if (round % 2 === 0 && bytes.length >= 2) bytes.set([2, 0], 0);
      const decoded = decodePacket(new Uint8Array(bytes));
      kept += decoded.frames.length;
      assert.deepEqual(decodePacket(encodePacket(0, decoded.frames)).frames, decoded.frames, `round ${round}`);
    }
    assert.ok(kept > 100, `only ${kept} frames parsed from random input: the test would not exercise the parser`);
  });
});

describe('cannelloni TCP streams', () => {
  const frames = [
    classicFrame({ id: 0x100, data: [1] }),
    fdFrame({ id: 0x200, brs: true, data: new Uint8Array(48).fill(7) }),
    classicFrame({ id: 0x300, rtr: true, data: new Uint8Array(2) }),
  ];
  const stream = Buffer.concat([TCP_HANDSHAKE, encodeFrames(frames)]);

  it('reassembles frames split across reads at every byte boundary (cannelloni issue 73)', () => {
    for (let split = 1; split < stream.length; split++) {
      const decoder = new StreamDecoder();
      const first = decoder.push(stream.subarray(0, split));
      const second = decoder.push(stream.subarray(split));
      assert.equal(first.problem ?? second.problem, undefined);
      assert.deepEqual([...first.frames, ...second.frames], frames, `split at ${split}`);
      assert.equal(decoder.pendingBytes, 0);
    }
  });

  it('takes the stream one byte at a time, holding at most one partial frame', () => {
    const decoder = new StreamDecoder();
    const got: CanFrame[] = [];
    let most = 0;
    for (const byte of stream) {
      got.push(...decoder.push(Buffer.from([byte])).frames);
      most = Math.max(most, decoder.pendingBytes);
    }
    assert.deepEqual(got, frames);
    assert.ok(most < MAX_ENCODED_FRAME, `held ${most} bytes`);
  });

  it('refuses a garbage handshake at its first wrong byte, and stays refused', () => {
    const decoder = new StreamDecoder();
    assert.equal(decoder.push(Buffer.from('CANNE')).problem, undefined);
    assert.equal(decoder.handshaken, false);
    const { problem } = decoder.push(Buffer.from('LLONIv2'));
    assert.equal(problem?.cause, 'handshake');
    assert.match(problem.message, /"CANNELLONIv2" are not "CANNELLONIv1"/u);
    assert.equal(decoder.push(Buffer.concat([TCP_HANDSHAKE, encodeFrames(frames)])).frames.length, 0);
    assert.equal(new StreamDecoder().push(Buffer.from('GET / HTTP/1.1\r\n')).problem?.cause, 'handshake');
  });

  it('ends the stream at a frame over the limit, keeping the frames before it', () => {
    const decoder = new StreamDecoder();
    const bad = Buffer.concat([TCP_HANDSHAKE, encodeFrames(frames.slice(0, 1)), Buffer.from([0, 0, 1, 0x23, 0x80 | 100, 0])]);
    const { frames: got, problem } = decoder.push(bad);
    assert.deepEqual(got, frames.slice(0, 1));
    assert.equal(problem?.cause, 'length');
    assert.equal(decoder.push(encodeFrames(frames)).problem?.cause, 'length');
  });
});
