import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  AttributeReader,
  align4,
  attribute,
  nestedAttribute,
  parseAttributes,
  stringAttribute,
  u32Attribute,
  u8Attribute,
} from '../../../src/netlink/attributes.js';
import { MalformedMessageError } from '../../../src/errors.js';
import { hex } from '../../support/helpers.js';

describe('netlink attributes', () => {
  it('aligns lengths to 4 bytes', () => {
    assert.deepEqual([0, 1, 4, 5, 8, 21].map(align4), [0, 4, 4, 8, 8, 24]);
  });

  it('encodes header, payload and padding (len excludes the padding)', () => {
    assert.deepEqual(u8Attribute(13, 1), hex('0500 0d00 01 000000'));
    assert.deepEqual(u32Attribute(9, 0x01020304), hex('0800 0900 04030201'));
    assert.deepEqual(stringAttribute(3, 'can0'), hex('0900 0300 63616e3000 000000'));
    assert.deepEqual(attribute(1, Buffer.alloc(0)), hex('0400 0100'));
  });

  it('nests attributes, setting NLA_F_NESTED only when asked', () => {
    const inner = u32Attribute(1, 7);
    assert.deepEqual(nestedAttribute(18, [inner]), hex('0c00 1200', '0800 0100 07000000'));
    assert.deepEqual(nestedAttribute(18, [inner], true), hex('0c00 1280', '0800 0100 07000000'));
  });

  it('parses what it encodes, stripping flag bits from the type', () => {
    const bytes = Buffer.concat([stringAttribute(3, 'vxcan0'), nestedAttribute(18, [u8Attribute(2, 9)], true)]);
    const parsed = parseAttributes(bytes, 'test');
    assert.equal(parsed.length, 2);
    const reader = new AttributeReader('test');
    assert.equal(parsed[0]?.type, 3);
    assert.equal(reader.string(parsed[0]), 'vxcan0');
    assert.equal(parsed[1]?.type, 18);
    assert.equal(parsed[1].nested, true);
    const inner = reader.nested(parsed[1], 'inner');
    assert.equal(reader.u8(inner[0]!, 'x'), 9);
  });

  it('accepts a last attribute without its trailing padding', () => {
    const parsed = parseAttributes(hex('0500 0d00 01'), 'test');
    assert.equal(parsed.length, 1);
    assert.deepEqual(parsed[0]?.payload, hex('01'));
  });

  it('reads a string without a NUL terminator whole', () => {
    const [attr] = parseAttributes(hex('0800 0300 63616e31'), 'test');
    assert.equal(new AttributeReader('test').string(attr!), 'can1');
  });

  describe('malformed input', () => {
    const cases: Array<[string, Buffer, RegExp]> = [
      ['a length below the header size', hex('0200 0100'), /length 2, below the 4-byte header/u],
      ['a length past the end', hex('0c00 0100 00000000'), /claims 12 bytes but only 8 remain/u],
      ['stray bytes after the last attribute', hex('0400 0100 0102'), /2 stray bytes/u],
      ['a lying nested length', hex('0c00 1200 0900 0100 00000000'), /claims 9 bytes but only 8 remain/u],
    ];
    for (const [name, bytes, pattern] of cases) {
      it(`rejects ${name}`, () => {
        assert.throws(
          () => {
            const reader = new AttributeReader('test');
            for (const attr of parseAttributes(bytes, 'test')) if (attr.type === 18) reader.nested(attr, 'inner');
          },
          (error: unknown) => error instanceof MalformedMessageError && pattern.test(error.message),
        );
      });
    }

    it('rejects a payload of the wrong size for its type', () => {
      const [attr] = parseAttributes(hex('0600 0900 0102 0000'), 'test');
      assert.throws(
        () => new AttributeReader('can-gw rule').u32(attr!, 'CGW_SRC_IF'),
        /malformed can-gw rule: CGW_SRC_IF has a 2-byte payload, expected 4/u,
      );
    });
  });
});
