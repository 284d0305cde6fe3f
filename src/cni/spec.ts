// The CNI specification's side of the plugin (1.1.0, with 0.3.x, 0.4.0 and 1.0.0 configurations accepted): the
// versions, the error codes, the environment and the network configuration on stdin, each checked with the field,
// the value and what is allowed named in the error.
import { createHash } from 'node:crypto';
import { describeValue, errorMessage } from '../errors.js';

export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export const LATEST_VERSION = '1.1.0';

/** The specification's reserved error codes, and ours (100 and up). */
export const CNI_ERROR = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnvironment: 4,
  io: 5,
  decode: 6,
  invalidConfig: 7,
  tryAgainLater: 11,
  notAvailable: 50,
  /** CHECK found the attachment not as ADD made it. */
  drift: 100,
  /** The daemon refused the request (a bus of another kind, an interface name taken). */
  refused: 101,
} as const;

/** An error the plugin prints as the specification's error JSON, exiting non-zero. */
export class CniError extends Error {
  readonly code: number;
  readonly details: string | undefined;

  constructor(code: number, msg: string, details?: string) {
    super(msg);
    this.code = code;
    this.details = details;
  }
}

export const COMMANDS = ['ADD', 'DEL', 'CHECK', 'STATUS', 'GC', 'VERSION'] as const;
export type CniCommand = (typeof COMMANDS)[number];

/** The environment of one call. */
export interface CniEnvironment {
  readonly command: CniCommand;
  readonly containerId?: string;
  readonly netns?: string;
  readonly ifname?: string;
  readonly args: Readonly<Record<string, string>>;
}

const IFNAME = /^[^\s/:]{1,15}$/u;

function required(env: Readonly<Record<string, string | undefined>>, name: string, allowed: string): string {
  const value = env[name];
  if (value === undefined || value === '')
    throw new CniError(CNI_ERROR.invalidEnvironment, `${name} is ${value === undefined ? 'not set' : 'empty'}; it must be ${allowed}`);
  return value;
}

