// Decoders face bytes from the kernel and from users (`cantainer decode`): whatever arrives, they must end
// with a value or a MalformedMessageError, never another exception or a hang.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRule, addRuleRequest } from '../../../src/netlink/cangw.js';
import { decodeLink, createVxcanPairRequest } from '../../../src/netlink/link.js';
import { decodeAck, decodeMessages, encodeRequest } from '../../../src/netlink/message.js';
import { ReplyCollector } from '../../../src/netlink/reply.js';
import { CantainerError } from '../../../src/errors.js';
import { seededRandom } from '../../support/helpers.js';

function decodeEverything(bytes: Buffer): void {
  for (const message of decodeMessages(bytes)) {
    for (const decode of [decodeLink, decodeRule, decodeAck]) {
      try {
        decode({ ...message, type: decode === decodeLink ? 16 : decode === decodeRule ? 24 : 2 });
      } catch (error) {
        if (!(error instanceof CantainerError)) throw error;
      }
    }
  }
  new ReplyCollector(0, true).accept(bytes);
}

function mustNotCrash(bytes: Buffer): void {
  try {
    decodeEverything(bytes);
  } catch (error) {
    assert.ok(error instanceof CantainerError, `unexpected ${String(error)} for ${bytes.toString('hex')}`);
  }
}

describe('decoder robustness', () => {
  const seeds = [
    encodeRequest(createVxcanPairRequest({ name: 'hx1', mtu: 72, peer: { name: 'cx1', netnsFd: 3 } }), 1),
    encodeRequest(
      addRuleRequest({
        sourceIndex: 1,
        destinationIndex: 2,
        filter: { id: 1, mask: 2 },
        modifications: { set: { fields: ['id'], canId: 1, len: 0, flags: 0, data: new Uint8Array(0) } },
      }),
      1,
    ),
  ];

  it('survives every truncation of valid messages', () => {
    for (const seed of seeds) for (let length = 0; length <= seed.length; length++) mustNotCrash(seed.subarray(0, length));
  });

  it('survives 20000 random mutations of valid messages', () => {
    const random = seededRandom(0xc0ffee);
    for (let round = 0; round < 20000; round++) {
      const bytes = Buffer.from(seeds[round % seeds.length]!);
      const flips = 1 + Math.floor(random() * 4);
      for (let i = 0; i < flips; i++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      mustNotCrash(bytes);
    }
  });

  it('survives random bytes', () => {
    const random = seededRandom(42);
    for (let round = 0; round < 5000; round++) {
      mustNotCrash(Buffer.from(Array.from({ length: Math.floor(random() * 96) }, () => Math.floor(random() * 256))));
    }
  });
});
