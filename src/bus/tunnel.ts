// Tunnels, as data: CAN over IP to another host, in cannelloni's format, joined to a bus as one more member. The
// daemon carries the frames between the network and a vxcan pair in the bus's namespace: the pair's near end is
// wired like a member's end, the far end is where the daemon reads and writes. Nothing listens unless a tunnel says
// where, and only on the address it names.
import { InvalidValueError, RequiredValueError } from '../errors.js';
import { shortHash } from './hash.js';

export const TUNNEL_TRANSPORTS = ['udp', 'tcp-server', 'tcp-client'] as const;
export type TunnelTransport = (typeof TUNNEL_TRANSPORTS)[number];

export interface Tunnel {
  /** Unique within its bus: `cantainer tunnel rm BUS NAME` names it. */
  readonly name: string;
  readonly transport: TunnelTransport;
  /** udp and tcp-server: the local address and port, `ADDR:PORT` or `[ADDR]:PORT`; an address, never implied. */
  readonly listen?: string;
  /** udp: where packets go (and, without `allow`, the only sender taken); tcp-client: the server. Host or address. */
  readonly peer?: string;
  /** udp: how long a frame may wait for others to fill a packet, in microseconds. */
  readonly timeoutUs?: number;
  /** udp: the link MTU that sizes packets (IP and UDP headers included). */
  readonly mtu?: number;
  /** Who may connect (tcp-server) or send (udp): `ADDR[/PREFIX]` entries. Empty: udp takes its peer only, tcp-server anyone. */
  readonly allow: readonly string[];
}

export const DEFAULT_TUNNEL_TIMEOUT_US = 1000;
export const DEFAULT_TUNNEL_MTU = 1500;

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/u;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/u;
/** `HOST:PORT` or `[IPV6]:PORT`: the host bracketed (1) or plain (2), the port (3). */
const ADDRESS = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/u;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/u;

export interface NetAddress {
  readonly host: string;
  readonly port: number;
  readonly family: 4 | 6 | undefined;
}

function isIpv6(text: string): boolean {
  if (!text.includes(':')) return false;
  try {
    // The URL parser knows IPv6 literals in full (compressed forms, embedded IPv4): no need for a hand-made one.
    return new URL(`http://[${text}]/`).hostname.length > 2;
  } catch {
    return false;
  }
}

/** The family of an IP literal, or undefined for anything else. */
export function ipFamily(text: string): 4 | 6 | undefined {
  if (IPV4.test(text)) return 4;
  return isIpv6(text) ? 6 : undefined;
}

/**
 * An IP literal in the one form two spellings of the same address share, so that they compare equal: IPv6 lower-case
 * and compressed (`0:0:0:0:0:0:0:1` is `::1`), an IPv4-mapped IPv6 address as the IPv4 address it is (what a
 * dual-stack socket reports for IPv4 peers). Anything else is returned as it is.
 */
