// A bus that spans hosts, as data: the buses of the same network on several nodes joined into one bus by tunnels in
// cannelloni's TCP format, in a star around one hub node. A star has no cycle, so no frame crosses a tunnel twice:
// the hub's TCP server hands a frame from one spoke to its bus and to every other spoke, once; a spoke's client hands
// its bus's frames to the hub. Which node is the hub and who may connect is worked out here from what the
// orchestrator says about its nodes; asking it is the daemon's business.
import { InvalidValueError } from '../errors.js';
import { shortHash } from './hash.js';
import { canonicalAddress, formatAddress, ipFamily, parseAddress, type NetAddress, type Tunnel } from './tunnel.js';

export const SPAN_MODES = ['swarm', 'nodes'] as const;
export type SpanMode = (typeof SPAN_MODES)[number];

export interface Span {
  /** swarm: the nodes and the hub come from the swarm orchestrator; nodes: from configuration (`nodes`, `hub`). */
  readonly mode: SpanMode;
  /** `HOST:PORT` of the hub, named by the user. Absent in swarm mode: the hub is a manager, chosen alike on every node. */
  readonly hub?: string;
  /** The hub's port when no hub is named: the same number on every node (see spanPort). */
  readonly port?: number;
  /** nodes mode: the address of every node of the span, the hub's included; only these may connect to the hub. */
  readonly nodes?: readonly string[];
}

/** The tunnel a spanned bus gets on every node: the hub's server, or a spoke's client of it. */
export const SPAN_TUNNEL = 'span';

/** Ports a span's hub listens on when none is named: one per network, picked from its id. */
export const SPAN_PORT_FIRST = 20_000;
export const SPAN_PORT_COUNT = 10_000;

/** The hub's port of a bus: the same on every node, since every node knows the network by the same id. */
export function spanPort(busId: string): number {
  return SPAN_PORT_FIRST + (parseInt(shortHash(`${busId}\0span`, 8), 16) % SPAN_PORT_COUNT);
}

export function checkSpan(span: Span, field = (key: string): string => key): void {
  if (!(SPAN_MODES as readonly string[]).includes(span.mode)) throw new InvalidValueError(field('span'), span.mode, SPAN_MODES.join(', '));
  if (span.hub !== undefined) parseAddress(field('hub'), span.hub, { literal: false });
  if (span.port !== undefined) {
    if (!Number.isInteger(span.port) || span.port < 1 || span.port > 65535)
      throw new InvalidValueError(field('span_port'), span.port, 'a port 1..65535');
    if (span.hub !== undefined) throw new InvalidValueError(field('span_port'), span.port, `nothing: the hub ${span.hub} names its port`);
  }
  if (span.mode === 'nodes') {
    if (span.hub === undefined) throw new InvalidValueError(field('hub'), span.hub, 'HOST:PORT of the hub: a span of nodes names it');
    const nodes = span.nodes ?? [];
    if (nodes.length === 0) throw new InvalidValueError(field('nodes'), nodes, "the IP address of every node of the span, the hub's too");
    for (const node of nodes)
      if (ipFamily(node) === undefined) throw new InvalidValueError(field('nodes'), node, 'an IP address (IPv4 or IPv6) of a node');
  } else if (span.nodes !== undefined) {
    throw new InvalidValueError(field('nodes'), span.nodes, 'nothing: in a swarm span, Swarm says which nodes there are');
  }
}

/** What the orchestrator says about the nodes, as this node sees them. */
export interface SpanNodes {
  /** This node's addresses: the hub is the node that has the hub's address. */
  readonly self: readonly string[];
  /** Swarm's managers (node id and address): the hub, unless one is named, is the one with the lowest id. */
  readonly managers: ReadonlyArray<{ readonly id: string; readonly address: string }>;
  /** The address of every node of the span, when this node can know them (Swarm lists its nodes to managers only). */
  readonly nodes?: readonly string[];
}

export interface SpanPlan {
  readonly role: 'hub' | 'spoke';
  readonly hub: NetAddress;
  /** The tunnel this node's bus has; absent for a hub that cannot yet tell who may connect (it takes no one then). */
  readonly tunnel?: Tunnel;
}

/** The hub: the one named, or the Swarm manager with the lowest node id (every node sorts the same list alike). */
export function spanHub(busId: string, span: Span, nodes: SpanNodes): NetAddress | undefined {
  if (span.hub !== undefined) return parseAddress('hub', span.hub, { literal: false });
  const [first] = [...nodes.managers].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (first === undefined) return undefined;
  return { host: first.address, port: span.port ?? spanPort(busId), family: ipFamily(first.address) };
}

/**
 * The tunnel of this node's bus: the hub listens on its own address and takes only the span's nodes; a spoke
 * connects to the hub. Undefined while no hub is known (a node not yet in a swarm).
 */
export function planSpan(busId: string, span: Span, nodes: SpanNodes): SpanPlan | undefined {
  const hub = spanHub(busId, span, nodes);
  if (hub === undefined) return undefined;
  const self = new Set(nodes.self.map(canonicalAddress));
  if (!self.has(canonicalAddress(hub.host)))
    return {
      role: 'spoke',
      hub,
      tunnel: { name: SPAN_TUNNEL, transport: 'tcp-client', peer: formatAddress(hub.host, hub.port), allow: [] },
    };
  const known = span.mode === 'nodes' ? span.nodes : nodes.nodes;
  // Only the other nodes may connect; a server with an empty list would take anyone, so none is opened then.
  const allow = [...new Set((known ?? []).map(canonicalAddress))].filter((address) => !self.has(address)).sort();
  if (allow.length === 0) return { role: 'hub', hub };
  // A named hub may be a host name: the server then listens on every address, and the list still holds.
  const listen = hub.family === undefined ? `0.0.0.0:${hub.port}` : formatAddress(hub.host, hub.port);
  return { role: 'hub', hub, tunnel: { name: SPAN_TUNNEL, transport: 'tcp-server', listen, allow } };
}