/** Reads CNI_ARGS: `K=V;K=V`. */
export function parseCniArgs(text: string | undefined): Record<string, string> {
  const args: Record<string, string> = {};
  for (const pair of (text ?? '').split(';')) {
    if (pair === '') continue;
    const at = pair.indexOf('=');
    if (at <= 0)
      throw new CniError(
        CNI_ERROR.invalidEnvironment,
        `CNI_ARGS: ${JSON.stringify(pair)} is not KEY=VALUE; allowed: KEY=VALUE pairs joined by ;`,
      );
    args[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return args;
}

/** The environment of a call, with what its command requires checked. */
export function parseEnvironment(env: Readonly<Record<string, string | undefined>>): CniEnvironment {
  const command = env.CNI_COMMAND;
  if (!(COMMANDS as readonly (string | undefined)[]).includes(command))
    throw new CniError(
      CNI_ERROR.invalidEnvironment,
      `CNI_COMMAND: ${describeValue(command)} is not valid; allowed: ${COMMANDS.join(', ')}`,
    );
  const verb = command as CniCommand;
  const attachment = verb === 'ADD' || verb === 'DEL' || verb === 'CHECK';
  // Runtimes fill the rest with placeholders for the calls that take none (libcni sends VERSION with "dummy").
  if (!attachment) return { command: verb, args: verb === 'VERSION' ? {} : parseCniArgs(env.CNI_ARGS) };
  const containerId = required(env, 'CNI_CONTAINERID', 'the container id');
  const netns =
    verb === 'DEL'
      ? env.CNI_NETNS === ''
        ? undefined
        : env.CNI_NETNS
      : required(env, 'CNI_NETNS', 'the path of the container network namespace');
  const ifname = required(env, 'CNI_IFNAME', 'the name of the interface to create in the container');
  if (!IFNAME.test(ifname))
    throw new CniError(
      CNI_ERROR.invalidEnvironment,
      `CNI_IFNAME: ${JSON.stringify(ifname)} is not valid; allowed: an interface name of 1..15 characters without spaces, / or :`,
    );
  if (netns !== undefined && !netns.startsWith('/'))
    throw new CniError(
      CNI_ERROR.invalidEnvironment,
      `CNI_NETNS: ${JSON.stringify(netns)} is not valid; allowed: an absolute path (/run/netns/NAME, /proc/PID/ns/net)`,
    );
  return { command: verb, containerId, ...(netns === undefined ? {} : { netns }), ifname, args: parseCniArgs(env.CNI_ARGS) };
}

/** The network configuration of one call, as this plugin reads it. */
export interface NetworkConfig {
  readonly cniVersion: string;
  readonly name: string;
  /** The bus: the network's own `bus` key, else its name. */
  readonly bus: string;
  readonly fd?: boolean;
  /** A timed bus: nominal bit rate, bit/s (the daemon checks the range). */
  readonly bitrate?: number;
  /** Its data-phase bit rate, bit/s (FD buses, with bitrate). */
  readonly dbitrate?: number;
  readonly send?: readonly string[];
  readonly receive?: readonly string[];
  readonly controlSocket?: string;
  /** One bus across nodes (`span: "nodes"`, `hub`, `nodes`): the daemon checks it and keeps its tunnel. */
  readonly span?: { readonly mode: 'nodes'; readonly hub?: string; readonly nodes?: readonly string[] };
  readonly prevResult?: Readonly<Record<string, unknown>>;
  /** GC: the attachments the runtime still has. */
  readonly validAttachments?: ReadonlyArray<{ readonly containerId: string; readonly ifname: string }>;
}

/** Keys the runtime adds or the specification defines, which this plugin reads or may leave alone. */
const RUNTIME_KEYS = new Set([
  'cniVersion',
  'cniVersions',
  'name',
  'type',
  'runtimeConfig',
  'prevResult',
  'args',
  'capabilities',
  'dns',
  'disableCheck',
  'disableGC',
]);
/** This plugin's own keys. */
const OWN_KEYS = new Set(['bus', 'fd', 'bitrate', 'dbitrate', 'send', 'receive', 'controlSocket', 'span', 'hub', 'nodes']);
/** Keys that ask for what a CAN bus has not: refused rather than ignored. */
const NOT_ON_CAN: Readonly<Record<string, string>> = {
  ipam: 'CAN interfaces have no IP addresses: remove "ipam"',
  mtu: 'the MTU follows the bus (16 classic, 72 FD): use "fd"',
  mac: 'CAN interfaces have no MAC address',
};

function config(field: string, message: string): CniError {
  return new CniError(CNI_ERROR.invalidConfig, `${field}: ${message}`);
}

function idList(raw: unknown, field: string): string[] | undefined {
  if (raw === undefined) return undefined;
  // CNI_ARGS values cannot hold a list: a comma-separated string is read as one.
  const list = typeof raw === 'string' ? raw.split(',').filter((entry) => entry !== '') : raw;
  if (!Array.isArray(list) || !list.every((entry): entry is string => typeof entry === 'string'))
    throw config(field, `${describeValue(raw)} is not valid; allowed: a list of ids as candump filters, ID[/MASK] or !ID[/MASK] in hex`);
  return list;
}

function record(value: unknown): Readonly<Record<string, unknown>> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** Per-container settings, strongest first: runtimeConfig, args.cni (Multus's cni-args), CNI_ARGS. */
function perContainer(raw: Readonly<Record<string, unknown>>, args: Readonly<Record<string, string>>, key: 'send' | 'receive'): unknown {
  return record(raw.runtimeConfig)?.[key] ?? record(record(raw.args)?.cni)?.[key] ?? args[key] ?? raw[key];
}

/**
 * `span`, `hub` and `nodes`: their form here (the daemon checks the addresses, the hub among the nodes and the
 * rest, and answers what is wrong). `hub` or `nodes` without `span` are refused, not ignored.
 */
function spanOf(raw: Readonly<Record<string, unknown>>): NetworkConfig['span'] {
  if (raw.span === undefined) {
    for (const key of ['hub', 'nodes'])
      if (raw[key] !== undefined) throw config(key, `${describeValue(raw[key])} is not valid; allowed: "${key}" only with "span": "nodes"`);
    return undefined;
  }
  if (raw.span !== 'nodes')
    throw config('span', `${describeValue(raw.span)} is not valid; allowed: "nodes" (the nodes and the hub named by "nodes" and "hub")`);
  if (typeof raw.hub !== 'string') throw config('hub', `${describeValue(raw.hub)} is not valid; allowed: HOST:PORT of the hub node`);
  const nodes = raw.nodes;
  if (!Array.isArray(nodes) || nodes.length === 0 || !nodes.every((node): node is string => typeof node === 'string'))
    throw config('nodes', `${describeValue(nodes)} is not valid; allowed: the IP address of every node of the span, the hub's too`);
  return { mode: 'nodes', hub: raw.hub, nodes };
}

/** Parses the configuration on stdin; `args` are the call's CNI_ARGS. */
export function parseNetworkConfig(text: string, args: Readonly<Record<string, string>> = {}): NetworkConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new CniError(CNI_ERROR.decode, `the network configuration on stdin is not JSON: ${errorMessage(error)}`);
  }
  const raw = record(parsed);
  if (raw === undefined)
    throw new CniError(CNI_ERROR.decode, `the network configuration on stdin is ${describeValue(parsed)}, not an object`);
  const version = raw.cniVersion;
  if (typeof version !== 'string')
    throw config('cniVersion', `${describeValue(version)} is not valid; allowed: ${SUPPORTED_VERSIONS.join(', ')}`);
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(version))
    throw new CniError(
      CNI_ERROR.incompatibleVersion,
      `cniVersion ${version} is not supported; supported: ${SUPPORTED_VERSIONS.join(', ')}`,
    );
  for (const key of Object.keys(raw)) {
    if (RUNTIME_KEYS.has(key) || OWN_KEYS.has(key) || key.startsWith('cni.dev/')) continue;
    const why = NOT_ON_CAN[key];
    throw new CniError(
      CNI_ERROR.unsupportedField,
      `unsupported field ${JSON.stringify(key)} (value ${describeValue(raw[key])}): ${why ?? `this plugin reads ${[...OWN_KEYS].join(', ')}`}`,
    );
  }
  const name = raw.name;
  if (typeof name !== 'string' || name === '') throw config('name', `${describeValue(name)} is not valid; allowed: the network's name`);
  const bus = raw.bus ?? name;
  if (typeof bus !== 'string' || bus === '' || bus.length > 256)
    throw config('bus', `${describeValue(bus)} is not valid; allowed: the name of a bus, 1..256 characters`);
  if (raw.fd !== undefined && typeof raw.fd !== 'boolean')
    throw config('fd', `${describeValue(raw.fd)} is not valid; allowed: true or false`);
  if (raw.controlSocket !== undefined && (typeof raw.controlSocket !== 'string' || !raw.controlSocket.startsWith('/')))
    throw config(
      'controlSocket',
      `${describeValue(raw.controlSocket)} is not valid; allowed: the absolute path of the cantainer daemon's control socket`,
    );
  for (const key of ['bitrate', 'dbitrate'] as const) {
    const value = raw[key];
    if (value !== undefined && (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0))
      throw config(key, `${describeValue(value)} is not valid; allowed: a bit rate in bit/s, a whole number (for example 500000)`);
  }
  if (raw.dbitrate !== undefined && raw.bitrate === undefined)
    throw config('dbitrate', `${describeValue(raw.dbitrate)} is not valid; allowed: a data bit rate only with "bitrate"`);
  const span = spanOf(raw);
  const send = idList(perContainer(raw, args, 'send'), 'send');
  const receive = idList(perContainer(raw, args, 'receive'), 'receive');
  const prevResult = raw.prevResult === undefined ? undefined : record(raw.prevResult);
  if (raw.prevResult !== undefined && prevResult === undefined)
    throw config('prevResult', `${describeValue(raw.prevResult)} is not an object`);
  const valid = raw['cni.dev/valid-attachments'];
  let validAttachments: Array<{ containerId: string; ifname: string }> | undefined;
  if (valid !== undefined) {
    if (!Array.isArray(valid)) throw config('cni.dev/valid-attachments', `${describeValue(valid)} is not a list`);
    validAttachments = valid.map((entry: unknown, i) => {
      const item = record(entry);
      if (typeof item?.containerID !== 'string' || typeof item.ifname !== 'string')
        throw config(
          `cni.dev/valid-attachments[${i}]`,
          `${describeValue(entry)} is not valid; allowed: {"containerID": ..., "ifname": ...}`,
        );
      return { containerId: item.containerID, ifname: item.ifname };
    });
  }
  return {
    cniVersion: version,
    name,
    bus,
    ...(raw.fd === undefined ? {} : { fd: raw.fd }),
    ...(typeof raw.bitrate === 'number' ? { bitrate: raw.bitrate } : {}),
    ...(typeof raw.dbitrate === 'number' ? { dbitrate: raw.dbitrate } : {}),
    ...(send === undefined ? {} : { send }),
    ...(receive === undefined ? {} : { receive }),
    ...(raw.controlSocket === undefined ? {} : { controlSocket: raw.controlSocket }),
    ...(span === undefined ? {} : { span }),
    ...(prevResult === undefined ? {} : { prevResult }),
    ...(validAttachments === undefined ? {} : { validAttachments }),
  };
}

/** The member id of one attachment: the same container and interface name give the same member. */
export function attachmentMemberId(containerId: string, ifname: string): string {
  return `cni-${createHash('sha256').update(`${containerId}\0${ifname}`).digest('hex').slice(0, 24)}`;
}

/** The result of ADD: the runtime's earlier result (chained plugins) with the CAN interface added. */
export function addResult(
  cniVersion: string,
  prevResult: Readonly<Record<string, unknown>> | undefined,
  iface: { name: string; netns: string; mtu: number },
): Record<string, unknown> {
  const previous = Array.isArray(prevResult?.interfaces) ? (prevResult.interfaces as unknown[]) : [];
  // A MAC of zeros: CAN has none, and Podman 4 refuses an interface without one.
  const ours = { name: iface.name, mac: '00:00:00:00:00:00', ...(cniVersion === '1.1.0' ? { mtu: iface.mtu } : {}), sandbox: iface.netns };
  return { ...prevResult, cniVersion, interfaces: [...previous, ours], ips: Array.isArray(prevResult?.ips) ? prevResult.ips : [] };
}