export function canonicalAddress(text: string): string {
  if (ipFamily(text) !== 6) return text;
  // The URL parser writes IPv6 in its canonical text form (RFC 5952), an embedded IPv4 part as two hex groups.
  const host = new URL(`http://[${text}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/u.exec(host);
  if (mapped === null) return host;
  const high = parseInt(mapped[1] ?? '0', 16);
  const low = parseInt(mapped[2] ?? '0', 16);
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}

/** `HOST:PORT`, an IPv6 address in brackets: how addresses are written everywhere here (parseAddress reads it back). */
export function formatAddress(host: string, port: number): string {
  return ipFamily(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Parses `ADDR:PORT`, `[IPV6]:PORT` or (unless `literal`) `HOST:PORT`. */
export function parseAddress(field: string, text: string, options: { literal: boolean }): NetAddress {
  const allowed = options.literal
    ? 'ADDR:PORT with an IP address (0.0.0.0 or [::] for every address, said explicitly), port 1..65535'
    : 'HOST:PORT or [IPV6]:PORT, port 1..65535';
  const match = ADDRESS.exec(text);
  if (match === null) throw new InvalidValueError(field, text, allowed);
  const [, bracketed, plain, portText] = match;
  const host = bracketed ?? plain ?? '';
  const port = Number(portText);
  const family = ipFamily(host);
  if (port < 1 || port > 65535) throw new InvalidValueError(field, text, allowed);
  if (bracketed !== undefined && family !== 6) throw new InvalidValueError(field, text, allowed);
  if (family === undefined && (options.literal || !HOSTNAME.test(host))) throw new InvalidValueError(field, text, allowed);
  return { host, port, family };
}

export interface Cidr {
  readonly address: string;
  readonly prefix: number;
  readonly family: 4 | 6;
}

/** Parses `ADDR` or `ADDR/PREFIX` (IPv4 or IPv6). */
export function parseCidr(field: string, text: string): Cidr {
  const allowed = 'ADDR or ADDR/PREFIX: an IPv4 address with a prefix 0..32, or IPv6 with 0..128';
  const [address = '', prefixText, extra] = text.split('/');
  const family = ipFamily(address);
  if (family === undefined || extra !== undefined || (prefixText !== undefined && !/^\d{1,3}$/u.test(prefixText)))
    throw new InvalidValueError(field, text, allowed);
  const max = family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefix > max) throw new InvalidValueError(field, text, allowed);
  return { address, prefix, family };
}

/** How a tunnel's settings are named in messages: by the key, after what the settings belong to. */
export type TunnelKeyName = (key: 'name' | 'transport' | 'listen' | 'peer' | 'timeoutUs' | 'mtu' | 'allow') => string;

export function checkTunnel(tunnel: Tunnel, name: TunnelKeyName = (key) => `tunnel ${key}`): void {
  if (typeof tunnel.name !== 'string' || !NAME_PATTERN.test(tunnel.name))
    throw new InvalidValueError(name('name'), tunnel.name, '1..64 letters, digits, "_", "." or "-", starting with a letter or digit');
  if (!(TUNNEL_TRANSPORTS as readonly string[]).includes(tunnel.transport))
    throw new InvalidValueError(name('transport'), tunnel.transport, TUNNEL_TRANSPORTS.join(', '));
  const needs = {
    udp: { listen: true, peer: true },
    'tcp-server': { listen: true, peer: false },
    'tcp-client': { listen: false, peer: true },
  }[tunnel.transport];
  for (const key of ['listen', 'peer'] as const) {
    const value = tunnel[key];
    if (needs[key] && value === undefined)
      throw new InvalidValueError(
        name(key),
        value,
        `an address: a ${tunnel.transport} tunnel needs ${key === 'listen' ? 'where to listen' : 'where its far end is'}`,
      );
    if (!needs[key] && value !== undefined)
      throw new InvalidValueError(name(key), value, `nothing: a ${tunnel.transport} tunnel has no ${key} address`);
    if (value !== undefined) parseAddress(name(key), value, { literal: key === 'listen' });
  }
  if (tunnel.transport !== 'udp') {
    for (const key of ['timeoutUs', 'mtu'] as const) {
      if (tunnel[key] !== undefined) throw new InvalidValueError(name(key), tunnel[key], 'nothing: it sizes UDP packets only');
    }
  }
  if (tunnel.timeoutUs !== undefined && (!Number.isInteger(tunnel.timeoutUs) || tunnel.timeoutUs < 0 || tunnel.timeoutUs > 10_000_000)) {
    throw new InvalidValueError(name('timeoutUs'), tunnel.timeoutUs, 'an integer 0..10000000 (microseconds; 0 sends every frame at once)');
  }
  if (tunnel.mtu !== undefined && (!Number.isInteger(tunnel.mtu) || tunnel.mtu < 576 || tunnel.mtu > 65535)) {
    throw new InvalidValueError(name('mtu'), tunnel.mtu, 'an integer 576..65535 (the link MTU, IP and UDP headers included)');
  }
  if (tunnel.transport === 'tcp-client' && tunnel.allow.length > 0)
    throw new InvalidValueError(name('allow'), tunnel.allow, 'nothing: a tcp-client tunnel takes no one in');
  for (const text of tunnel.allow) parseCidr(name('allow'), text);
}

/**
 * The name a tunnel gets when none is given: its transport and port (and host, for a client). Just the transport
 * when the address is missing or bad: checking the tunnel then says what is wrong with it.
 */
export function defaultTunnelName(tunnel: Pick<Tunnel, 'transport' | 'listen' | 'peer'>): string {
  const address = tunnel.transport === 'tcp-client' ? tunnel.peer : tunnel.listen;
  const match = address === undefined ? null : ADDRESS.exec(address);
  if (match === null) return tunnel.transport;
  const host = match[1] ?? match[2] ?? '';
  const port = Number(match[3]);
  const name = tunnel.transport === 'tcp-client' ? `tcp-client-${host}-${port}` : `${tunnel.transport}-${port}`;
  return name.replace(/[^A-Za-z0-9_.-]/gu, '.').slice(0, 64);
}

/** Where a tunnel listens, as a key that two tunnels must not share: transport (udp or tcp), address and port. */
export function listenKey(tunnel: Tunnel): string | undefined {
  if (tunnel.listen === undefined) return undefined;
  const { host, port } = parseAddress('listen', tunnel.listen, { literal: true });
  return `${tunnel.transport === 'udp' ? 'udp' : 'tcp'} ${port} ${canonicalAddress(host)}`;
}

function hash(busId: string, name: string): string {
  return shortHash(`${busId}\0tunnel\0${name}`);
}

/** The pair's end wired to the bus, like a member's end (13 characters). */
export function tunnelEndName(busId: string, name: string): string {
  return `t${hash(busId, name)}`;
}

/** The pair's other end, in the bus namespace too: where the daemon reads and writes the tunnel's frames. */
export function tunnelPortName(busId: string, name: string): string {
  return `tx${hash(busId, name)}`;
}

export const TUNNEL_WORDS_SYNTAX =
  '--udp --listen ADDR:PORT --peer ADDR:PORT [--timeout-us N] [--mtu N] | --tcp-server ADDR:PORT | --tcp-client HOST:PORT, then [--allow CIDR]... [--name NAME]';

/** A tunnel's flags as `cantainer tunnel add` takes them (numbers still as written). */
export interface TunnelFlags {
  readonly udp?: boolean;
  readonly listen?: string;
  readonly peer?: string;
  readonly timeoutUs?: string;
  readonly mtu?: string;
  readonly tcpServer?: string;
  readonly tcpClient?: string;
  readonly allow?: readonly string[];
  readonly name?: string;
}

/**
 * A tunnel from its flags: exactly one of --udp (with --listen and --peer), --tcp-server and --tcp-client, and only
 * the flags of that mode. The command line and the network option both read tunnels through this.
 */
export function tunnelFromFlags(flags: TunnelFlags, field = (flag: string): string => flag): Tunnel {
  const modes = [
    flags.udp === true ? '--udp' : undefined,
    flags.tcpServer === undefined ? undefined : '--tcp-server',
    flags.tcpClient === undefined ? undefined : '--tcp-client',
  ].filter((mode) => mode !== undefined);
  if (modes.length !== 1)
    throw new InvalidValueError(
      field('mode'),
      modes.join(' '),
      'exactly one of --udp (with --listen and --peer), --tcp-server ADDR:PORT, --tcp-client ADDR:PORT',
    );
  if (flags.udp !== true) {
    for (const [flag, value] of [
      ['--listen', flags.listen],
      ['--peer', flags.peer],
      ['--timeout-us', flags.timeoutUs],
      ['--mtu', flags.mtu],
    ] as const) {
      if (value !== undefined) throw new InvalidValueError(field(flag), value, `nothing with ${modes[0] ?? ''}: it goes with --udp`);
    }
  }
  const integer = (flag: string, text: string | undefined): number | undefined => {
    if (text === undefined) return undefined;
    if (!/^\d{1,8}$/u.test(text)) throw new InvalidValueError(field(flag), text, 'a whole number');
    return Number(text);
  };
  let draft: Omit<Tunnel, 'name'>;
  if (flags.tcpServer !== undefined) draft = { transport: 'tcp-server', listen: flags.tcpServer, allow: [...(flags.allow ?? [])] };
  else if (flags.tcpClient !== undefined) draft = { transport: 'tcp-client', peer: flags.tcpClient, allow: [...(flags.allow ?? [])] };
  else {
    if (flags.listen === undefined)
      throw new RequiredValueError(
        field('--listen'),
        'with --udp: ADDR:PORT where this side receives (an address of this host; 0.0.0.0 for all, said explicitly)',
      );
    if (flags.peer === undefined) throw new RequiredValueError(field('--peer'), 'with --udp: ADDR:PORT of the far side');
    const timeoutUs = integer('--timeout-us', flags.timeoutUs);
    const mtu = integer('--mtu', flags.mtu);
    draft = {
      transport: 'udp',
      listen: flags.listen,
      peer: flags.peer,
      ...(timeoutUs === undefined ? {} : { timeoutUs }),
      ...(mtu === undefined ? {} : { mtu }),
      allow: [...(flags.allow ?? [])],
    };
  }
  const tunnel = { name: flags.name ?? defaultTunnelName(draft), ...draft };
  // Each setting named by the flag that gave it.
  const flagOf: Readonly<Record<Parameters<TunnelKeyName>[0], string>> = {
    name: '--name',
    transport: 'mode',
    listen: draft.transport === 'udp' ? '--listen' : '--tcp-server',
    peer: draft.transport === 'udp' ? '--peer' : '--tcp-client',
    timeoutUs: '--timeout-us',
    mtu: '--mtu',
    allow: '--allow',
  };
  checkTunnel(tunnel, (key) => field(flagOf[key]));
  return tunnel;
}

/**
 * A tunnel written as the words `cantainer tunnel add` takes after the bus (a network option in compose):
 * `--udp --listen 0.0.0.0:20000 --peer 192.168.1.20:20000`, `--tcp-server ...`. `name` is the default name.
 */
export function tunnelFromWords(field: string, text: string, name?: string): Tunnel {
  const words = text
    .trim()
    .split(/\s+/u)
    .filter((word) => word !== '');
  const flags: Record<string, string> = {};
  const allow: string[] = [];
  let udp = false;
  const fail = (at: string): never => {
    throw new InvalidValueError(field, text, `${TUNNEL_WORDS_SYNTAX} (at ${JSON.stringify(at)})`);
  };
  const KEYS: Readonly<Record<string, keyof TunnelFlags>> = {
    '--listen': 'listen',
    '--peer': 'peer',
    '--timeout-us': 'timeoutUs',
    '--mtu': 'mtu',
    '--tcp-server': 'tcpServer',
    '--tcp-client': 'tcpClient',
    '--name': 'name',
  };
  for (let i = 0; i < words.length; i++) {
    const flag = words[i] ?? '';
    if (flag === '--udp') {
      udp = true;
      continue;
    }
    const value = words[i + 1];
    const key = KEYS[flag];
    if ((key === undefined && flag !== '--allow') || value === undefined || value.startsWith('--')) return fail(flag);
    i += 1;
    if (key === undefined) allow.push(value);
    else if (flags[key] !== undefined) fail(flag);
    else flags[key] = value;
  }
  return tunnelFromFlags(
    { ...flags, ...(udp ? { udp } : {}), allow, ...(flags.name === undefined && name !== undefined ? { name } : {}) },
    (flag) => `${field}: ${flag}`,
  );
}
