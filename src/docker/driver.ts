// Docker's remote network driver in CAN terms: a network is a bus, an endpoint is a member, Join hands Docker the
// member's end to move into the container. The endpoint table maps each protocol path to a parser and a handler;
// the transport (transport/json-server.ts) knows nothing of CAN and this file nothing of HTTP.
import { createHash } from 'node:crypto';
import { CantainerError, InvalidValueError } from '../errors.js';
import type { JsonHandler } from '../transport/json-server.js';
import type { Logger } from '../log.js';
import type { Bus, Member } from '../bus/model.js';
import type { BusService } from '../service/buses.js';
import { UnknownBusError } from '../errors.js';
import { gatewayFromWords } from '../bus/gateway-spec.js';
import { DEFAULT_PREFIX, parseEndpointOptions, parseNetworkOptions } from './options.js';
import { provisionalName, type NetworkNamer } from './names.js';
import {
  genericOptions,
  parseCreateEndpoint,
  parseCreateNetwork,
  parseEndpointRequest,
  parseJoin,
  parseNetworkRequest,
  usesAddressPool,
  ACTIVATE,
  CAPABILITIES,
  type JoinResponse,
} from './protocol.js';

/** The member id of a network's host interface (`host_if`). */
export const HOST_MEMBER = 'host-interface';

/** Annotation keys kept with buses and members in the state. */
const NOTE = { prefix: 'prefix', ifname: 'ifname', origin: 'origin' } as const;

/** The member end's name in the daemon's namespace until Docker moves it: 14 characters from the endpoint id. */
export function endpointEndName(endpointId: string): string {
  return `cx${createHash('sha256').update(endpointId).digest('hex').slice(0, 12)}`;
}

export interface DriverContext {
  readonly buses: BusService;
  readonly log: Logger;
  /** Whether an interface of that name exists in the daemon's namespace (host_if must not). */
  readonly hostLinkExists: (name: string) => boolean;
  /** Learns a new bus's network name from Docker; without it, buses are known by their network ids. */
  readonly namer?: NetworkNamer;
}

/** One protocol endpoint: the generic transport's handler with this driver's context. */
export type Handler = JsonHandler<DriverContext>;

function memberOf(bus: Bus, endpointId: string): Member | undefined {
  return bus.members.find((member) => member.id === endpointId);
}

function knownBus(context: DriverContext, networkId: string): Bus {
  const bus = context.buses.get(networkId);
  if (bus === undefined) throw new UnknownBusError(networkId);
  return bus;
}

/** Swarm names its networks with 25 characters of base 36; one engine names its own with 64 hex digits. */
export function isSwarmNetwork(id: string): boolean {
  return /^[a-z0-9]{25}$/u.test(id);
}

const createNetwork: Handler = async (body, context, request) => {
  const req = parseCreateNetwork(body);
  request.network = req.NetworkID;
  const generic = genericOptions(req.Options);
  const options = parseNetworkOptions(generic);
  const swarm = isSwarmNetwork(req.NetworkID);
  // swarmkit gives the nodes a local driver's swarm network with its driver's name only: what -o said is lost.
  if (swarm && Object.keys(generic).length === 0)
    context.log.warn(
      'a swarm network came without options: Docker passes the -o options of a --scope swarm network to no node; put them (span=swarm, fd=true, ...) in a network created with --config-only on every node, and create the swarm network with --config-from it',
      { network: req.NetworkID },
    );
  if (options.noEffect.length > 0)
    context.log.info('options accepted for compatibility, with no effect: every bus is exactly-once and has a monitor interface', {
      network: req.NetworkID,
      options: options.noEffect.join(','),
    });
  if (usesAddressPool(req.IPv4Data)) {
    context.log.warn(
      swarm
        ? 'this CAN network was given an IPv4 address pool it cannot use; a swarm network takes --ipam-driver null from its --config-only network'
        : 'this CAN network was given an IPv4 address pool it cannot use; create CAN networks with --ipam-driver null (compose: ipam: {driver: "null"})',
      { network: req.NetworkID },
    );
  }
  const existing = context.buses.get(req.NetworkID);
  const members: Member[] = [];
  if (options.hostInterface !== undefined) {
    const ours = existing?.members.some((member) => member.id === HOST_MEMBER && member.end.name === options.hostInterface) === true;
    if (!ours && context.hostLinkExists(options.hostInterface)) {
      throw new InvalidValueError(
        'network option "host_if"',
        options.hostInterface,
        'a name no interface on this host has (cantainer creates it, and removes it with the network)',
      );
    }
    members.push({ id: HOST_MEMBER, end: { name: options.hostInterface, up: true } });
  }
  const name = existing?.name ?? provisionalName(req.NetworkID);
  const gateways = options.gateways.map(({ option, words }) => gatewayFromWords(`network option "${option}"`, name, words));
  await context.buses.createBus(
    {
      id: req.NetworkID,
      name,
      fd: options.fd,
      members: existing?.members ?? members,
      ...(options.uplinks.length === 0 ? {} : { uplinks: options.uplinks }),
      ...(options.tunnels.length === 0 ? {} : { tunnels: options.tunnels }),
      ...(options.span === undefined ? {} : { span: options.span }),
      ...(options.timing === undefined ? {} : { timing: options.timing }),
      annotations: { [NOTE.origin]: 'docker', [NOTE.prefix]: options.prefix },
    },
    { gateways },
  );
  // Docker stores the network once this answer is back: only then can its name be asked.
  void context.namer?.learn(req.NetworkID);
  return {};
};

