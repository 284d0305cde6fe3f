// Driver options of `docker network create -o` (network) and `docker network connect --driver-opt` (endpoint),
// parsed once into typed values. Unknown keys and bad values are refused with the option, the value and what is
// allowed; nothing is silently ignored. The option names of dockercan, docker-vxcan and RemotiveBus are accepted
// where they mean something here, so their compose files work unchanged (README: "Options of other plugins").
import { InvalidValueError } from '../errors.js';
import { gatewayFromWords } from '../bus/gateway-spec.js';
import { parseIdList } from '../bus/model.js';
import { uplinkFromWords, type Uplink } from '../bus/uplink.js';
import { tunnelFromWords, type Tunnel } from '../bus/tunnel.js';
import { checkSpan, SPAN_TUNNEL, type Span } from '../bus/span.js';
import { parseBitrate, timingFrom, type BusTiming } from '../bus/timing.js';

export interface NetworkOptions {
  readonly fd: boolean;
  /** A member interface in the daemon's namespace for host tools (candump, cansend). */
  readonly hostInterface?: string;
  /** Prefix of the container interfaces (Docker appends 0, 1, ...). */
  readonly prefix: string;
  /** Options that were accepted for compatibility but change nothing here, for a log line. */
  readonly noEffect: readonly string[];
  /** Gateways from this network (`gateway` and `gateway.<any>`): the words after the source of `gateway add`. */
  readonly gateways: ReadonlyArray<{ readonly option: string; readonly words: string }>;
  /** CAN interfaces of the host joined to the bus (`uplink` and `uplink.<any>`). */
  readonly uplinks: readonly Uplink[];
  /** CAN over IP (`tunnel` and `tunnel.<name>`): the words after the bus of `cantainer tunnel add`. */
  readonly tunnels: readonly Tunnel[];
  /** One bus across the nodes that have the network (`span=swarm`, `hub=HOST:PORT`, `span_port=N`). */
  readonly span?: Span;
  /** A timed bus (`bitrate=N`, `dbitrate=N`). */
  readonly timing?: BusTiming;
}

/** Stands for the network's own name while checking a gateway option (Docker names contain no spaces). */
const THIS_NETWORK = 'this network';

export interface EndpointOptions {
  readonly prefix?: string;
  /** Ids the container may send (`ID[/MASK]`, `!ID[/MASK]` for ids it may not), from `send=LIST`. */
  readonly send?: readonly string[];
  /** Ids the container receives, from `receive=LIST`. */
  readonly receive?: readonly string[];
  /** An exact interface name in the container (honoured by engines that accept a remote driver's DstName). */
  readonly ifname?: string;
}

export const DEFAULT_PREFIX = 'can';

const NAME = /^[A-Za-z0-9_.-]+$/u;
const NAME_ALLOWED = (max: number): string => `1..${max} characters from A-Z, a-z, 0-9, "_", "." and "-"`;
/** Room for the index Docker appends to a prefix (up to three digits). */
const PREFIX_MAX = 12;
const IFNAME_MAX = 15;

function name(field: string, value: string, max: number): string {
  if (value.length === 0 || value.length > max || !NAME.test(value)) throw new InvalidValueError(field, value, NAME_ALLOWED(max));
  return value;
}

function bool(field: string, value: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new InvalidValueError(field, value, '"true" or "false"');
}

/** Docker's own keys inside the generic options; `docker network create -o` can set them, so some matter. */
const DOCKER_PREFIX = 'com.docker.';

