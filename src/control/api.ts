// The daemon's control API: what the `cantainer` commands ask of a running daemon, over its own socket (never
// Docker's plugin socket). POST /<Object>.<Verb> with a JSON body, a JSON answer, `{"Err": ...}` on failure: the
// same transport as the plugin protocol. Handlers parse and check, then call the bus service; nothing else.
import { InvalidValueError } from '../errors.js';
import { optionalInteger, optionalText, strings, text } from './body.js';
import { MEMBER_ENDPOINTS } from './members.js';
import { STREAM, type JsonStream } from '../transport/json-server.js';
import type { ControlContext, ControlHandler } from './context.js';
import { describeGateway, type Gateway } from '../bus/gateway.js';
import { gatewayFromFlags, type GatewayFlags } from '../bus/gateway-spec.js';
import type { BusService, GatewayView } from '../service/buses.js';
import { UnknownBusError, UnknownGatewayError, UnknownTunnelError, UnknownUplinkError } from '../service/errors.js';
import type { Bus } from '../bus/model.js';
import { hostEndName } from '../bus/plan.js';
import { UPLINK_DIRECTIONS, type UplinkDirection } from '../bus/uplink.js';
import { CantainerError } from '../errors.js';
import { packageVersion } from '../version.js';
import { checkTunnel, defaultTunnelName, TUNNEL_TRANSPORTS, type Tunnel, type TunnelTransport } from '../bus/tunnel.js';
import type { TunnelCounters } from '../tunnel/counters.js';
import type { TunnelHost, TunnelView } from '../tunnel/host.js';

export type { ControlContext } from './context.js';

export { DEFAULT_CONTROL_SOCKET } from './client.js';
import { CONTAINER_ANNOTATION } from './client.js';

/** A bus in `cantainer ls`. */
export interface BusEntry {
  readonly name: string;
  readonly id: string;
  readonly fd: boolean;
  readonly members: number;
  readonly gateways: number;
  readonly uplinks: number;
  readonly frames: number;
  readonly dropped: number;
  /** The bus's namespace file: tools read its `monitor` interface there. */
  readonly namespace: string;
}

/** A gateway as the API shows it: its settings, the name of the bus that declares it, and its status. */
export type GatewayEntry = Omit<Gateway, 'declaredBy'> & {
  /** The bus whose settings declare it (then it goes with that bus), or absent when added by hand. */
  readonly declaredBy?: string;
  readonly state: 'wired' | 'waiting' | 'refused';
  /** Why it is not wired: the missing buses, or the reason it is refused. */
  readonly detail?: string;
};

/** The flags of a gateway in a request body (the command line's flags, by their long names). */
export function gatewayFlagsOf(body: Readonly<Record<string, unknown>>): GatewayFlags {
  const both = body.both;
  if (both !== undefined && typeof both !== 'boolean') throw new InvalidValueError('both', both, 'true or false');
  const lists = Object.fromEntries(
    (['accept', 'reject', 'set', 'and', 'or', 'xor'] as const).flatMap((key) =>
      strings(body, key) === undefined ? [] : [[key, strings(body, key)]],
    ),
  );
  const xorChecksum = optionalText(body, 'xorChecksum');
  const crc8 = optionalText(body, 'crc8');
  return {
    ...(both === undefined ? {} : { both }),
    ...lists,
    ...(xorChecksum === undefined ? {} : { xorChecksum }),
    ...(crc8 === undefined ? {} : { crc8 }),
  };
}

export function gatewayEntry(view: GatewayView, buses: BusService): GatewayEntry {
  const { gateway, status } = view;
  const detail =
    status.state === 'waiting' ? `waiting for ${status.missing.join(' and ')}` : status.state === 'refused' ? status.reason : undefined;
  return {
    source: gateway.source,
    destination: gateway.destination,
    both: gateway.both,
    accept: gateway.accept,
    reject: gateway.reject,
    edits: gateway.edits,
    ...(gateway.xorChecksum === undefined ? {} : { xorChecksum: gateway.xorChecksum }),
    ...(gateway.crc8Checksum === undefined ? {} : { crc8Checksum: gateway.crc8Checksum }),
    ...(gateway.declaredBy === undefined ? {} : { declaredBy: buses.get(gateway.declaredBy)?.name ?? gateway.declaredBy }),
    state: status.state,
    ...(detail === undefined ? {} : { detail }),
  };
}

