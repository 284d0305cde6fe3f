// Lifecycle events of the buses of a host, for tools that follow them (`cantainer events`): what changed between
// two desired states, in CAN terms. Derived from the states rather than sprinkled through the code, so that every
// change that is saved is announced, once, whichever request or sweep made it.
import type { Bus } from '../bus/model.js';
import { describeFault } from '../bus/fault.js';
import { SPAN_TUNNEL } from '../bus/span.js';
import { describeGateway, gatewayKey, type Gateway, type GatewayStatus } from '../bus/gateway.js';

export type BusEventType =
  | 'bus-created'
  | 'bus-removed'
  | 'bus-named'
  | 'member-joined'
  | 'member-left'
  | 'gateway-added'
  | 'gateway-removed'
  | 'gateway-wired'
  | 'gateway-waiting'
  | 'uplink-added'
  | 'uplink-removed'
  | 'uplink-up'
  | 'uplink-down'
  | 'tunnel-added'
  | 'tunnel-removed'
  | 'span-node-joined'
  | 'span-node-left'
  | 'fault-added'
  | 'fault-removed';

export interface BusEvent {
  /** ISO 8601. */
  readonly time: string;
  readonly type: BusEventType;
  readonly bus?: string;
  readonly member?: string;
  readonly gateway?: string;
  readonly interface?: string;
  readonly tunnel?: string;
  /** The address of a node joining or leaving a span (as its hub sees the nodes). */
  readonly node?: string;
  /** The id of a fault added or removed (ended, or its member gone). */
  readonly fault?: string;
  readonly detail?: string;
}

export interface EventSnapshot {
  readonly buses: readonly Bus[];
  readonly gateways: ReadonlyArray<{ readonly gateway: Gateway; readonly status: GatewayStatus }>;
}

type Draft = Omit<BusEvent, 'time'>;

export function stateEvents(before: EventSnapshot, after: EventSnapshot, time: string): BusEvent[] {
  const events: Draft[] = [];
  const was = new Map(before.buses.map((bus) => [bus.id, bus]));
  const now = new Map(after.buses.map((bus) => [bus.id, bus]));
  for (const bus of after.buses) {
    const old = was.get(bus.id);
    if (old === undefined) {
      events.push({ type: 'bus-created', bus: bus.name, detail: bus.fd ? 'CAN FD' : 'classic CAN' });
      for (const member of bus.members) events.push({ type: 'member-joined', bus: bus.name, member: member.id });
      for (const uplink of bus.uplinks ?? []) events.push({ type: 'uplink-added', bus: bus.name, interface: uplink.interface });
      for (const tunnel of bus.tunnels ?? [])
        events.push({ type: 'tunnel-added', bus: bus.name, tunnel: tunnel.name, detail: tunnel.transport });
      continue;
    }
    if (old.name !== bus.name) events.push({ type: 'bus-named', bus: bus.name, detail: `was ${old.name}` });
    const oldMembers = new Set(old.members.map((member) => member.id));
    const newMembers = new Set(bus.members.map((member) => member.id));
    for (const id of newMembers) if (!oldMembers.has(id)) events.push({ type: 'member-joined', bus: bus.name, member: id });
    for (const id of oldMembers) if (!newMembers.has(id)) events.push({ type: 'member-left', bus: bus.name, member: id });
    const oldUplinks = new Set((old.uplinks ?? []).map((uplink) => uplink.interface));
    const newUplinks = new Set((bus.uplinks ?? []).map((uplink) => uplink.interface));
    for (const name of newUplinks) if (!oldUplinks.has(name)) events.push({ type: 'uplink-added', bus: bus.name, interface: name });
    for (const name of oldUplinks) if (!newUplinks.has(name)) events.push({ type: 'uplink-removed', bus: bus.name, interface: name });
    const oldTunnels = new Map((old.tunnels ?? []).map((tunnel) => [tunnel.name, JSON.stringify(tunnel)]));
    const newTunnels = new Map((bus.tunnels ?? []).map((tunnel) => [tunnel.name, tunnel]));
    for (const [name, tunnel] of newTunnels)
      if (oldTunnels.get(name) !== JSON.stringify(tunnel))
        events.push({ type: 'tunnel-added', bus: bus.name, tunnel: name, detail: tunnel.transport });
    for (const name of oldTunnels.keys()) if (!newTunnels.has(name)) events.push({ type: 'tunnel-removed', bus: bus.name, tunnel: name });
    if (bus.span !== undefined) events.push(...spanNodeEvents(bus.name, old, bus));
    const oldFaults = new Set((old.faults ?? []).map((fault) => fault.id));
    const newFaults = new Set((bus.faults ?? []).map((fault) => fault.id));
    for (const fault of bus.faults ?? [])
      if (!oldFaults.has(fault.id))
        events.push({
          type: 'fault-added',
          bus: bus.name,
          fault: fault.id,
          ...(fault.member === undefined ? {} : { member: fault.member }),
          detail: describeFault(fault),
        });
    for (const fault of old.faults ?? [])
      if (!newFaults.has(fault.id))
        events.push({
          type: 'fault-removed',
          bus: bus.name,
          fault: fault.id,
          ...(fault.member === undefined ? {} : { member: fault.member }),
        });
  }
  for (const bus of before.buses) if (!now.has(bus.id)) events.push({ type: 'bus-removed', bus: bus.name });
  const key = (entry: { gateway: Gateway }): string => `${gatewayKey(entry.gateway)} ${entry.gateway.source}`;
  const oldGateways = new Map(before.gateways.map((entry) => [key(entry), entry]));
  const newGateways = new Map(after.gateways.map((entry) => [key(entry), entry]));
  for (const [id, entry] of newGateways) {
    const old = oldGateways.get(id);
    const name = describeGateway(entry.gateway);
    if (old === undefined) events.push({ type: 'gateway-added', gateway: name, detail: entry.status.state });
    else if (old.status.state !== entry.status.state && entry.status.state !== 'refused')
      events.push({ type: entry.status.state === 'wired' ? 'gateway-wired' : 'gateway-waiting', gateway: name });
  }
  for (const [id, entry] of oldGateways)
    if (!newGateways.has(id)) events.push({ type: 'gateway-removed', gateway: describeGateway(entry.gateway) });
  return events.map((event) => ({ time, ...event }));
}