/** Parses `Options["com.docker.network.generic"]` of CreateNetwork. */
export function parseNetworkOptions(generic: Readonly<Record<string, unknown>>): NetworkOptions {
  const field = (key: string): string => `network option "${key}"`;
  let fd: { value: boolean; key: string } | undefined;
  let hostInterface: { value: string; key: string } | undefined;
  let prefix: { value: string; key: string } | undefined;
  let vxcanDev: string | undefined;
  let vxcanId: string | undefined;
  const noEffect: string[] = [];
  const gateways: Array<{ option: string; words: string }> = [];
  const uplinks: Uplink[] = [];
  const tunnels: Tunnel[] = [];
  const span: { mode?: string; hub?: string; port?: string } = {};
  let bitrate: number | undefined;
  let dbitrate: number | undefined;
  const set = <T>(current: { value: T; key: string } | undefined, key: string, value: T): { value: T; key: string } => {
    if (current !== undefined && current.value !== value) {
      throw new InvalidValueError(
        field(key),
        value,
        `the same value as "${current.key}" (${JSON.stringify(current.value)}), which names the same setting`,
      );
    }
    return { value, key };
  };
  for (const [key, raw] of Object.entries(generic)) {
    if (typeof raw !== 'string') throw new InvalidValueError(field(key), raw, 'a string');
    switch (key) {
      case 'fd':
      case 'canfd': // dockercan
        fd = set(fd, key, bool(field(key), raw));
        break;
      case 'host_if': // cantainer and dockercan
      case 'host_device': // RemotiveBus
        hostInterface = set(hostInterface, key, name(field(key), raw, IFNAME_MAX));
        break;
      case 'prefix':
      case 'vxcan.peer': // docker-vxcan: the container interface prefix
      case 'device': // RemotiveBus: the name in the container
        prefix = set(prefix, key, name(field(key), raw, PREFIX_MAX));
        break;
      case 'vxcan.dev': // docker-vxcan: the host interface is vxcan.dev + vxcan.id
        vxcanDev = name(field(key), raw, IFNAME_MAX);
        break;
      case 'vxcan.id':
        if (!/^[0-9]{1,5}$/u.test(raw)) throw new InvalidValueError(field(key), raw, 'a number of 1..5 digits');
        vxcanId = raw;
        break;
      case 'centralised': // dockercan's hub mode: every bus here is exactly-once with a monitor interface
        bool(field(key), raw);
        noEffect.push(key);
        break;
      case 'gateway':
        gatewayFromWords(field(key), THIS_NETWORK, raw);
        gateways.push({ option: key, words: raw });
        break;
      case 'uplink':
        uplinks.push(uplinkFromWords(field(key), raw));
        break;
      case 'tunnel':
        tunnels.push(tunnelFromWords(field(key), raw));
        break;
      case 'span':
        span.mode = raw;
        break;
      case 'hub':
        span.hub = raw;
        break;
      case 'bitrate':
        bitrate = parseBitrate(field(key), raw);
        break;
      case 'dbitrate':
        dbitrate = parseBitrate(field(key), raw);
        break;
      case 'span_port':
        if (!/^\d{1,5}$/u.test(raw)) throw new InvalidValueError(field(key), raw, 'a port 1..65535');
        span.port = raw;
        break;
      case 'com.docker.network.driver.mtu':
        throw new InvalidValueError(field(key), raw, 'no MTU option: CAN links have MTU 16, or 72 with fd=true');
      default:
        if (key.startsWith(DOCKER_PREFIX)) break;
        if (key.startsWith('uplink.') && key.length > 'uplink.'.length) {
          uplinks.push(uplinkFromWords(field(key), raw));
          break;
        }
        if (key.startsWith('tunnel.') && key.length > 'tunnel.'.length) {
          tunnels.push(tunnelFromWords(field(key), raw, key.slice('tunnel.'.length)));
          break;
        }
        if (key.startsWith('gateway.') && key.length > 'gateway.'.length) {
          gatewayFromWords(field(key), THIS_NETWORK, raw);
          gateways.push({ option: key, words: raw });
          break;
        }
        throw new InvalidValueError(
          field(key),
          raw,
          'an option of: fd, bitrate, dbitrate, host_if, prefix, gateway, gateway.NAME, uplink, uplink.NAME, tunnel, tunnel.NAME, span, hub, span_port (and canfd, centralised, vxcan.dev, vxcan.id, vxcan.peer, device, host_device from other plugins)',
        );
    }
  }
  if (vxcanId !== undefined && vxcanDev === undefined) vxcanDev = 'vcan';
  const timing = timingFrom({ bitrate, dbitrate }, fd?.value ?? false, field, 'bitrate=N');
  const spanned = spanOption(span, field);
  const taken = spanned === undefined ? undefined : tunnels.find((tunnel) => tunnel.name === SPAN_TUNNEL);
  if (taken !== undefined)
    throw new InvalidValueError(
      field(`tunnel.${SPAN_TUNNEL}`),
      SPAN_TUNNEL,
      "another tunnel name: with span=swarm, the tunnel named span is the span's",
    );
  if (vxcanDev !== undefined)
    hostInterface = set(hostInterface, 'vxcan.dev', name(field('vxcan.dev'), `${vxcanDev}${vxcanId ?? ''}`, IFNAME_MAX));
  return {
    fd: fd?.value ?? false,
    ...(hostInterface === undefined ? {} : { hostInterface: hostInterface.value }),
    prefix: prefix?.value ?? DEFAULT_PREFIX,
    noEffect,
    gateways,
    uplinks,
    tunnels,
    ...(spanned === undefined ? {} : { span: spanned }),
    ...(timing === undefined ? {} : { timing }),
  };
}

