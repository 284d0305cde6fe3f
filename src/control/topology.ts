// The topology of a host's buses (`cantainer topology`, the dashboard): each bus with its members, uplinks and
// tunnels, and the gateways between buses, with the kernel's counters. Built from what `inspect` answers, so that
// the pictures and the commands never disagree.
import { gatewayEndName, gatewayKey } from '../bus/gateway.js';
import { gatewayWords } from '../bus/gateway-spec.js';
import { MONITOR, releaseName } from '../bus/plan.js';
import type { Bus } from '../bus/model.js';
import { uplinkEndName } from '../bus/uplink.js';
import { strings } from './body.js';
import { busDetail, knownBus } from './buses.js';
import type { ControlContext, ControlHandler, ControlHandlers } from './context.js';
import type { BusDetail, GatewayEntry, RuleEntry, Topology, TopologyBus, TopologyGateway, TopologyTunnel } from './protocol.js';
import { tunnelEntry } from './tunnels.js';

/** Frames that entered a bus's monitor from one of its ends (directly, or through its release vcan on a timed bus). */
function framesFrom(rules: readonly RuleEntry[], end: string): number {
  const sources = new Set([end, releaseName(end)]);
  return rules.filter((rule) => rule.destination === MONITOR && sources.has(rule.source)).reduce((sum, rule) => sum + rule.handled, 0);
}

function lostOnTimedBus(detail: BusDetail): number {
  const dropped = detail.timing?.dropped;
  return dropped === undefined ? 0 : dropped['bus-full'] + dropped.fault + dropped.unwired;
}

/** One bus of the topology, from its detail and its tunnels. */
export function topologyBus(detail: BusDetail, tunnels: readonly TopologyTunnel[]): TopologyBus {
  const faults = detail.faults ?? [];
  return {
    name: detail.name,
    id: detail.id,
    fd: detail.fd,
    ...(detail.timing === undefined
      ? {}
      : {
          bitrate: detail.timing.bitrate,
          ...(detail.timing.dbitrate === undefined ? {} : { dbitrate: detail.timing.dbitrate }),
          ...(detail.timing.load === undefined ? {} : { load: detail.timing.load }),
        }),
    frames: detail.frames,
    dropped: detail.dropped + lostOnTimedBus(detail),
    members: detail.members.map((member) => {
      const own = faults.filter((fault) => fault.member === member.id).map((fault) => fault.detail);
      return {
        id: member.id,
        // A member whose end stays on the host (a network's host_if) is the host itself.
        name: member.container ?? (member.netns === undefined && member.interface !== undefined ? 'host' : member.id.slice(0, 12)),
        ...(member.interface === undefined ? {} : { interface: member.interface }),
        hostEnd: member.hostEnd,
        frames: framesFrom(detail.rules, member.hostEnd),
        ...(own.length === 0 ? {} : { faults: own }),
      };
    }),
    uplinks: detail.uplinks.map((uplink) => ({
      interface: uplink.interface,
      direction: uplink.direction,
      state: uplink.state,
      frames: framesFrom(detail.rules, uplinkEndName(detail.id, uplink.interface)),
    })),
    tunnels,
    faults: faults.filter((fault) => fault.member === undefined).map((fault) => fault.detail),
    drift: detail.drift.length,
    ...(detail.span === undefined ? {} : { span: { mode: detail.span.mode, ...roleAndHub(detail.span) } }),
  };
}

function roleAndHub(span: NonNullable<BusDetail['span']>): Pick<NonNullable<TopologyBus['span']>, 'role' | 'hub' | 'nodes'> {
  return {
    ...(span.role === undefined ? {} : { role: span.role }),
    ...(span.hub === undefined ? {} : { hub: span.hub }),
    ...(span.nodes === undefined ? {} : { nodes: span.nodes }),
  };
}

/** A gateway with the frames that came into each bus through it (counted where they land). */
export function topologyGateway(entry: GatewayEntry, details: ReadonlyMap<string, BusDetail>): TopologyGateway {
  const key = gatewayKey(entry);
  const into = (busName: string): number => {
    const detail = details.get(busName);
    return detail === undefined ? 0 : framesFrom(detail.rules, gatewayEndName(key, detail.id));
  };
  const settings = gatewayWords({ ...entry, both: false })
    .slice(1)
    .join(' ');
  return {
    source: entry.source,
    destination: entry.destination,
    both: entry.both,
    state: entry.state,
    ...(entry.detail === undefined ? {} : { detail: entry.detail }),
    settings,
    frames: into(entry.destination),
    ...(entry.both ? { framesBack: into(entry.source) } : {}),
  };
}

function busTunnels(context: ControlContext, bus: Bus): TopologyTunnel[] {
  return (bus.tunnels ?? []).map((tunnel) => {
    const entry = tunnelEntry(bus.name, tunnel, context.tunnels?.view(bus.id, tunnel.name));
    return {
      name: entry.name,
      transport: entry.transport,
      ...(entry.listen === undefined ? {} : { listen: entry.listen }),
      ...(entry.peer === undefined ? {} : { peer: entry.peer }),
      ...(entry.peers === undefined ? {} : { peers: entry.peers }),
      state: entry.state,
      ...(entry.detail === undefined ? {} : { detail: entry.detail }),
      framesIn: entry.counters?.framesIn ?? 0,
      framesOut: entry.counters?.framesOut ?? 0,
    };
  });
}

/** The topology of the buses named (names or ids; all when none), and of the gateways between them. */
export async function topologyOf(context: ControlContext, names: readonly string[] = []): Promise<Topology> {
  const buses = names.length === 0 ? context.buses.list() : names.map((name) => knownBus(context, name));
  const unique = [...new Map(buses.map((bus) => [bus.id, bus])).values()];
  const details = await Promise.all(unique.map((bus) => busDetail(context, bus)));
  const byName = new Map(details.map((detail) => [detail.name, detail]));
  const gateways = new Map<string, GatewayEntry>();
  for (const detail of details)
    for (const gateway of detail.gateways)
      if (byName.has(gateway.source) && byName.has(gateway.destination)) gateways.set(gatewayKey(gateway), gateway);
  return {
    buses: unique.map((bus, i) => topologyBus(details[i] as BusDetail, busTunnels(context, bus))),
    gateways: [...gateways.values()].map((entry) => topologyGateway(entry, byName)),
  };
}

const getTopology: ControlHandler<'Topology.Get'> = (body, context) => topologyOf(context, strings(body, 'buses') ?? []);

export const TOPOLOGY_HANDLERS: ControlHandlers<'Topology.Get'> = { 'Topology.Get': getTopology };
