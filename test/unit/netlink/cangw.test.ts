import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  addRuleRequest,
  decodeRule,
  deleteRuleRequest,
  dumpRulesRequest,
  flushRulesRequest,
  ruleKey,
  sameRule,
  type CanGwRule,
  type Crc8Checksum,
} from '../../../src/netlink/cangw.js';
import { decodeMessages, encodeMessage, encodeRequest } from '../../../src/netlink/message.js';
import { InvalidValueError, MalformedMessageError } from '../../../src/errors.js';
import { hex } from '../../support/helpers.js';

// Layouts from linux/can/gw.h: rtcanmsg {AF_CAN=0x1d, CGW_TYPE_CAN_CAN=1, flags u16}, then CGW_* attributes.
const meshRule: CanGwRule = { sourceIndex: 3, destinationIndex: 4, echo: true, allowToIncomingInterface: true, hopLimit: 1 };

function roundTrip(rule: CanGwRule): CanGwRule {
  const request = addRuleRequest(rule);
  // A dump entry is an RTM_NEWROUTE with the same body (plus counters); decode the request as one.
  const [message] = decodeMessages(encodeMessage({ ...request, type: 24, seq: 1, pid: 0 }));
  return decodeRule(message!).rule;
}

describe('can-gw rule requests', () => {
  it('adds a classic rule with echo, IIF_TX_OK and a hop limit', () => {
    assert.deepEqual(
      encodeRequest(addRuleRequest(meshRule), 1),
      hex(
        '2c000000 1800 0500 01000000 00000000', // len 44, RTM_NEWROUTE, REQUEST|ACK
        '1d 01 0500', // AF_CAN, CAN_CAN, ECHO|IIF_TX_OK
        '0800 0900 03000000', // CGW_SRC_IF 3
        '0800 0a00 04000000', // CGW_DST_IF 4
        '0500 0d00 01 000000', // CGW_LIM_HOPS 1
      ),
    );
  });

  it('encodes FD and timestamp flags', () => {
    const request = addRuleRequest({ sourceIndex: 1, destinationIndex: 2, fd: true, sourceTimestamp: true, echo: true });
    assert.deepEqual(request.payload.subarray(0, 4), hex('1d 01 0b00'));
  });

  it('encodes a filter, uid and a classic SET modification in cangw order', () => {
    const rule: CanGwRule = {
      sourceIndex: 3,
      destinationIndex: 4,
      filter: { id: 0x123, mask: 0x7ff },
      uid: 0x42,
      hopLimit: 2,
      modifications: { set: { fields: ['id', 'data'], canId: 0x456, len: 0, flags: 0, data: Uint8Array.of(0xde, 0xad) } },
    };
    assert.deepEqual(
      addRuleRequest(rule).payload,
      hex(
        '1d 01 0000',
        '0800 0900 03000000',
        '0800 0a00 04000000',
        '0c00 0b00 23010000 ff070000', // CGW_FILTER {can_id 0x123, can_mask 0x7ff}
        '0800 0e00 42000000', // CGW_MOD_UID
        '0500 0d00 02 000000', // CGW_LIM_HOPS 2
        '1500 0400', // CGW_MOD_SET, 17-byte cgw_frame_mod
        '56040000 00 00 00 00 dead000000000000', //   struct can_frame
        '05 000000', //   modtype ID|DATA, then padding
      ),
    );
  });

  it('encodes CAN FD modifications as 73-byte cgw_fdframe_mod in FDMOD attributes', () => {
    const payload = addRuleRequest({
      sourceIndex: 1,
      destinationIndex: 2,
      fd: true,
      modifications: { and: { fields: ['flags', 'len'], canId: 0, len: 0x3f, flags: 0x01, data: new Uint8Array(0) } },
    }).payload;
    const attr = payload.subarray(4 + 16);
    assert.deepEqual(attr.subarray(0, 4), hex('4d00 0f00')); // len 77, CGW_FDMOD_AND
    assert.deepEqual(attr.subarray(4, 12), hex('00000000 3f 01 0000'));
    assert.equal(attr[4 + 72], 0x0a); // modtype LEN|FLAGS
    assert.equal(attr.length, 80);
  });

  it('encodes XOR and CRC8 checksums', () => {
    const table = Uint8Array.from({ length: 256 }, (_, i) => i ^ 0x1d);
    const crc8Checksum: Crc8Checksum = {
      fromIndex: 0,
      toIndex: 6,
      resultIndex: 7,
      initialValue: 0xff,
      finalXor: 0x0f,
      table,
      profile: '1u8',
      profileData: Uint8Array.of(0x42),
    };
    const payload = addRuleRequest({
      sourceIndex: 1,
      destinationIndex: 2,
      modifications: { xor: { fields: ['data'], canId: 0, len: 0, flags: 0, data: Uint8Array.of(1) } },
      xorChecksum: { fromIndex: 0, toIndex: -2, resultIndex: -1, initialValue: 0x55 },
      crc8Checksum,
    }).payload;
    const crc = payload.subarray(20, 20 + 288);
    assert.deepEqual(crc.subarray(0, 9), hex('1e01 0600', '00 06 07 ff 0f')); // len 286, CGW_CS_CRC8
    assert.deepEqual(crc.subarray(9, 9 + 256), Buffer.from(table));
    assert.deepEqual(crc.subarray(265, 267), hex('01 42')); // profile 1U8, profile_data[0]
    assert.deepEqual(payload.subarray(20 + 288, 20 + 296), hex('0800 0500 00 fe ff 55')); // CGW_CS_XOR
  });

  it('deletes with the identical description and flushes with index 0', () => {
    assert.equal(deleteRuleRequest(meshRule).type, 25);
    assert.deepEqual(deleteRuleRequest(meshRule).payload, addRuleRequest(meshRule).payload);
    assert.deepEqual(
      encodeRequest(flushRulesRequest(), 2),
      hex('24000000 1900 0500 02000000 00000000', '1d 01 0000', '0800 0900 00000000', '0800 0a00 00000000'),
    );
  });

  it('dumps with NLM_F_DUMP', () => {
    assert.deepEqual(
      encodeRequest(dumpRulesRequest(), 3),
      hex('24000000 1a00 0103 03000000 00000000 1d 01 0000', '0800 0900 00000000', '0800 0a00 00000000'),
    );
  });

  describe('rejects bad rules naming the field', () => {
    const mod = { fields: ['id'] as const, canId: 1, len: 0, flags: 0, data: new Uint8Array(0) };
    const cases: Array<[string, CanGwRule, RegExp]> = [
      ['a zero source', { sourceIndex: 0, destinationIndex: 1 }, /^sourceIndex: 0 is not valid/u],
      [
        'source equal to destination without IIF_TX_OK',
        { sourceIndex: 2, destinationIndex: 2 },
        /^destinationIndex: 2 .*allowToIncomingInterface/u,
      ],
      ['a hop limit of 0', { ...meshRule, hopLimit: 0 }, /^hopLimit: 0 is not valid; allowed: an integer 1\.\.6/u],
      ['a hop limit of 7', { ...meshRule, hopLimit: 7 }, /^hopLimit: 7/u],
      ['uid 0', { ...meshRule, uid: 0 }, /^uid: 0/u],
      ['a negative filter id', { ...meshRule, filter: { id: -1, mask: 0 } }, /^filter\.id: -1/u],
      [
        'flags on a classic modification',
        { ...meshRule, modifications: { set: { ...mod, fields: ['flags'] } } },
        /^modifications\.set\.fields: "flags"/u,
      ],
      [
        'nine data bytes on a classic modification',
        { ...meshRule, modifications: { or: { ...mod, data: new Uint8Array(9) } } },
        /^modifications\.or\.data: 9 bytes/u,
      ],
      ['a modification with no fields', { ...meshRule, modifications: { and: { ...mod, fields: [] } } }, /^modifications\.and\.fields/u],
      [
        'an unknown operation',
        { ...meshRule, modifications: { nand: mod } as unknown as NonNullable<CanGwRule['modifications']> },
        /^modifications: "nand"/u,
      ],
      [
        'a checksum without a modification',
        { ...meshRule, xorChecksum: { fromIndex: 0, toIndex: 1, resultIndex: 2, initialValue: 0 } },
        /^xorChecksum: .*only together with a modification/u,
      ],
      [
        'a checksum index outside a classic frame',
        { ...meshRule, modifications: { set: mod }, xorChecksum: { fromIndex: 0, toIndex: 8, resultIndex: 2, initialValue: 0 } },
        /^xorChecksum\.toIndex: 8 is not valid; allowed: an integer -8\.\.7/u,
      ],
    ];
    for (const [name, rule, pattern] of cases) {
      it(name, () => {
        assert.throws(
          () => addRuleRequest(rule),
          (error: unknown) => error instanceof InvalidValueError && pattern.test(error.message),
        );
      });
    }
  });
});

