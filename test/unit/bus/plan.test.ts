import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidValueError } from '../../../src/errors.js';
import { checkBus, withMember, withoutMember, type Bus } from '../../../src/bus/model.js';
import { busNamespace, hostEndName, MONITOR, planBus, resolveRule } from '../../../src/bus/plan.js';

function bus(members: number, fd = false): Bus {
  return {
    id: 'bus-1',
    name: 'powertrain',
    fd,
    members: Array.from({ length: members }, (_, i) => ({ id: `m${i + 1}`, end: { name: `ve${i + 1}` } })),
  };
}

describe('bus plan', () => {
  it('wires a classic bus as a mesh plus a monitor: rules into the monitor echo, every rule skips the iif check and has hop limit 1', () => {
    const plan = planBus(bus(3));
    const [a, b, c] = ['m1', 'm2', 'm3'].map(hostEndName);
    assert.equal(plan.namespace, busNamespace('bus-1'));
    assert.equal(plan.mtu, 16);
    assert.deepEqual(
      plan.links.map((link) => [link.kind, link.name, link.mtu]),
      [
        ['vcan', MONITOR, 16],
        ['vxcan', a, 16],
        ['vxcan', b, 16],
        ['vxcan', c, 16],
      ],
    );
    assert.deepEqual(
      plan.rules.map((rule) => `${rule.source}>${rule.destination}`),
      [
        `${a}>${b}`,
        `${a}>${c}`,
        `${a}>${MONITOR}`,
        `${b}>${a}`,
        `${b}>${c}`,
        `${b}>${MONITOR}`,
        `${c}>${a}`,
        `${c}>${b}`,
        `${c}>${MONITOR}`,
        `${MONITOR}>${a}`,
        `${MONITOR}>${b}`,
        `${MONITOR}>${c}`,
      ],
    );
    for (const rule of plan.rules) {
      assert.deepEqual(
        { echo: rule.echo, iif: rule.allowToIncomingInterface, hops: rule.hopLimit, fd: rule.fd },
        { echo: rule.destination === MONITOR ? true : undefined, iif: true, hops: 1, fd: undefined },
      );
    }
  });

  it('adds an FD rule beside every classic rule on an FD bus, with MTU 72 everywhere', () => {
    const plan = planBus(bus(3, true));
    assert.equal(plan.mtu, 72);
    assert.ok(plan.links.every((link) => link.mtu === 72));
    assert.equal(plan.rules.length, 24);
    assert.equal(plan.rules.filter((rule) => rule.fd === true).length, 12);
  });

  it('needs n(n-1) + 2n rules for n members (a 50-member bus: 2550 classic rules)', () => {
    for (const n of [0, 1, 2, 10, 50]) assert.equal(planBus(bus(n)).rules.length, n * (n - 1) + 2 * n, `${n} members`);
    assert.deepEqual(
      planBus(bus(0)).links.map((link) => link.name),
      [MONITOR],
    );
  });

  it('derives kernel names from ids only: stable across restarts, within 15 characters', () => {
    assert.equal(busNamespace('bus-1'), busNamespace('bus-1'));
    assert.notEqual(busNamespace('bus-1'), busNamespace('bus-2'));
    assert.match(hostEndName('a'.repeat(200)), /^m[0-9a-f]{12}$/u);
    assert.match(busNamespace('x'), /^cbus-[0-9a-f]{12}$/u);
  });

  it('carries the member end as given (name, namespace, up)', () => {
    const plan = planBus({
      id: 'b',
      name: 'b',
      fd: false,
      members: [
        { id: 'x', end: { name: 'dcan0', up: true } },
        { id: 'y', end: { name: 'can0', netns: '/proc/42/ns/net' } },
      ],
    });
    const ends = plan.links.flatMap((link) => (link.kind === 'vxcan' ? [link.end] : []));
    assert.deepEqual(ends, [
      { name: 'dcan0', up: true },
      { name: 'can0', netns: '/proc/42/ns/net' },
    ]);
  });

  it('resolves rule ifindexes by link name, or gives undefined when a link is missing', () => {
    const [rule] = planBus(bus(2)).rules;
    assert.ok(rule);
    const indexes = new Map([
      [hostEndName('m1'), 5],
      [hostEndName('m2'), 7],
    ]);
    assert.deepEqual(
      resolveRule(rule, (name) => indexes.get(name)),
      { sourceIndex: 5, destinationIndex: 7, allowToIncomingInterface: true, hopLimit: 1 },
    );
    assert.equal(
      resolveRule(rule, () => undefined),
      undefined,
    );
  });
});

describe('bus model', () => {
  const refuses = (b: Bus, field: string, text: RegExp): void => {
    assert.throws(
      () => {
        checkBus(b);
      },
      (error: unknown) => error instanceof InvalidValueError && error.field === field && text.test(error.message),
    );
  };

  it('refuses duplicate member ids, naming the field and the value', () => {
    refuses(
      {
        ...bus(0),
        members: [
          { id: 'x', end: { name: 'a' } },
          { id: 'x', end: { name: 'b' } },
        ],
      },
      'member id',
      /"x" is not valid; allowed: an id no other member/u,
    );
  });

  it('refuses an end name over 15 characters or with a slash', () => {
    refuses({ ...bus(0), members: [{ id: 'x', end: { name: 'a23456789012345x' } }] }, 'member x interface', /1\.\.15 bytes/u);
    refuses({ ...bus(0), members: [{ id: 'x', end: { name: 'a/b' } }] }, 'member x interface', /without "\/"/u);
  });

  it('refuses two ends of the same name in the same namespace, allows them in different ones', () => {
    refuses(
      {
        ...bus(0),
        members: [
          { id: 'x', end: { name: 'can0' } },
          { id: 'y', end: { name: 'can0' } },
        ],
      },
      'member y interface',
      /no other member uses/u,
    );
    checkBus({
      ...bus(0),
      members: [
        { id: 'x', end: { name: 'can0', netns: '/a' } },
        { id: 'y', end: { name: 'can0', netns: '/b' } },
      ],
    });
  });

  it('refuses an empty id and a non-boolean fd', () => {
    refuses({ ...bus(0), id: '' }, 'bus.id', /printable ASCII/u);
    refuses({ ...bus(0), fd: 'yes' as unknown as boolean }, 'bus.fd', /true or false/u);
  });

  it('adds, replaces and removes members without touching the others', () => {
    const b = bus(2);
    const replaced = withMember(b, { id: 'm1', end: { name: 'other' } });
    assert.deepEqual(
      replaced.members.map((m) => [m.id, m.end.name]),
      [
        ['m2', 've2'],
        ['m1', 'other'],
      ],
    );
    assert.deepEqual(
      withoutMember(b, 'm2').members.map((m) => m.id),
      ['m1'],
    );
    assert.equal(b.members.length, 2, 'the original is unchanged');
  });
});
