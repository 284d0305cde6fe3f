// Buses and the daemon over the control socket: `cantainer ls`, `inspect`, `doctor --repair`, `events`.
import { basename, join } from 'node:path';
import { hostEndName, INJECT, MONITOR, throughArbiter } from '../bus/plan.js';
import type { Bus } from '../bus/model.js';
import { UnknownBusError } from '../errors.js';
import { STREAM, type JsonStream } from '../transport/json-server.js';
import { packageVersion } from '../version.js';
import { text } from './body.js';
import type { ControlContext, ControlHandler, ControlHandlers, StreamHandler } from './context.js';
import { gatewayEntry } from './gateways.js';
import { CONTAINER_ANNOTATION, type BusDetail, type BusEntry, type SpanSummary, type TimingSummary } from './protocol.js';
import { tunnelEntry } from './tunnels.js';
import { faultEntry } from './faults.js';
import { SPAN_TUNNEL } from '../bus/span.js';
import { formatAddress } from '../bus/tunnel.js';

/** A bus's namespace pin where the host sees it. */
function hostPath(context: ControlContext, path: string): string {
  return context.hostNetnsDir === undefined ? path : join(context.hostNetnsDir, basename(path));
}

/** A spanned bus's settings and this node's part in it, as the last round of keeping it found them. */
function spanSummary(context: ControlContext, bus: Bus): SpanSummary | undefined {
  if (bus.span === undefined) return undefined;
  const plan = context.buses.spanPlan(bus.id);
  const hub = plan?.hub;
  const server = plan?.tunnel?.transport === 'tcp-server' ? plan.tunnel : undefined;
  return {
    mode: bus.span.mode,
    ...(plan === undefined ? {} : { role: plan.role }),
    ...(hub === undefined ? {} : { hub: formatAddress(hub.host, hub.port) }),
    // A hub alone (no other node has the network yet) takes no one: it runs no server then.
    ...(plan?.role === 'hub' ? { nodes: server?.allow ?? [] } : {}),
  };
}

/** A timed bus's settings and, while its arbiter runs, its traffic. */
function timingSummary(context: ControlContext, bus: Bus): TimingSummary | undefined {
  if (bus.timing === undefined) return undefined;
  const stats = context.buses.timing(bus.id);
  return {
    ...bus.timing,
    ...(stats === undefined ? {} : { load: stats.load, frames: stats.frames, waiting: stats.waiting, dropped: stats.dropped }),
    inject: INJECT,
  };
}

export function knownBus(context: ControlContext, name: string): Bus {
  const bus = context.buses.byName(name) ?? context.buses.get(name);
  if (bus === undefined) throw new UnknownBusError(name, 'name');
  return bus;
}

const listBuses: ControlHandler<'Bus.List'> = (_body, context) => {
  const gateways = context.buses.gateways().filter((view) => view.status.state === 'wired');
  const buses: BusEntry[] = context.buses.list().map((bus) => {
    const seen = context.buses.observe(bus.id);
    const span = spanSummary(context, bus);
    const timing = timingSummary(context, bus);
    return {
      name: bus.name,
      id: bus.id,
      fd: bus.fd,
      members: bus.members.length,
      gateways: gateways.filter((view) => view.gateway.source === bus.name || view.gateway.destination === bus.name).length,
      uplinks: bus.uplinks?.length ?? 0,
      frames: seen.frames,
      dropped: seen.dropped,
      namespace: hostPath(context, seen.namespacePath),
      ...(span === undefined ? {} : { span }),
      ...(timing === undefined ? {} : { timing }),
    };
  });
  return { buses };
};

const inspectBus: ControlHandler<'Bus.Inspect'> = (body, context) => busDetail(context, knownBus(context, text(body, 'bus')));

