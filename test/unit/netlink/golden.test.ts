// Golden bytes: what iproute2 and can-utils' cangw really sent to a real kernel (captured with strace in the lab by
// lab/golden.ts; see lab/golden/capture.sh for the commands). The codecs must produce the same bytes for the same
// request, sequence number and port id aside, and decode them back.
import { describe, it } from 'node:test';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import {
  addRuleRequest,
  decodeRule,
  deleteRuleRequest,
  dumpRulesRequest,
  flushRulesRequest,
  sameRule,
  type CanGwRule,
  type FrameModification,
} from '../../../src/netlink/cangw.js';
import { NlMsgType } from '../../../src/netlink/constants.js';
import {
  createVcanRequest,
  createVxcanPairRequest,
  decodeLink,
  deleteLinkRequest,
  moveToNetnsRequest,
  setLinkUpRequest,
  setMtuRequest,
} from '../../../src/netlink/link.js';
import { decodeAck, decodeMessages, encodeMessage, type NetlinkMessage, type NetlinkRequest } from '../../../src/netlink/message.js';
import { projectPath } from '../../support/helpers.js';

interface Fixture {
  name: string;
  command: string;
  exchanges: Array<{ direction: 'sent' | 'received'; hex: string }>;
}

const fixtureDir = projectPath('test', 'fixtures', 'golden');
const fixtures = new Map(
  readdirSync(fixtureDir)
    .filter((name) => name.endsWith('.json'))
    .map((name) => {
      const fixture = JSON.parse(readFileSync(join(fixtureDir, name), 'utf8')) as Fixture;
      return [fixture.name, fixture] as const;
    }),
);

// Deterministic in the capture guest: lo 1, vc0 2, vc1 3, vc2 4, then cx2 6 / hx2 7; iproute2 opens a
// namespace as fd 4.
const VC0 = 2;
const VC1 = 3;
const VC2 = 4;
const HX2 = 7;
const IPROUTE_NETNS_FD = 4;

const zeros = (n: number): Uint8Array => new Uint8Array(n);
const mod = (modification: FrameModification): FrameModification => modification;

const RULES: Record<string, CanGwRule> = {
  'cangw-add': { sourceIndex: VC0, destinationIndex: VC1, echo: true },
  'cangw-add-mesh': { sourceIndex: VC1, destinationIndex: VC0, echo: true, allowToIncomingInterface: true, hopLimit: 1 },
  'cangw-add-fd': { sourceIndex: VC0, destinationIndex: VC1, fd: true, echo: true, sourceTimestamp: true },
  'cangw-add-filter': { sourceIndex: VC1, destinationIndex: VC0, filter: { id: 0x123, mask: 0x7ff } },
  'cangw-add-inverted-filter': { sourceIndex: VC1, destinationIndex: VC0, echo: true, filter: { id: 0xa0000123, mask: 0x1fffffff } },
  'cangw-add-mods': {
    sourceIndex: VC0,
    destinationIndex: VC1,
    uid: 0x2a,
    modifications: {
      and: mod({ fields: ['id', 'data', 'len'], canId: 0x7ff, len: 0xf, flags: 0, data: new Uint8Array(8).fill(0xff) }),
      or: mod({ fields: ['data'], canId: 0, len: 0, flags: 0, data: Uint8Array.of(1) }),
      xor: mod({ fields: ['data'], canId: 0, len: 0, flags: 0, data: Uint8Array.of(0, 0xff) }),
      set: mod({ fields: ['id', 'len'], canId: 0x333, len: 4, flags: 0, data: zeros(8) }),
    },
  },
  'cangw-add-fdmods': {
    sourceIndex: VC0,
    destinationIndex: VC1,
    fd: true,
    modifications: {
      set: mod({
        fields: ['id', 'flags', 'len', 'data'],
        canId: 0x333,
        len: 12,
        flags: 1,
        data: Uint8Array.from({ length: 64 }, (_, i) => (i % 2 === 0 ? 0xa5 : 0x5a)),
      }),
    },
  },
  'cangw-add-xor': {
    sourceIndex: VC1,
    destinationIndex: VC0,
    modifications: {
      set: mod({ fields: ['data'], canId: 0, len: 0, flags: 0, data: Uint8Array.of(0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0) }),
    },
    xorChecksum: { fromIndex: 0, toIndex: 6, resultIndex: 7, initialValue: 0xab },
  },
  'cangw-add-crc8': {
    sourceIndex: VC1,
    destinationIndex: VC0,
    modifications: {
      set: mod({ fields: ['data'], canId: 0, len: 0, flags: 0, data: Uint8Array.of(0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0) }),
    },
    crc8Checksum: {
      fromIndex: 0,
      toIndex: 6,
      resultIndex: 7,
      initialValue: 0xff,
      finalXor: 0x0f,
      table: Uint8Array.from({ length: 256 }, (_, i) => (i * 29) % 256),
      profile: '1u8',
      profileData: Uint8Array.of(0x42),
    },
  },
};

