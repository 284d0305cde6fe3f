// The pure decisions the bus service takes over the buses of a host: the gateway set and what a bus may claim.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BusConflictError, InvalidValueError } from '../../../src/errors.js';
import { gatewaysWithout, neighbours, removableGateway, withGateway } from '../../../src/bus/gateway-set.js';
import { checkListenFree, checkUplinkUnclaimed } from '../../../src/bus/claims.js';
import { absorb, type Bus } from '../../../src/bus/model.js';
import { uplinkHostEndName } from '../../../src/bus/uplink.js';
import { canonicalAddress } from '../../../src/bus/tunnel.js';
import { gateway } from '../../support/gateways.js';

const bus = (id: string, name: string, more: Partial<Bus> = {}): Bus => ({ id, name, fd: false, members: [], ...more });
const names = (id: string): string | undefined => ({ n1: 'body', n2: 'chassis' })[id];

describe('the gateway set', () => {
  it('replaces a gateway in the same direction and keeps the other direction beside it', () => {
    const ab = gateway('a', 'b');
    const ba = gateway('b', 'a');
    const stricter = gateway('a', 'b', { accept: ['123'] });
    assert.deepEqual(withGateway([ab, ba], stricter, names), [ba, stricter]);
  });

  it('refuses a gateway over one another bus declares, naming that bus', () => {
    const declared = gateway('a', 'b', { declaredBy: 'n1' });
    assert.throws(
      () => withGateway([declared], gateway('a', 'b'), names),
      (error: unknown) => error instanceof BusConflictError && /part of bus body's settings/u.test(error.message),
    );
  });

  it('refuses one way over a both-ways gateway, and a ring', () => {
    assert.throws(
      () => withGateway([gateway('a', 'b', { both: true })], gateway('b', 'a'), names),
      /b and a are joined already by the gateway a <-> b/u,
    );
    assert.throws(() => withGateway([gateway('a', 'b'), gateway('b', 'c')], gateway('c', 'a'), names), /would close a cycle: /u);
  });

  it('finds the gateway to remove by either order when it goes both ways, and refuses a declared one', () => {
    const both = gateway('a', 'b', { both: true });
    assert.equal(removableGateway([both], 'b', 'a', names), both);
    assert.equal(removableGateway([gateway('a', 'b')], 'b', 'a', names), undefined);
    assert.throws(() => removableGateway([gateway('a', 'b', { declaredBy: 'n2' })], 'a', 'b', names), /part of bus chassis's settings/u);
  });

  it('names the buses a change touches: those named and those joined to them', () => {
    const buses = [bus('1', 'a'), bus('2', 'b'), bus('3', 'c'), bus('4', 'd')];
    assert.deepEqual(
      neighbours(['b'], [gateway('a', 'b'), gateway('c', 'd')], buses).map((found) => found.name),
      ['a', 'b'],
    );
  });

  it('keeps the gateways others declare when a bus goes, and drops hand-made ones naming it', () => {
    const removed = bus('n1', 'body');
    const own = gateway('body', 'x', { declaredBy: 'n1' });
    const handMade = gateway('x', 'body');
    const others = gateway('body', 'y', { declaredBy: 'n2' });
    const unrelated = gateway('x', 'y');
    assert.deepEqual(gatewaysWithout([own, handMade, others, unrelated], removed), [others, unrelated]);
  });
});

describe('claims', () => {
  it('one tunnel per transport, address and port on a host; the same tunnel again is fine', () => {
    const tunnel = { name: 'udp-20000', transport: 'udp' as const, listen: '0.0.0.0:20000', peer: '10.0.0.2:20000', allow: [] };
    const buses = [bus('1', 'body', { tunnels: [tunnel] })];
    checkListenFree(buses, '1', tunnel);
    assert.throws(
      () => {
        checkListenFree(buses, '2', { ...tunnel, name: 'other' });
      },
      (error: unknown) =>
        error instanceof BusConflictError && /tunnel udp-20000 of bus body listens on UDP 0\.0\.0\.0:20000/u.test(error.message),
    );
  });

  it('two spellings of one address are one claim: [::1] and [0:0:0:0:0:0:0:1]', () => {
    const tunnel = { name: 'local', transport: 'tcp-server' as const, listen: '[::1]:20000', allow: [] };
    const buses = [bus('1', 'body', { tunnels: [tunnel] })];
    assert.throws(() => {
      checkListenFree(buses, '2', { ...tunnel, name: 'other', listen: '[0:0:0:0:0:0:0:1]:20000' });
    }, /tunnel local of bus body listens on TCP/u);
  });

  it('an interface joins one bus, and never one cantainer made', () => {
    const uplink = { interface: 'can0', direction: 'both' as const, accept: [], reject: [] };
    const owner = bus('1', 'body', { uplinks: [uplink] });
    checkUplinkUnclaimed([owner], owner, uplink);
    assert.throws(() => {
      checkUplinkUnclaimed([owner], bus('2', 'chassis'), uplink);
    }, /can0 is an uplink of bus body already/u);
    const end = uplinkHostEndName('1', 'can0');
    assert.throws(
      () => {
        checkUplinkUnclaimed([owner], bus('2', 'chassis'), { ...uplink, interface: end });
      },
      (error: unknown) => error instanceof InvalidValueError && error.field === 'interface',
    );
  });
});

describe('canonical addresses', () => {
  it('IPv6 compressed and lower case, IPv4-mapped addresses as IPv4, the rest as written', () => {
    const cases: [string, string][] = [
      ['0:0:0:0:0:0:0:1', '::1'],
      ['::1', '::1'],
      ['FE80:0:0:0:0:0:0:AB', 'fe80::ab'],
      ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['::FFFF:192.0.2.7', '192.0.2.7'],
      ['::ffff:c000:207', '192.0.2.7'],
      ['192.0.2.7', '192.0.2.7'],
      ['ecu.example', 'ecu.example'],
    ];
    assert.deepEqual(
      cases.map(([text]) => [text, canonicalAddress(text)]),
      cases,
    );
  });
});

describe('absorb', () => {
  it('takes the twin’s members, uplinks and tunnels that the bus does not have already', () => {
    const member = (id: string): Bus['members'][number] => ({ id, end: { name: `e${id}`, up: true } });
    const merged = absorb(bus('1', 'body', { members: [member('a')] }), bus('named:body', 'body', { members: [member('a'), member('b')] }));
    assert.deepEqual(
      merged.members.map((m) => m.id),
      ['a', 'b'],
    );
    assert.equal(merged.id, '1');
  });
});