/** One bus in detail, as `cantainer inspect` shows it. */
export async function busDetail(context: ControlContext, bus: Bus): Promise<BusDetail> {
  const seen = context.buses.observe(bus.id);
  const containers =
    context.memberContainers === undefined
      ? new Map<string, { container: string; netnsPath?: string }>()
      : await context.memberContainers(bus.id).catch(() => new Map<string, { container: string; netnsPath?: string }>());
  const members = bus.members.map((member) => {
    const found = containers.get(member.id);
    const iface =
      found?.netnsPath === undefined
        ? undefined
        : context.buses.memberInterface(bus.id, member.id, { label: found.container, path: found.netnsPath });
    // Members attached into a namespace file (CNI, netavark) carry their container's name and keep their interface's.
    const container = found?.container.replace(/^\//u, '') ?? member.annotations?.[CONTAINER_ANNOTATION];
    return {
      id: member.id,
      hostEnd: hostEndName(member.id),
      ...(container === undefined ? {} : { container }),
      ...(iface === undefined ? (member.end.handover !== true ? { interface: member.end.name } : {}) : { interface: iface }),
      ...(member.end.netns === undefined ? {} : { netns: member.end.netns }),
      ...(member.send === undefined ? {} : { send: member.send }),
      ...(member.receive === undefined ? {} : { receive: member.receive }),
    };
  });
  const span = spanSummary(context, bus);
  const spanTunnel = bus.tunnels?.find((tunnel) => tunnel.name === SPAN_TUNNEL);
  const timing = timingSummary(context, bus);
  return {
    name: bus.name,
    id: bus.id,
    fd: bus.fd,
    ...(timing === undefined ? {} : { timing }),
    sendOn: throughArbiter(bus) ? INJECT : MONITOR,
    ...((bus.faults ?? []).length === 0 ? {} : { faults: (bus.faults ?? []).map((fault) => faultEntry(bus, fault, containers)) }),
    ...(span === undefined
      ? {}
      : {
          span: {
            ...span,
            ...(spanTunnel === undefined ? {} : { tunnel: tunnelEntry(bus.name, spanTunnel, context.tunnels?.view(bus.id, SPAN_TUNNEL)) }),
          },
        }),
    namespace: hostPath(context, seen.namespacePath),
    frames: seen.frames,
    dropped: seen.dropped,
    members,
    gateways: context.buses
      .gateways()
      .filter((view) => view.gateway.source === bus.name || view.gateway.destination === bus.name)
      .map((view) => gatewayEntry(view, context.buses)),
    uplinks: context.buses
      .uplinks()
      .filter((view) => view.bus === bus.name)
      .map((view) => ({
        interface: view.uplink.interface,
        direction: view.uplink.direction,
        state: view.state,
        ...(view.detail === undefined ? {} : { detail: view.detail }),
      })),
    rules: seen.rules.map((rule) => ({
      source: rule.source,
      destination: rule.destination,
      fd: rule.fd === true,
      ...(rule.filter === undefined
        ? {}
        : { filter: `${rule.filter.id.toString(16).toUpperCase()}/${rule.filter.mask.toString(16).toUpperCase()}` }),
      ...(rule.modifications === undefined ? {} : { edits: Object.keys(rule.modifications) }),
      handled: rule.counters.handled,
      dropped: rule.counters.dropped,
      deleted: rule.counters.deleted,
    })),
    drift: context.buses
      .check(bus.id)
      .map((change) => `${change.action} ${change.object} ${change.name}${change.detail === undefined ? '' : ` (${change.detail})`}`),
  };
}

const repairBus: ControlHandler<'Bus.Repair'> = async (body, context) => {
  const bus = knownBus(context, text(body, 'bus'));
  const changes = await context.buses.repair(bus.id);
  return { bus: bus.name, changes: changes.map((change) => `${change.action} ${change.object} ${change.name}`) };
};

const daemonStatus: ControlHandler<'Daemon.Status'> = (_body, context) => ({
  version: packageVersion(),
  pid: process.pid,
  ...(context.started === undefined
    ? {}
    : {
        startedAt: context.started.at,
        stateFile: context.started.stateFile,
        ...(context.started.stateProblem === undefined ? {} : { stateProblem: context.started.stateProblem }),
      }),
  buses: context.buses.list().length,
});

const streamEvents: StreamHandler = (_body, context) => {
  const stream: JsonStream = { [STREAM]: (write) => context.buses.onEvent(write) };
  return stream;
};

export const BUS_HANDLERS: ControlHandlers<'Bus.List' | 'Bus.Inspect' | 'Bus.Repair' | 'Daemon.Status'> = {
  'Bus.List': listBuses,
  'Bus.Inspect': inspectBus,
  'Bus.Repair': repairBus,
  'Daemon.Status': daemonStatus,
};

export const STREAM_HANDLERS = { 'Events.Stream': streamEvents } as const;
