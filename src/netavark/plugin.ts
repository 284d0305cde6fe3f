// The netavark plugin (Podman 5; netavark 1.6 and later): `create` checks a network's options, `setup NETNS` puts
// the container on the bus through the cantainer daemon's control socket, `teardown NETNS` takes it off, `info`
// says what this is. Like the CNI plugin, it only parses, checks and translates: one daemon, one state per host.
import { createHash } from 'node:crypto';
import { CantainerError, describeValue, errorMessage } from '../errors.js';
import { callDaemon, START_DAEMON, type DaemonCall } from '../control/client.js';
import { CONTAINER_ANNOTATION, CONTROL_SOCKET_ENV, DEFAULT_CONTROL_SOCKET, checkTiming, parseBitrate } from '../control/protocol.js';
import { packageVersion } from '../version.js';

export interface NetavarkOutcome {
  readonly stdout: string;
  readonly exitCode: number;
}

export const API_VERSION = '1.0.0';

/** Network options this plugin reads (`podman network create -o KEY=VALUE`). */
export const NETWORK_OPTIONS = ['bus', 'fd', 'bitrate', 'dbitrate'] as const;

/** Member annotations that say which container and network a member is. */
const NOTE = { origin: 'origin', container: 'netavark.container', name: 'netavark.name', network: 'netavark.network' } as const;

class PluginError extends Error {}

type Json = Readonly<Record<string, unknown>>;

function record(value: unknown, field: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new PluginError(`${field}: ${describeValue(value)} is not an object`);
  return value as Json;
}

function parseStdin(stdin: string): Json {
  try {
    return record(JSON.parse(stdin), 'the JSON on stdin');
  } catch (error) {
    if (error instanceof PluginError) throw error;
    throw new PluginError(`the JSON on stdin does not parse: ${errorMessage(error)}`);
  }
}

/** A network's cantainer settings, from its options; every problem named with the option, the value and what is allowed. */
export function busOfNetwork(network: Json): {
  readonly bus: string;
  readonly fd?: boolean;
  readonly timing?: { readonly bitrate: number; readonly dbitrate?: number };
} {
  const name = network.name;
  if (typeof name !== 'string' || name === '')
    throw new PluginError(`network name: ${describeValue(name)} is not valid; allowed: the network's name`);
  const subnets = network.subnets;
  if (Array.isArray(subnets) && subnets.length > 0)
    throw new PluginError(
      `network ${name}: subnets ${describeValue(subnets)} are not valid; a CAN bus has no IP addresses: create it without --subnet, --gateway or --ip-range`,
    );
  if (network.ipv6_enabled === true)
    throw new PluginError(`network ${name}: ipv6_enabled is not valid; a CAN bus has no IP addresses: create it without --ipv6`);
  const options = network.options === undefined || network.options === null ? {} : record(network.options, 'network options');
  for (const [key, value] of Object.entries(options)) {
    if (!(NETWORK_OPTIONS as readonly string[]).includes(key))
      throw new PluginError(
        `network option ${JSON.stringify(key)} (value ${describeValue(value)}) is not supported; allowed: ${NETWORK_OPTIONS.join(', ')}`,
      );
    if (typeof value !== 'string') throw new PluginError(`network option ${key}: ${describeValue(value)} is not a string`);
  }
  const fd = options.fd as string | undefined;
  if (fd !== undefined && fd !== 'true' && fd !== 'false')
    throw new PluginError(`network option fd: ${JSON.stringify(fd)} is not valid; allowed: true or false`);
  const bus = (options.bus as string | undefined) ?? name;
  if (bus === '' || bus.length > 256)
    throw new PluginError(`network option bus: ${JSON.stringify(bus)} is not valid; allowed: the name of a bus, 1..256 characters`);
  const timing = timingOf(options, fd === 'true');
  return { bus, ...(fd === undefined ? {} : { fd: fd === 'true' }), ...(timing === undefined ? {} : { timing }) };
}

/** `bitrate` and `dbitrate` (500000, 500k, 1M): a timed bus, checked as the daemon will check it. */
function timingOf(options: Readonly<Record<string, unknown>>, fd: boolean): { bitrate: number; dbitrate?: number } | undefined {
  const field = (key: string): string => `network option ${key}`;
  const bitrate = typeof options.bitrate === 'string' ? parseBitrate(field('bitrate'), options.bitrate) : undefined;
  const dbitrate = typeof options.dbitrate === 'string' ? parseBitrate(field('dbitrate'), options.dbitrate) : undefined;
  if (bitrate === undefined) {
    if (dbitrate !== undefined) throw new PluginError(`${field('dbitrate')}: a data bit rate only with bitrate (the nominal rate)`);
    return undefined;
  }
  const timing = { bitrate, ...(dbitrate === undefined ? {} : { dbitrate }) };
  checkTiming(timing, fd, field);
  return timing;
}

/** Podman names a container's interfaces eth0, eth1, ... unless told; on a CAN bus they are can0, can1, ... */
export function interfaceName(asked: unknown): string {
  if (asked === undefined || asked === null || asked === '') return 'can0';
  if (typeof asked !== 'string') throw new PluginError(`interface_name: ${describeValue(asked)} is not a string`);
  const auto = /^eth(\d+)$/u.exec(asked);
  return auto === null ? asked : `can${auto[1] ?? '0'}`;
}