const addGateway: ControlHandler = async (body, context) => {
  const gateway = gatewayFromFlags(text(body, 'source'), text(body, 'destination'), gatewayFlagsOf(body));
  const view = await context.buses.addGateway(gateway);
  return { gateway: gatewayEntry(view, context.buses) };
};

const removeGateway: ControlHandler = async (body, context) => {
  const source = text(body, 'source');
  const destination = text(body, 'destination');
  if (!(await context.buses.removeGateway(source, destination))) throw new UnknownGatewayError(source, destination);
  return { removed: describeGateway({ source, destination, both: false }) };
};

const listGateways: ControlHandler = (_body, context) => ({
  gateways: context.buses.gateways().map((view) => gatewayEntry(view, context.buses)),
});

const addUplink: ControlHandler = async (body, context) => {
  const direction = optionalText(body, 'direction') ?? 'both';
  if (!(UPLINK_DIRECTIONS as readonly string[]).includes(direction))
    throw new InvalidValueError('--direction', direction, UPLINK_DIRECTIONS.join(', '));
  const view = await context.buses.addUplink(text(body, 'bus'), {
    interface: text(body, 'interface'),
    direction: direction as UplinkDirection,
    accept: strings(body, 'accept') ?? [],
    reject: strings(body, 'reject') ?? [],
  });
  return { uplink: { bus: view.bus, ...view.uplink, state: view.state, ...(view.detail === undefined ? {} : { detail: view.detail }) } };
};

const removeUplink: ControlHandler = async (body, context) => {
  const bus = text(body, 'bus');
  const iface = text(body, 'interface');
  if (!(await context.buses.removeUplink(bus, iface))) throw new UnknownUplinkError(bus, iface);
  return { removed: `${bus} ${iface}` };
};

const listUplinks: ControlHandler = (_body, context) => ({
  uplinks: context.buses
    .uplinks()
    .map((view) => ({ bus: view.bus, ...view.uplink, state: view.state, ...(view.detail === undefined ? {} : { detail: view.detail }) })),
});

/** A tunnel as the API shows it: its settings, its bus, its state and counters. */
export type TunnelEntry = Tunnel & {
  readonly bus: string;
  readonly state: 'up' | 'failed' | 'stopped';
  readonly detail?: string;
  readonly peers?: readonly string[];
  readonly counters?: TunnelCounters;
};

function tunnelEntry(bus: string, tunnel: Tunnel, view: TunnelView | undefined): TunnelEntry {
  if (view === undefined) return { bus, ...tunnel, state: 'stopped', detail: 'not running in this daemon' };
  return {
    bus,
    ...tunnel,
    state: view.state,
    ...(view.detail === undefined ? {} : { detail: view.detail }),
    ...(view.peers === undefined ? {} : { peers: view.peers }),
    counters: view.counters,
  };
}

function tunnelHost(context: ControlContext): TunnelHost {
  if (context.tunnels === undefined)
    throw new CantainerError('ENOTUNNELS', 'this daemon runs no tunnels', { hint: 'tunnels run in `cantainer daemon`' });
  return context.tunnels;
}

/** A tunnel from a request body (the command line's flags by their long names). */
export function tunnelOf(body: Readonly<Record<string, unknown>>): Tunnel {
  const transport = optionalText(body, 'transport');
  if (transport === undefined || !(TUNNEL_TRANSPORTS as readonly string[]).includes(transport))
    throw new InvalidValueError('transport', transport, TUNNEL_TRANSPORTS.join(', '));
  const listen = optionalText(body, 'listen');
  const peer = optionalText(body, 'peer');
  const timeoutUs = optionalInteger(body, 'timeoutUs');
  const mtu = optionalInteger(body, 'mtu');
  const draft = {
    transport: transport as TunnelTransport,
    ...(listen === undefined ? {} : { listen }),
    ...(peer === undefined ? {} : { peer }),
    ...(timeoutUs === undefined ? {} : { timeoutUs }),
    ...(mtu === undefined ? {} : { mtu }),
    allow: strings(body, 'allow') ?? [],
  };
  const tunnel = { name: optionalText(body, 'name') ?? defaultTunnelName(draft), ...draft };
  checkTunnel(tunnel);
  return tunnel;
}

