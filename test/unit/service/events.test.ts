import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { stateEvents, type EventSnapshot } from '../../../src/service/events.js';
import type { Bus } from '../../../src/bus/model.js';
import type { Gateway } from '../../../src/bus/gateway.js';

const bus = (id: string, name: string, members: string[], uplinks: string[] = []): Bus => ({
  id,
  name,
  fd: false,
  members: members.map((m) => ({ id: m, end: { name: `e${m}` } })),
  uplinks: uplinks.map((iface) => ({ interface: iface, direction: 'both', accept: [], reject: [] })),
});
const gw: Gateway = { source: 'a', destination: 'b', both: true, accept: [], reject: [], edits: [] };

describe('lifecycle events', () => {
  it('announces what changed between two states, once each, in CAN terms', () => {
    const before: EventSnapshot = {
      buses: [bus('1', 'a', ['m1', 'm2'], ['vcan0']), bus('2', 'b', [])],
      gateways: [{ gateway: gw, status: { state: 'waiting', missing: ['b'] } }],
    };
    const after: EventSnapshot = { buses: [bus('1', 'a', ['m2', 'm3'], ['can0']), bus('3', 'c', ['x'])], gateways: [] };
    assert.deepEqual(
      stateEvents(before, after, 'T').map((e) => [e.type, e.bus ?? e.gateway, e.member ?? e.interface ?? e.detail]),
      [
        ['member-joined', 'a', 'm3'],
        ['member-left', 'a', 'm1'],
        ['uplink-added', 'a', 'can0'],
        ['uplink-removed', 'a', 'vcan0'],
        ['bus-created', 'c', 'classic CAN'],
        ['member-joined', 'c', 'x'],
        ['bus-removed', 'b', undefined],
        ['gateway-removed', 'a <-> b', undefined],
      ],
    );
    assert.deepEqual(stateEvents(after, after, 'T'), [], 'nothing changed, nothing announced');
    const wired: EventSnapshot = {
      ...before,
      gateways: [{ gateway: gw, status: { state: 'wired', source: bus('1', 'a', []), destination: bus('2', 'b', []) } }],
    };
    assert.deepEqual(
      stateEvents(before, wired, 'T').map((e) => e.type),
      ['gateway-wired'],
    );
  });
});