describe('can-gw rule equality', () => {
  it('treats rules that the kernel stores identically as the same', () => {
    assert.ok(sameRule(meshRule, { ...meshRule, fd: false, sourceTimestamp: false }));
    assert.ok(sameRule(meshRule, { ...meshRule, filter: { id: 0, mask: 0 } }));
    const short = { fields: ['data'] as const, canId: 0, len: 0, flags: 0, data: Uint8Array.of(1) };
    assert.ok(
      sameRule(
        { ...meshRule, modifications: { set: short } },
        { ...meshRule, modifications: { set: { ...short, data: Uint8Array.of(1, 0, 0) } } },
      ),
    );
  });

  it('tells apart rules that differ in any part of their description', () => {
    const variants: CanGwRule[] = [
      meshRule,
      { ...meshRule, destinationIndex: 5 },
      { ...meshRule, echo: false },
      { ...meshRule, fd: true },
      { ...meshRule, hopLimit: 2 },
      { ...meshRule, filter: { id: 0x100, mask: 0x700 } },
      { ...meshRule, uid: 1 },
    ];
    assert.equal(new Set(variants.map(ruleKey)).size, variants.length);
  });

  it('gives two rules the same key exactly when their encodings (what the kernel compares) are equal', () => {
    const short = { fields: ['id'] as const, canId: 0x123, len: 0, flags: 0, data: new Uint8Array() };
    const shapes: CanGwRule[] = [];
    for (const fd of [undefined, false, true]) {
      for (const echo of [undefined, true]) {
        for (const filter of [undefined, { id: 0, mask: 0 }, { id: 0x100, mask: 0x700 }, { id: 0x80000100, mask: 0x700 }]) {
          for (const hopLimit of [undefined, 1]) {
            for (const edits of [
              {},
              { modifications: {} },
              { modifications: { set: short } },
              { modifications: { set: short }, xorChecksum: { fromIndex: 0, toIndex: 1, resultIndex: 2, initialValue: 0 } },
            ]) {
              shapes.push({
                sourceIndex: 3,
                destinationIndex: 4,
                ...(fd === undefined ? {} : { fd }),
                ...(echo === undefined ? {} : { echo }),
                ...(filter === undefined ? {} : { filter }),
                ...(hopLimit === undefined ? {} : { hopLimit }),
                ...edits,
              });
            }
          }
        }
      }
    }
    const encoding = (rule: CanGwRule): string => {
      const { filter, ...rest } = rule;
      const normal = filter?.id === 0 && filter.mask === 0 ? rest : rule;
      return Buffer.from(addRuleRequest(normal).payload).toString('hex');
    };
    for (const a of shapes) {
      for (const b of shapes)
        assert.equal(ruleKey(a) === ruleKey(b), encoding(a) === encoding(b), `${JSON.stringify(a)} / ${JSON.stringify(b)}`);
    }
  });
});