const addTunnel: ControlHandler = async (body, context) => {
  const host = tunnelHost(context);
  const busName = text(body, 'bus');
  const tunnel = tunnelOf(body);
  const previous = (context.buses.byName(busName)?.tunnels ?? []).find((t) => t.name === tunnel.name);
  const bus = await context.buses.addTunnel(busName, tunnel);
  await host.sync(context.buses.list());
  const view = host.view(bus.id, tunnel.name);
  if (view?.state === 'failed') {
    // Nothing is kept of a tunnel that cannot run: the bus goes back to what it had.
    if (previous === undefined) await context.buses.removeTunnel(busName, tunnel.name);
    else await context.buses.addTunnel(busName, previous);
    await host.sync(context.buses.list());
    throw new CantainerError('ETUNNEL', `tunnel ${tunnel.name} of bus ${busName} cannot start: ${view.detail ?? 'unknown reason'}`, {
      hint: 'is the address one of this host, and the port free? (ss -lunt)',
    });
  }
  return { tunnel: tunnelEntry(bus.name, tunnel, view) };
};

const removeTunnel: ControlHandler = async (body, context) => {
  const host = tunnelHost(context);
  const busName = text(body, 'bus');
  const name = text(body, 'name');
  if (!(await context.buses.removeTunnel(busName, name))) throw new UnknownTunnelError(busName, name);
  await host.sync(context.buses.list());
  return { removed: `${busName} ${name}` };
};

const listTunnels: ControlHandler = (_body, context) => ({
  tunnels: context.buses
    .list()
    .flatMap((bus) => (bus.tunnels ?? []).map((tunnel) => tunnelEntry(bus.name, tunnel, context.tunnels?.view(bus.id, tunnel.name)))),
});

function knownBus(context: ControlContext, name: string): Bus {
  const bus = context.buses.byName(name) ?? context.buses.get(name);
  if (bus === undefined) throw new UnknownBusError(name, 'name');
  return bus;
}

const listBuses: ControlHandler = (_body, context) => {
  const gateways = context.buses.gateways().filter((view) => view.status.state === 'wired');
  const buses: BusEntry[] = context.buses.list().map((bus) => {
    const seen = context.buses.observe(bus.id);
    return {
      name: bus.name,
      id: bus.id,
      fd: bus.fd,
      members: bus.members.length,
      gateways: gateways.filter((view) => view.gateway.source === bus.name || view.gateway.destination === bus.name).length,
      uplinks: bus.uplinks?.length ?? 0,
      frames: seen.frames,
      dropped: seen.dropped,
      namespace: seen.namespacePath,
    };
  });
  return { buses };
};

const inspectBus: ControlHandler = async (body, context) => {
  const bus = knownBus(context, text(body, 'bus'));
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
  return {
    name: bus.name,
    id: bus.id,
    fd: bus.fd,
    namespace: seen.namespacePath,
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
};

const repairBus: ControlHandler = async (body, context) => {
  const bus = knownBus(context, text(body, 'bus'));
  const changes = await context.buses.repair(bus.id);
  return { bus: bus.name, changes: changes.map((change) => `${change.action} ${change.object} ${change.name}`) };
};

const daemonStatus: ControlHandler = (_body, context) => ({
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

const streamEvents: ControlHandler = (_body, context) => {
  const stream: JsonStream = { [STREAM]: (write) => context.buses.onEvent(write) };
  return stream;
};

export const CONTROL_ENDPOINTS: Readonly<Record<string, ControlHandler>> = {
  '/Gateway.Add': addGateway,
  '/Gateway.Remove': removeGateway,
  '/Gateway.List': listGateways,
  '/Uplink.Add': addUplink,
  '/Uplink.Remove': removeUplink,
  '/Uplink.List': listUplinks,
  '/Tunnel.Add': addTunnel,
  '/Tunnel.Remove': removeTunnel,
  '/Tunnel.List': listTunnels,
  '/Bus.List': listBuses,
  '/Bus.Inspect': inspectBus,
  '/Events.Stream': streamEvents,
  '/Bus.Repair': repairBus,
  '/Daemon.Status': daemonStatus,
  ...MEMBER_ENDPOINTS,
};