const REQUESTS: Record<string, () => NetlinkRequest> = {
  'vcan-add': () => createVcanRequest({ name: 'vc2', mtu: 72 }),
  'vxcan-add': () => createVxcanPairRequest({ name: 'hx1', mtu: 72, peer: { name: 'cx1', mtu: 72, netnsFd: IPROUTE_NETNS_FD } }),
  'vxcan-add-plain': () => createVxcanPairRequest({ name: 'hx2', peer: { name: 'cx2' } }),
  'link-up': () => setLinkUpRequest(VC2, true),
  'link-down': () => setLinkUpRequest(VC2, false),
  'link-mtu': () => setMtuRequest(VC2, 16),
  'link-netns': () => moveToNetnsRequest(VC2, IPROUTE_NETNS_FD),
  'link-del': () => deleteLinkRequest({ index: HX2 }),
  ...Object.fromEntries(Object.entries(RULES).map(([name, rule]) => [name, () => addRuleRequest(rule)])),
  'cangw-del': () => deleteRuleRequest(RULES['cangw-add-mesh'] ?? { sourceIndex: 0, destinationIndex: 0 }),
  'cangw-list': () => dumpRulesRequest(),
  'cangw-flush': () => flushRulesRequest(),
};

/** The tool's real request: the last datagram it sent (iproute2 sends a capability probe and a name lookup first). */
function capturedRequest(fixture: Fixture): NetlinkMessage {
  const sent = fixture.exchanges.filter((exchange) => exchange.direction === 'sent');
  const last = sent[sent.length - 1];
  assert.ok(last, `${fixture.name}: the capture holds a request`);
  const messages = decodeMessages(Buffer.from(last.hex, 'hex'));
  assert.equal(messages.length, 1);
  return messages[0]!;
}

describe('golden bytes from iproute2 and cangw', () => {
  it('has a fixture for every expected request, and an expectation for every fixture', () => {
    assert.deepEqual([...fixtures.keys()].sort(), Object.keys(REQUESTS).sort());
  });

  for (const [name, build] of Object.entries(REQUESTS)) {
    it(`${name}: the codec sends exactly what the tool sent`, () => {
      const fixture = fixtures.get(name);
      assert.ok(fixture, `fixture ${name}.json exists`);
      const captured = capturedRequest(fixture);
      const ours = encodeMessage({ ...build(), seq: captured.seq, pid: captured.pid });
      assert.equal(ours.toString('hex'), encodeMessage(captured).toString('hex'), fixture.command);
    });
  }

  for (const [name, rule] of Object.entries(RULES)) {
    it(`${name}: decodes back to the same rule`, () => {
      const captured = capturedRequest(fixtures.get(name)!);
      assert.ok(sameRule(decodeRule({ ...captured, type: NlMsgType.RTM_NEWROUTE }).rule, rule));
    });
  }

  it('decodes the created links back', () => {
    const vcan = decodeLink(capturedRequest(fixtures.get('vcan-add')!));
    assert.deepEqual([vcan.name, vcan.mtu, vcan.kind], ['vc2', 72, 'vcan']);
    const vxcan = decodeLink(capturedRequest(fixtures.get('vxcan-add')!));
    assert.deepEqual([vxcan.name, vxcan.mtu, vxcan.kind], ['hx1', 72, 'vxcan']);
  });

  it('decodes every acknowledgement the kernel sent as success', () => {
    for (const [name, fixture] of fixtures) {
      if (name === 'cangw-list') continue;
      const replies = fixture.exchanges.filter((exchange) => exchange.direction === 'received');
      const last = decodeMessages(Buffer.from(replies[replies.length - 1]?.hex ?? '', 'hex'))[0];
      assert.ok(last, `${name}: a reply`);
      assert.equal(decodeAck(last).errno, 0, `${name}: ${fixture.command}`);
    }
  });

  it('decodes the real dump: every rule still present, with the frames it handled', () => {
    const fixture = fixtures.get('cangw-list')!;
    const datagrams = fixture.exchanges
      .filter((exchange) => exchange.direction === 'received')
      .map((exchange) => Buffer.from(exchange.hex, 'hex'));
    const messages = datagrams.flatMap((datagram) => decodeMessages(datagram));
    assert.equal(messages[messages.length - 1]?.type, NlMsgType.DONE);
    const entries = messages.filter((message) => message.type === NlMsgType.RTM_NEWROUTE).map(decodeRule);
    const expected = Object.entries(RULES).filter(([name]) => name !== 'cangw-add-mesh'); // deleted by cangw-del
    assert.equal(entries.length, expected.length);
    // Two classic frames (123#11, 124#2233) were sent on vc0 before the dump. Classic rules from vc0 forward both.
    // The echo of `cangw-add` loops them back into vc1, where the rules from vc1 meet frames that already took their
    // one hop (max_hops 1) and count them as deleted: all of them, or those their filter selects.
    const counters: Record<string, [handled: number, deleted: number]> = {
      'cangw-add': [2, 0],
      'cangw-add-mods': [2, 0],
      'cangw-add-fd': [0, 0],
      'cangw-add-fdmods': [0, 0],
      'cangw-add-filter': [0, 1],
      'cangw-add-inverted-filter': [0, 1],
      'cangw-add-xor': [0, 2],
      'cangw-add-crc8': [0, 2],
    };
    for (const [name, rule] of expected) {
      const entry = entries.find((candidate) => sameRule(candidate.rule, rule));
      assert.ok(entry, `${name} is listed`);
      const [handled, deleted] = counters[name] ?? [-1, -1];
      assert.deepEqual(entry.counters, { handled, dropped: 0, deleted }, name);
    }
  });
});
