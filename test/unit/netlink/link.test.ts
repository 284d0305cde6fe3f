import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  createVcanRequest,
  createVxcanPairRequest,
  decodeLink,
  deleteLinkRequest,
  dumpLinksRequest,
  getLinkRequest,
  moveToNetnsRequest,
  setLinkUpRequest,
  setMtuRequest,
} from '../../../src/netlink/link.js';
import { decodeMessages, encodeRequest } from '../../../src/netlink/message.js';
import { InvalidValueError, MalformedMessageError } from '../../../src/errors.js';
import { hex } from '../../support/helpers.js';

const ZERO_IFINFO = '00 00 0000 00000000 00000000 00000000';

describe('rtnetlink link requests (layouts from linux/rtnetlink.h, if_link.h, can/vxcan.h)', () => {
  it('creates a vcan with its MTU (attribute order and unterminated kind as iproute2 sends them)', () => {
    const bytes = encodeRequest(createVcanRequest({ name: 'vcan0', mtu: 72 }), 1);
    assert.deepEqual(
      bytes,
      hex(
        '40000000 1000 0506 01000000 00000000', // len 64, RTM_NEWLINK, REQUEST|ACK|EXCL|CREATE
        ZERO_IFINFO,
        '0800 0400 48000000', // IFLA_MTU 72
        '0a00 0300 7663616e3000 0000', // IFLA_IFNAME "vcan0\0"
        '0c00 1200', // IFLA_LINKINFO
        '0800 0100 7663616e', //   IFLA_INFO_KIND "vcan"
      ),
    );
  });

  it('creates a vcan already up', () => {
    const bytes = encodeRequest(createVcanRequest({ name: 'v', up: true }), 2);
    assert.deepEqual(bytes.subarray(16, 32), hex('00 00 0000 00000000 01000000 01000000'));
  });

  it('creates a vxcan pair with the peer placed straight into another namespace', () => {
    const request = createVxcanPairRequest({ name: 'hx1', mtu: 72, peer: { name: 'cx1', mtu: 72, netnsFd: 7 } });
    assert.deepEqual(
      encodeRequest(request, 3),
      hex(
        '70000000 1000 0506 03000000 00000000', // len 112
        ZERO_IFINFO,
        '0800 0400 48000000', // IFLA_MTU 72
        '0800 0300 68783100', // IFLA_IFNAME "hx1"
        '4000 1200', // IFLA_LINKINFO (64)
        '0900 0100 767863616e 000000', //   IFLA_INFO_KIND "vxcan", padded
        '3000 0200', //   IFLA_INFO_DATA (48)
        '2c00 0100', //     VXCAN_INFO_PEER (44): ifinfomsg + attributes
        ZERO_IFINFO,
        '0800 0400 48000000', //       IFLA_MTU 72
        '0800 1c00 07000000', //       IFLA_NET_NS_FD 7
        '0800 0300 63783100', //       IFLA_IFNAME "cx1"
      ),
    );
  });

  it('creates the main end in a namespace too when asked', () => {
    const request = createVxcanPairRequest({ name: 'a', netnsFd: 9, peer: { name: 'b' } });
    assert.ok(request.payload.includes(hex('0800 1c00 09000000')));
  });

  it('sets a link up and down by index', () => {
    assert.deepEqual(
      encodeRequest(setLinkUpRequest(5, true), 4),
      hex('20000000 1000 0500 04000000 00000000', '00 00 0000 05000000 01000000 01000000'),
    );
    assert.deepEqual(setLinkUpRequest(5, false).payload, hex('00 00 0000 05000000 00000000 01000000'));
  });

  it('sets the MTU, moves to a namespace with a new name, deletes and gets', () => {
    assert.deepEqual(setMtuRequest(6, 16).payload, hex('00 00 0000 06000000 00000000 00000000', '0800 0400 10000000'));
    assert.deepEqual(
      moveToNetnsRequest(6, 11, 'can0').payload,
      hex('00 00 0000 06000000 00000000 00000000', '0800 1c00 0b000000', '0900 0300 63616e3000 000000'),
    );
    const del = deleteLinkRequest({ name: 'vcan0' });
    assert.equal(del.type, 17);
    assert.equal(del.flags, 0x5);
    assert.deepEqual(del.payload, hex(ZERO_IFINFO, '0a00 0300 7663616e3000 0000'));
    assert.deepEqual(deleteLinkRequest({ index: 3 }).payload, hex('00 00 0000 03000000 00000000 00000000'));
    assert.equal(getLinkRequest({ index: 3 }).type, 18);
  });

  it('dumps links with NLM_F_DUMP', () => {
    assert.deepEqual(encodeRequest(dumpLinksRequest(), 9), hex('20000000 1200 0103 09000000 00000000', ZERO_IFINFO));
  });

  describe('rejects bad input naming the field, and builds nothing', () => {
    const cases: Array<[string, () => unknown, RegExp]> = [
      ['an empty name', () => createVcanRequest({ name: '' }), /^name: "" is not valid; allowed: 1\.\.15 bytes/u],
      ['a 16-byte name', () => createVcanRequest({ name: 'a'.repeat(16) }), /^name: "a{16}"/u],
      ['a name with a slash', () => createVcanRequest({ name: 'a/b' }), /^name: "a\/b"/u],
      ['a name "."', () => createVcanRequest({ name: '.' }), /^name: "\."/u],
      [
        'an MTU that is no CAN MTU',
        () => createVcanRequest({ name: 'v', mtu: 64 }),
        /^mtu: 64 is not valid; allowed: 16 \(classic CAN\), 72 \(CAN FD\) or 76\.\.2060 \(CAN XL\)/u,
      ],
      ['a bad peer name', () => createVxcanPairRequest({ name: 'a', peer: { name: 'has space' } }), /^peer\.name:/u],
      ['a negative namespace fd', () => createVxcanPairRequest({ name: 'a', peer: { name: 'b', netnsFd: -1 } }), /^peer\.netnsFd: -1/u],
      ['both ends with one name in one namespace', () => createVxcanPairRequest({ name: 'a', peer: { name: 'a' } }), /^peer\.name: "a"/u],
      ['index 0', () => setLinkUpRequest(0, true), /^index: 0/u],
      ['a fractional MTU', () => setMtuRequest(1, 72.5), /^mtu: 72\.5/u],
    ];
    for (const [name, build, pattern] of cases) {
      it(name, () => {
        assert.throws(build, (error: unknown) => error instanceof InvalidValueError && pattern.test(error.message));
      });
    }
  });
});