const deleteNetwork: Handler = async (body, context, request) => {
  const req = parseNetworkRequest(body);
  request.network = req.NetworkID;
  await context.buses.removeBus(req.NetworkID);
  return {};
};

const createEndpoint: Handler = async (body, context, request) => {
  const req = parseCreateEndpoint(body);
  Object.assign(request, { network: req.NetworkID, endpoint: req.EndpointID });
  if (req.Interface.MacAddress !== '')
    throw new InvalidValueError('MacAddress', req.Interface.MacAddress, 'none: CAN interfaces have no MAC address (drop --mac-address)');
  const options = parseEndpointOptions(req.Options);
  const bus = knownBus(context, req.NetworkID);
  const annotations: Record<string, string> = { [NOTE.prefix]: options.prefix ?? bus.annotations?.[NOTE.prefix] ?? DEFAULT_PREFIX };
  if (options.ifname !== undefined) annotations[NOTE.ifname] = options.ifname;
  await context.buses.addMember(req.NetworkID, {
    id: req.EndpointID,
    end: { name: endpointEndName(req.EndpointID), handover: true },
    ...(options.send === undefined ? {} : { send: options.send }),
    ...(options.receive === undefined ? {} : { receive: options.receive }),
    annotations,
  });
  // Never an Interface: Docker refuses a driver that changes what it set, and CAN has neither MAC nor address.
  return {};
};

const join: Handler = (body, context, request) => {
  const req = parseJoin(body);
  Object.assign(request, { network: req.NetworkID, endpoint: req.EndpointID });
  const member = memberOf(knownBus(context, req.NetworkID), req.EndpointID);
  if (member === undefined)
    throw new CantainerError('ENOMEMBER', `no endpoint ${req.EndpointID} on network ${req.NetworkID}`, {
      hint: 'Docker creates the endpoint before joining; recreate the container',
    });
  const ifname = member.annotations?.[NOTE.ifname];
  const response: JoinResponse = {
    InterfaceName: {
      SrcName: member.end.name,
      DstPrefix: member.annotations?.[NOTE.prefix] ?? DEFAULT_PREFIX,
      ...(ifname === undefined ? {} : { DstName: ifname }),
    },
    // No docker_gwbridge interface for containers on CAN networks only: a CAN bus has no gateway.
    DisableGatewayService: true,
  };
  return response;
};

const deleteEndpoint: Handler = async (body, context, request) => {
  const req = parseEndpointRequest(body);
  Object.assign(request, { network: req.NetworkID, endpoint: req.EndpointID });
  await context.buses.removeMember(req.NetworkID, req.EndpointID);
  return {};
};

/** Docker moves the member end back out of the container after Leave: it is deleted in DeleteEndpoint. */
const leave: Handler = (body, _context, request) => {
  const req = parseEndpointRequest(body);
  Object.assign(request, { network: req.NetworkID, endpoint: req.EndpointID });
  return {};
};

const endpointOperInfo: Handler = (body, context, request) => {
  const req = parseEndpointRequest(body);
  Object.assign(request, { network: req.NetworkID, endpoint: req.EndpointID });
  const bus = context.buses.get(req.NetworkID);
  const member = bus === undefined ? undefined : memberOf(bus, req.EndpointID);
  return { Value: member === undefined || bus === undefined ? {} : { bus: bus.name, fd: bus.fd, mtu: bus.fd ? 72 : 16 } };
};

const nothing: Handler = () => ({});

/** Every path of the protocol; unknown paths are answered 404 by the transport. */
export const ENDPOINTS: Readonly<Record<string, Handler>> = {
  '/Plugin.Activate': () => ACTIVATE,
  '/NetworkDriver.GetCapabilities': () => CAPABILITIES,
  // Asked before Docker reserves a gateway address (Engine 28+): a CAN bus needs none.
  '/NetworkDriver.GwAllocCheck': () => ({ SkipIPv4: true, SkipIPv6: true }),
  '/NetworkDriver.CreateNetwork': createNetwork,
  '/NetworkDriver.DeleteNetwork': deleteNetwork,
  '/NetworkDriver.AllocateNetwork': () => ({ Options: {} }),
  '/NetworkDriver.FreeNetwork': nothing,
  '/NetworkDriver.CreateEndpoint': createEndpoint,
  '/NetworkDriver.DeleteEndpoint': deleteEndpoint,
  '/NetworkDriver.EndpointOperInfo': endpointOperInfo,
  '/NetworkDriver.Join': join,
  '/NetworkDriver.Leave': leave,
  '/NetworkDriver.DiscoverNew': nothing,
  '/NetworkDriver.DiscoverDelete': nothing,
  '/NetworkDriver.ProgramExternalConnectivity': nothing,
  '/NetworkDriver.RevokeExternalConnectivity': nothing,
};