/** `span=swarm` with `hub` or `span_port`; either of those without `span` is refused, not ignored. */
function spanOption(options: { mode?: string; hub?: string; port?: string }, field: (key: string) => string): Span | undefined {
  if (options.mode === undefined) {
    if (options.hub !== undefined) throw new InvalidValueError(field('hub'), options.hub, 'a hub only with span=swarm');
    if (options.port !== undefined) throw new InvalidValueError(field('span_port'), options.port, 'a port only with span=swarm');
    return undefined;
  }
  // Docker networks span a swarm; a span of nodes named by hand is the CNI configuration's.
  if (options.mode !== 'swarm') throw new InvalidValueError(field('span'), options.mode, '"swarm"');
  const span: Span = {
    mode: 'swarm',
    ...(options.hub === undefined ? {} : { hub: options.hub }),
    ...(options.port === undefined ? {} : { port: Number(options.port) }),
  };
  checkSpan(span, (key) => field(key === 'span' ? 'span' : key));
  return span;
}

/** `send=` and `receive=`: comma-separated `ID[/MASK]`, `!` before the ids excluded (`7DF,7E0/7F0,!7E5`). */
function idList(field: string, raw: string): string[] {
  const entries = raw.split(',').map((entry) => entry.trim());
  if (entries.some((entry) => entry === ''))
    throw new InvalidValueError(field, raw, 'a comma-separated list of ID[/MASK] in hex, ! before ids to exclude (7DF,7E0/7F0,!7E5)');
  try {
    parseIdList(field, entries);
  } catch (error) {
    if (error instanceof InvalidValueError) throw new InvalidValueError(field, error.value, error.message.replace(/^.*; allowed: /u, ''));
    throw error;
  }
  return entries;
}

/** Docker's endpoint option for an exact interface name (Engine 28 and later). */
export const DOCKER_IFNAME_OPTION = 'com.docker.network.endpoint.ifname';

/** Parses the Options of CreateEndpoint: user driver options at the top level, beside Docker's own keys. */
export function parseEndpointOptions(options: Readonly<Record<string, unknown>>): EndpointOptions {
  const field = (key: string): string => `endpoint option "${key}"`;
  let prefix: string | undefined;
  let ifname: string | undefined;
  const lists: { send?: string[]; receive?: string[] } = {};
  for (const [key, raw] of Object.entries(options)) {
    if (key.startsWith(DOCKER_PREFIX) && key !== DOCKER_IFNAME_OPTION) continue;
    if (typeof raw !== 'string') throw new InvalidValueError(field(key), raw, 'a string');
    switch (key) {
      case 'prefix':
      case 'vxcan.peer':
      case 'device':
        prefix = name(field(key), raw, PREFIX_MAX);
        break;
      case 'ifname':
      case DOCKER_IFNAME_OPTION:
        if (raw !== '') ifname = name(field(key), raw, IFNAME_MAX);
        break;
      case 'send':
      case 'receive':
        lists[key] = idList(field(key), raw);
        break;
      default:
        throw new InvalidValueError(
          field(key),
          raw,
          'an option of: prefix, ifname, send, receive (and vxcan.peer, device from other plugins)',
        );
    }
  }
  return { ...(prefix === undefined ? {} : { prefix }), ...(ifname === undefined ? {} : { ifname }), ...lists };
}