export function containerMemberId(containerId: string, ifname: string): string {
  return `pm-${createHash('sha256').update(`${containerId}\0${ifname}`).digest('hex').slice(0, 24)}`;
}

function create(stdin: string): string {
  const network = parseStdin(stdin);
  const { fd } = busOfNetwork(network);
  // No addresses, so nothing for aardvark-dns to answer for.
  return JSON.stringify({
    ...network,
    dns_enabled: false,
    ...(fd === undefined ? {} : { options: { ...record(network.options, 'network options'), fd: String(fd) } }),
  });
}

interface Attachment {
  readonly bus: string;
  readonly fd?: boolean;
  readonly timing?: { readonly bitrate: number; readonly dbitrate?: number };
  readonly member: string;
  readonly ifname: string;
  readonly containerId: string;
  readonly containerName: string;
  readonly network: string;
  /** The container's network namespace file. */
  readonly netns: string;
}

function attachment(stdin: string, netns: string | undefined): Attachment {
  if (netns === undefined || !netns.startsWith('/'))
    throw new PluginError(
      `the namespace argument: ${describeValue(netns)} is not valid; allowed: the absolute path of the container's network namespace`,
    );
  const input = parseStdin(stdin);
  const network = record(input.network, 'network');
  const options = input.network_options === undefined ? {} : record(input.network_options, 'network_options');
  const containerId = input.container_id;
  if (typeof containerId !== 'string' || containerId === '')
    throw new PluginError(`container_id: ${describeValue(containerId)} is not valid; allowed: the container's id`);
  if (Array.isArray(options.static_ips) && options.static_ips.length > 0)
    throw new PluginError(
      `static_ips ${describeValue(options.static_ips)}: a CAN interface has no IP address; run the container without --ip on this network`,
    );
  if (typeof options.static_mac === 'string' && options.static_mac !== '')
    throw new PluginError(
      `static_mac ${JSON.stringify(options.static_mac)}: a CAN interface has no MAC address; run the container without --mac-address on this network`,
    );
  const { bus, fd, timing } = busOfNetwork(network);
  const ifname = interfaceName(options.interface_name);
  return {
    bus,
    ...(fd === undefined ? {} : { fd }),
    ...(timing === undefined ? {} : { timing }),
    member: containerMemberId(containerId, ifname),
    ifname,
    containerId,
    containerName: typeof input.container_name === 'string' ? input.container_name : '',
    network: network.name as string,
    netns,
  };
}

function message(error: unknown, socket: string): string {
  if (error instanceof CantainerError && error.code === 'ENODAEMON')
    return `${error.message}: start it (${START_DAEMON}), or name its socket with $${CONTROL_SOCKET_ENV} (socket ${socket})`;
  return errorMessage(error);
}

/** Runs one call of the plugin: never throws; errors come back as `{"error": ...}` with exit status 1. */
export async function runNetavark(
  argv: readonly string[],
  stdin: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
  call: DaemonCall = callDaemon,
): Promise<NetavarkOutcome> {
  const socket = env[CONTROL_SOCKET_ENV] ?? DEFAULT_CONTROL_SOCKET;
  try {
    const [command, netns] = argv;
    switch (command) {
      case 'info':
        return {
          stdout: `${JSON.stringify({ version: packageVersion(), api_version: API_VERSION, description: 'cantainer: virtual CAN buses for containers' })}\n`,
          exitCode: 0,
        };
      case 'create':
        return { stdout: `${create(stdin)}\n`, exitCode: 0 };
      case 'setup': {
        const a = attachment(stdin, netns);
        await call(socket, 'Member.Attach', {
          bus: a.bus,
          create: true,
          ...(a.fd === undefined ? {} : { fd: a.fd }),
          ...(a.timing === undefined ? {} : a.timing),
          member: a.member,
          netns: a.netns,
          interface: a.ifname,
          annotations: {
            [NOTE.origin]: 'netavark',
            [NOTE.container]: a.containerId,
            [NOTE.name]: a.containerName,
            [NOTE.network]: a.network,
            [CONTAINER_ANNOTATION]: a.containerName === '' ? a.containerId.slice(0, 12) : a.containerName,
          },
          busAnnotations: { [NOTE.origin]: 'netavark' },
        });
        return { stdout: `${JSON.stringify({ interfaces: { [a.ifname]: { mac_address: '', subnets: [] } } })}\n`, exitCode: 0 };
      }
      case 'teardown': {
        const a = attachment(stdin, netns);
        await call(socket, 'Member.Detach', { bus: a.bus, member: a.member });
        return { stdout: '', exitCode: 0 };
      }
      default:
        throw new PluginError(`the command ${describeValue(command)} is not valid; allowed: create, setup NETNS, teardown NETNS, info`);
    }
  } catch (error) {
    return { stdout: `${JSON.stringify({ error: message(error, socket) })}\n`, exitCode: 1 };
  }
}
