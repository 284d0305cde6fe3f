import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidValueError } from '../../../src/errors.js';
import {
  checkGateway,
  crc8Table,
  findCycle,
  gatewayFilters,
  gatewayModifications,
  gatewayPorts,
  gatewaySetProblem,
  normaliseGateway,
  type Gateway,
} from '../../../src/bus/gateway.js';
import { busMtu, planBus } from '../../../src/bus/plan.js';
import { selectionFilters } from '../../../src/can/idset.js';
import { gatewayFromWords, gatewayWords } from '../../../src/bus/gateway-spec.js';
import type { Bus } from '../../../src/bus/model.js';
import { gateway } from '../../support/gateways.js';

describe('gateway model', () => {
  it('computes the CRC8 table of a polynomial (SAE J1850 0x1D: crc8("123456789") with init FF, final xor FF is 0x4B)', () => {
    const table = crc8Table(0x1d);
    assert.equal(table[1], 0x1d);
    let crc = 0xff;
    for (const byte of Buffer.from('123456789')) crc = table[crc ^ byte] ?? 0;
    assert.equal(crc ^ 0xff, 0x4b);
  });

  it('turns edits into can-gw modifications per frame kind, leaving FD flags out of classic rules', () => {
    const edits = [
      { operation: 'set', field: 'id', value: '18DAF110' },
      { operation: 'set', field: 'data', value: 'DEAD' },
      { operation: 'xor', field: 'id', value: '18DAF110' },
      { operation: 'or', field: 'flags', value: '1' },
    ] as const;
    const classic = gatewayModifications(edits, false);
    assert.deepEqual(classic?.set, { fields: ['id', 'data'], canId: 0x98daf110, len: 0, flags: 0, data: Uint8Array.from([0xde, 0xad]) });
    assert.equal(classic.xor?.canId, 0x18daf110, 'xor works on the id bits only');
    assert.equal(classic.or, undefined);
    assert.deepEqual(gatewayModifications(edits, true)?.or, { fields: ['flags'], canId: 0, len: 0, flags: 1, data: new Uint8Array() });
    assert.equal(gatewayModifications([], false), undefined);
    const big = [
      { operation: 'set', field: 'data', value: 'AB'.repeat(12) },
      { operation: 'set', field: 'len', value: '12' },
    ] as const;
    assert.deepEqual(
      gatewayModifications(big, false)?.set,
      { fields: ['data', 'len'], canId: 0, len: 8, flags: 0, data: new Uint8Array(8).fill(0xab) },
      'cut to classic size on classic rules',
    );
    assert.equal(gatewayModifications(big, true)?.set?.data.length, 12);
  });

  it('refuses bad gateways naming the field, the value and what is allowed', () => {
    const refuses = (g: Gateway, pattern: RegExp, fd = true): void => {
      assert.throws(
        () => {
          checkGateway(g, fd);
        },
        (error: unknown) => error instanceof InvalidValueError && pattern.test(error.message),
      );
    };
    refuses(gateway('a', 'a'), /destination: "a" is not valid; allowed: another bus than the source/u);
    refuses(gateway('a', ''), /destination: "" is not valid/u);
    refuses(gateway('a', 'b', { accept: ['800'] }), /accept: "800" is not valid/u);
    refuses(
      gateway('a', 'b', { edits: [{ operation: 'set', field: 'id', value: '800' }] }),
      /--set id: "800" is not valid; allowed: an id in hex/u,
    );
    refuses(gateway('a', 'b', { edits: [{ operation: 'set', field: 'len', value: '65' }] }), /--set len: "65".*0\.\.64/u);
    refuses(gateway('a', 'b', { edits: [{ operation: 'set', field: 'len', value: '9' }] }), /--set len: "9".*0\.\.8/u, false);
    refuses(gateway('a', 'b', { edits: [{ operation: 'set', field: 'data', value: 'ABC' }] }), /--set data: "ABC"/u);
    refuses(
      gateway('a', 'b', { edits: [{ operation: 'set', field: 'flags', value: '1' }] }),
      /FD flags exist only when both buses are FD/u,
      false,
    );
    refuses(
      gateway('a', 'b', {
        edits: [
          { operation: 'set', field: 'id', value: '1' },
          { operation: 'set', field: 'id', value: '2' },
        ],
      }),
      /id is given twice/u,
    );
    refuses(gateway('a', 'b', { xorChecksum: { from: 0, to: 6, at: 7, init: 0 } }), /--xor-checksum: "without an edit"/u);
    refuses(
      gateway('a', 'b', { edits: [{ operation: 'set', field: 'id', value: '1' }], xorChecksum: { from: 0, to: 6, at: 8, init: 0 } }),
      /--xor-checksum\.at: 8 is not valid; allowed: a byte index -8\.\.7/u,
      false,
    );
  });

  it('normalises filters to candump spelling', () => {
    assert.deepEqual(normaliseGateway(gateway('a', 'b', { accept: ['7df', '18daf110/1fffff00'] })).accept, [
      '7DF/7FF',
      '18DAF110/1FFFFF00',
    ]);
  });

  it('makes disjoint kernel filters; a lone reject is one inverted filter; none at all is no filter', () => {
    assert.deepEqual(gatewayFilters(gateway('a', 'b')), [undefined]);
    assert.deepEqual(gatewayFilters(gateway('a', 'b', { reject: ['7DF'] })), [{ id: 0x200007df, mask: 0x800007ff }]);
    assert.deepEqual(gatewayFilters(gateway('a', 'b', { accept: ['7DF'] })), [{ id: 0x7df, mask: 0x9fffffff }]);
  });

  it('finds the cycle a gateway would close, counting two one-way gateways between two buses as one link', () => {
    assert.equal(findCycle([gateway('a', 'b'), gateway('b', 'a'), gateway('b', 'c')]), undefined);
    assert.deepEqual(findCycle([gateway('a', 'b'), gateway('b', 'c'), gateway('c', 'd'), gateway('d', 'b')]), ['d', 'c', 'b', 'd']);
    assert.equal(gatewaySetProblem([gateway('a', 'b'), gateway('b', 'a')]), undefined);
    assert.match(gatewaySetProblem([gateway('a', 'b'), gateway('b', 'a', { both: true })]) ?? '', /a second gateway between a <> b/u);
  });

  it('plans a port per joined bus: leaving rules filtered per source, incoming frames to everyone but back', () => {
    const a: Bus = {
      id: 'A',
      name: 'a',
      fd: false,
      members: [
        { id: 'x', end: { name: 'x0' } },
        { id: 'y', end: { name: 'y0' } },
      ],
    };
    const b: Bus = { id: 'B', name: 'b', fd: true, members: [] };
    const c: Bus = { id: 'C', name: 'c', fd: false, members: [] };
    const gateways = [gateway('a', 'b', { accept: ['100', '200'] }), gateway('c', 'a', { both: true })];
    const ports = gatewayPorts(a, gateways, [a, b, c], busMtu);
    assert.deepEqual(
      ports.map((port) => ({
        out: port.outgoing === undefined ? undefined : selectionFilters([port.outgoing.selection]).length,
        in: port.incoming,
        fd: port.fd,
        peerMtu: port.peer.mtu,
      })),
      [
        { out: 2, in: false, fd: false, peerMtu: 72 },
        { out: 1, in: true, fd: false, peerMtu: 16 },
      ],
    );
    const [toB, toC] = ports.map((port) => port.name);
    const plan = planBus(a, { gateways: ports });
    const count = (destination: string | undefined, source?: string): number =>
      plan.rules.filter((rule) => rule.destination === destination && (source === undefined || rule.source === source)).length;
    assert.equal(count(toB), 2 * 4, 'two filters from x, y, the monitor and the port from c');
    assert.equal(count(toC), 3, 'x, y and the monitor, never the port of c itself');
    assert.equal(count(toC, toC), 0);
    assert.equal(plan.rules.filter((rule) => rule.source === toB).length, 0, 'nothing comes in from b');
    assert.equal(plan.rules.filter((rule) => rule.source === toC).length, 2 + 1 + 2, 'from c to x, y, the monitor and (filtered) b');
    assert.equal(gatewayPorts(b, gateways, [a, b], busMtu)[0]?.peer.mtu, 16);
    assert.deepEqual(gatewayPorts(b, gateways, [b, c], busMtu), [], 'not wired while a is missing');
  });

  it('reads and writes a gateway in the words of the command line, round trip', () => {
    const words = 'body --both --accept 7df --reject 7E8/7FF --set id=18DAF110 --xor data=FF --xor-checksum 0:6:7 --crc8 0:6:7:1D:FF:FF';
    const parsed = gatewayFromWords('option', 'powertrain', words);
    assert.deepEqual(parsed.xorChecksum, { from: 0, to: 6, at: 7, init: 0 });
    assert.deepEqual(parsed.crc8Checksum, { from: 0, to: 6, at: 7, poly: 0x1d, init: 0xff, finalXor: 0xff });
    const written = gatewayWords(parsed);
    assert.deepEqual(written, [
      'body',
      '--both',
      '--accept',
      '7DF/7FF',
      '--reject',
      '7E8/7FF',
      '--xor',
      'data=FF',
      '--set',
      'id=18DAF110',
      '--xor-checksum',
      '0:6:7:0',
      '--crc8',
      '0:6:7:1D:FF:FF',
    ]);
    assert.deepEqual(gatewayFromWords('option', 'powertrain', written.join(' ')), parsed);
    assert.throws(() => gatewayFromWords('option', 'a', 'b --crc8 1:2'), /option: --crc8: "1:2" is not valid; allowed: FROM:TO:AT:POLY/u);
  });
});