describe('rtnetlink link decoding', () => {
  // A vxcan host end as a dump reports it: index 7, up, CAN type, peer in another namespace (netnsid 0).
  const vxcanDumpEntry = hex(
    '70000000 1000 0200 01000000 00000000', // len 112, RTM_NEWLINK, NLM_F_MULTI
    '00 00 1801 07000000 c1000400 00000000', // type 280, index 7, flags UP|RUNNING|NOARP|ECHO
    '0900 0300 68783162 00 000000', // IFLA_IFNAME "hx1b"
    '0800 0400 48000000', // IFLA_MTU 72
    '0500 1000 06 000000', // IFLA_OPERSTATE up
    '0800 0500 03000000', // IFLA_LINK 3
    '0800 2500 00000000', // IFLA_LINK_NETNSID 0
    '0800 fe00 dddddddd', // an attribute this decoder does not know
    '1c00 1200', // IFLA_LINKINFO
    '0a00 0100 767863616e00 0000', //   IFLA_INFO_KIND "vxcan"
    '0c00 0200 0800 0100 00000000', //   IFLA_INFO_DATA, ignored
  );

  it('decodes name, index, kind, MTU, flags, peer and state, skipping unknown attributes', () => {
    const link = decodeLink(decodeMessages(vxcanDumpEntry)[0]!);
    assert.deepEqual(link, {
      index: 7,
      name: 'hx1b',
      type: 280,
      flags: 0x400c1,
      up: true,
      mtu: 72,
      kind: 'vxcan',
      peerIndex: 3,
      peerNetnsId: 0,
      operState: 'up',
    });
  });

  it('decodes a link without linkinfo (loopback)', () => {
    const bytes = hex(
      '30000000 1000 0200 01000000 00000000',
      '00 00 0403 01000000 49000100 00000000',
      '0700 0300 6c6f00 00',
      '0800 0400 00000100',
    );
    const link = decodeLink(decodeMessages(bytes)[0]!);
    assert.equal(link.name, 'lo');
    assert.equal(link.kind, undefined);
    assert.equal(link.mtu, 65536);
  });

  const malformed: Array<[string, Buffer, RegExp]> = [
    ['a truncated ifinfomsg', hex('18000000 1000 0000 01000000 00000000 0000000000000000'), /shorter than the 16-byte ifinfomsg/u],
    ['a missing name', hex('20000000 1000 0000 01000000 00000000', ZERO_IFINFO), /has no IFLA_IFNAME/u],
    [
      'an MTU of the wrong size',
      hex('30000000 1000 0000 01000000 00000000', ZERO_IFINFO, '0700 0300 6c6f00 00', '0600 0400 4800 0000'),
      /IFLA_MTU has a 2-byte payload/u,
    ],
    [
      'a linkinfo whose inner length lies',
      hex('30000000 1000 0000 01000000 00000000', ZERO_IFINFO, '0700 0300 6c6f00 00', '0800 1200 0900 0100'),
      /claims 9 bytes/u,
    ],
    ['another message type', hex('14000000 1800 0000 01000000 00000000 1d010000'), /expected RTM_NEWLINK/u],
  ];
  for (const [name, bytes, pattern] of malformed) {
    it(`rejects ${name}`, () => {
      assert.throws(
        () => decodeLink(decodeMessages(bytes)[0]!),
        (error: unknown) => error instanceof MalformedMessageError && pattern.test(error.message),
      );
    });
  }
});