/** The nodes a hub takes (its span tunnel's list), before and after: who joined the span and who left it. */
function spanNodeEvents(busName: string, old: Bus, bus: Bus): Draft[] {
  const nodes = (of: Bus): Set<string> =>
    new Set((of.tunnels ?? []).find((tunnel) => tunnel.name === SPAN_TUNNEL && tunnel.transport === 'tcp-server')?.allow ?? []);
  const was = nodes(old);
  const now = nodes(bus);
  return [
    ...[...now].filter((node) => !was.has(node)).map((node): Draft => ({ type: 'span-node-joined', bus: busName, node })),
    ...[...was].filter((node) => !now.has(node)).map((node): Draft => ({ type: 'span-node-left', bus: busName, node })),
  ];
}

/**
 * Tells listeners what changed: each announcement compares the state with the one announced last, so every saved
 * change is announced once. A listener that throws is logged and the others still hear.
 */
export class Announcer {
  readonly #listeners = new Set<(event: BusEvent) => void>();
  readonly #onListenerError: (error: unknown) => void;
  /** The state as last announced. */
  #announced: EventSnapshot = { buses: [], gateways: [] };

  constructor(onListenerError: (error: unknown) => void) {
    this.#onListenerError = onListenerError;
  }

  /** Takes `snapshot` as known without announcing it (the state found at start is not news). */
  reset(snapshot: EventSnapshot): void {
    this.#announced = snapshot;
  }

  /** Announces the changes from the last snapshot to this one, then `extra` events. */
  announce(snapshot: EventSnapshot, time: string, extra: readonly BusEvent[] = []): void {
    const events = [...stateEvents(this.#announced, snapshot, time), ...extra];
    this.#announced = snapshot;
    for (const event of events) {
      for (const listener of this.#listeners) {
        try {
          listener(event);
        } catch (error) {
          this.#onListenerError(error);
        }
      }
    }
  }

  /** Calls `listener` with every event from now on; returns the function that stops it. */
  listen(listener: (event: BusEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