describe('can-gw dump decoding', () => {
  const dumpEntry = hex(
    '4c000000 1800 0200 05000000 39300000', // RTM_NEWROUTE, NLM_F_MULTI
    '1d 01 0d00', // ECHO|IIF_TX_OK|FD
    '0800 0700 0a000000', // CGW_HANDLED 10
    '0800 0800 01000000', // CGW_DROPPED 1
    '0800 0c00 02000000', // CGW_DELETED 2
    '0800 0900 03000000', // CGW_SRC_IF
    '0800 0a00 04000000', // CGW_DST_IF
    '0500 0d00 01 000000', // CGW_LIM_HOPS
    '0800 ff00 00000000', // unknown attribute from a newer kernel: skipped
  );

  it('decodes the rule and its handled / dropped / deleted counters', () => {
    const entry = decodeRule(decodeMessages(dumpEntry)[0]!);
    assert.deepEqual(entry, {
      rule: { sourceIndex: 3, destinationIndex: 4, hopLimit: 1, echo: true, allowToIncomingInterface: true, fd: true },
      counters: { handled: 10, dropped: 1, deleted: 2 },
    });
  });

  it('round-trips every attribute', () => {
    const rules: CanGwRule[] = [
      meshRule,
      { sourceIndex: 9, destinationIndex: 10, sourceTimestamp: true, filter: { id: 0x20000123, mask: 0x7ff }, uid: 0xffffffff },
      {
        sourceIndex: 1,
        destinationIndex: 2,
        fd: true,
        modifications: {
          and: { fields: ['id', 'len', 'flags', 'data'], canId: 0x1fffffff, len: 0x3f, flags: 3, data: new Uint8Array(64).fill(0xf0) },
          or: { fields: ['data'], canId: 0, len: 0, flags: 0, data: new Uint8Array(64).fill(1) },
          xor: { fields: ['id'], canId: 0x80000000, len: 0, flags: 0, data: new Uint8Array(64) },
          set: { fields: ['len'], canId: 0, len: 64, flags: 0, data: new Uint8Array(64) },
        },
        xorChecksum: { fromIndex: -64, toIndex: 62, resultIndex: 63, initialValue: 0xaa },
        crc8Checksum: {
          fromIndex: 0,
          toIndex: 10,
          resultIndex: 11,
          initialValue: 0,
          finalXor: 0xff,
          table: Uint8Array.from({ length: 256 }, (_, i) => (i * 7) & 0xff),
          profile: '16u8',
          profileData: new Uint8Array(20).fill(9),
        },
      },
    ];
    for (const rule of rules) {
      const decoded = roundTrip(rule);
      assert.ok(sameRule(decoded, rule), `round trip changed ${JSON.stringify(rule)}`);
      assert.deepEqual(addRuleRequest(decoded).payload, addRuleRequest(rule).payload);
    }
  });

  const malformed: Array<[string, Buffer, RegExp]> = [
    ['a truncated rtcanmsg', hex('12000000 1800 0200 01000000 00000000 1d01'), /shorter than the 4-byte rtcanmsg/u],
    ['another family', hex('14000000 1800 0200 01000000 00000000 0201 0000'), /family 2, expected AF_CAN/u],
    ['another gateway type', hex('14000000 1800 0200 01000000 00000000 1d02 0000'), /gateway type 2/u],
    [
      'missing interfaces',
      hex('1c000000 1800 0200 01000000 00000000 1d01 0000 0800 0900 03000000'),
      /CGW_SRC_IF or CGW_DST_IF is missing/u,
    ],
    [
      'a short filter',
      hex('1c000000 1800 0200 01000000 00000000 1d01 0000 0800 0b00 23010000'),
      /CGW_FILTER has a 4-byte payload, expected 8/u,
    ],
    [
      'a short modification',
      hex('1c000000 1800 0200 01000000 00000000 1d01 0000 0800 0400 00000000'),
      /modification set has a 4-byte payload, expected 17/u,
    ],
    ['an attribute running past the end', hex('1c000000 1800 0200 01000000 00000000 1d01 0000 4000 0900 03000000'), /claims 64 bytes/u],
    ['another message type', hex('14000000 1000 0200 01000000 00000000 1d01 0000'), /expected RTM_NEWROUTE/u],
  ];
  for (const [name, bytes, pattern] of malformed) {
    it(`rejects ${name}`, () => {
      assert.throws(
        () => decodeRule(decodeMessages(bytes)[0]!),
        (error: unknown) => error instanceof MalformedMessageError && pattern.test(error.message),
      );
    });
  }
});
