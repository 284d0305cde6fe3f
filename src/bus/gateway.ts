// Gateways between buses, as data. A gateway forwards frames from one bus to another (or both ways), optionally
// only some ids and optionally edited on the way, like a vehicle's gateway ECU. It names buses by their names, so
// it can be declared before a bus exists and waits for it. Wiring: a vxcan pair with one end in each bus's
// namespace; each end takes part in its bus like a member, except that frames leave through it only if they pass
// the gateway's filters (edited as asked), and a frame that came in through it never goes back out through it.
// Because vxcan resets can-gw's hop counter, every crossing starts afresh: chains of buses work at max_hops 1.
import { shortHash } from './hash.js';
import { InvalidValueError, errorMessage } from '../errors.js';
import { CAN_EFF_FLAG, CAN_EFF_MASK, CAN_MAX_DLEN, CAN_SFF_MASK, CANFD_MAX_DLEN } from '../can/frame.js';
import { formatIdFilter, parseIdFilter, selectionFilters, type IdFilter, type IdSelection } from '../can/idset.js';
import {
  MOD_FIELDS,
  MOD_OPERATIONS,
  type Crc8Checksum,
  type FrameModification,
  type ModField,
  type ModOperation,
  type XorChecksum,
} from '../netlink/cangw.js';
import type { Bus } from './model.js';

/** One edit of the frames a gateway forwards: `operation` the `field` with `value` (as the user wrote it). */
export interface FrameEdit {
  readonly operation: ModOperation;
  readonly field: ModField;
  /** id: hex, 8 digits for an extended id; len: decimal; data: hex bytes; flags: hex. */
  readonly value: string;
}

/** A checksum byte the kernel computes after editing: over data bytes `from`..`to`, written at `at`. */
export interface XorChecksumSpec {
  readonly from: number;
  readonly to: number;
  readonly at: number;
  /** The initial value (0..255). */
  readonly init: number;
}

export interface Crc8ChecksumSpec extends XorChecksumSpec {
  /** The CRC8 generator polynomial without its top bit, e.g. 0x1D (SAE J1850) or 0x2F (AUTOSAR). */
  readonly poly: number;
  readonly finalXor: number;
}

export interface Gateway {
  /** The bus frames come from (its name). */
  readonly source: string;
  /** The bus frames go to. */
  readonly destination: string;
  /** Forward the other way too, with the same filters and edits. */
  readonly both: boolean;
  /** Ids that cross (`ID/MASK`, as candump writes them); all when empty. */
  readonly accept: readonly string[];
  /** Ids that never cross, even when accepted. */
  readonly reject: readonly string[];
  readonly edits: readonly FrameEdit[];
  readonly xorChecksum?: XorChecksumSpec;
  readonly crc8Checksum?: Crc8ChecksumSpec;
  /**
   * The id of the bus whose own settings declare the gateway. Such a gateway lives as long as that bus and waits
   * whenever the other bus is missing; one without it (added by hand) is removed with either bus.
   */
  readonly declaredBy?: string;
}

/** A gateway's identity: the two buses it joins, in either order (two buses are joined at most once). */
export function gatewayKey(gateway: Pick<Gateway, 'source' | 'destination'>): string {
  return [gateway.source, gateway.destination].sort().join(' <> ');
}

export function describeGateway(gateway: Pick<Gateway, 'source' | 'destination' | 'both'>): string {
  return `${gateway.source} ${gateway.both ? '<->' : '->'} ${gateway.destination}`;
}

const HEX = /^[0-9A-Fa-f]+$/u;

function parseHexNumber(field: string, text: string, max: number, allowed: string): number {
  const digits = text.replace(/^0x/iu, '');
  if (!HEX.test(digits) || digits.length > 8) throw new InvalidValueError(field, text, allowed);
  const value = Number.parseInt(digits, 16);
  if (value > max) throw new InvalidValueError(field, text, allowed);
  return value;
}

/** The operand of an edit, checked for its field; `fd` allows FD lengths, data and flags. */
function operand(edit: FrameEdit, field: string, fd: boolean): { canId?: number; len?: number; flags?: number; data?: Uint8Array } {
  switch (edit.field) {
    case 'id': {
      const digits = edit.value.replace(/^0x/iu, '');
      const extended = digits.length === 8;
      const id = parseHexNumber(
        field,
        edit.value,
        extended ? CAN_EFF_MASK : CAN_SFF_MASK,
        'an id in hex: up to 3 digits for a standard id (123), 8 for an extended one (18DAF110)',
      );
      // An extended operand keeps (set, and) the EFF flag; or and xor work on the id bits alone.
      return { canId: extended && (edit.operation === 'set' || edit.operation === 'and') ? (id | CAN_EFF_FLAG) >>> 0 : id };
    }
    case 'len': {
      const max = fd ? CANFD_MAX_DLEN : CAN_MAX_DLEN;
      if (!/^\d{1,2}$/u.test(edit.value) || Number(edit.value) > max)
        throw new InvalidValueError(field, edit.value, `a length in decimal, 0..${max}${fd ? '' : ' (64 when both buses are FD)'}`);
      return { len: Number(edit.value) };
    }
    case 'data': {
      const max = fd ? CANFD_MAX_DLEN : CAN_MAX_DLEN;
      if (!HEX.test(edit.value) || edit.value.length % 2 !== 0 || edit.value.length / 2 > max) {
        throw new InvalidValueError(field, edit.value, `1..${max} bytes in hex (DEADBEEF)${fd ? '' : '; up to 64 when both buses are FD'}`);
      }
      return { data: Uint8Array.from(Buffer.from(edit.value, 'hex')) };
    }
    case 'flags':
      if (!fd) throw new InvalidValueError(field, edit.value, 'id, len or data: the FD flags exist only when both buses are FD');
      return { flags: parseHexNumber(field, edit.value, 0xff, 'FD flags in hex: 1 (BRS), 2 (ESI), 3') };
  }
}

/**
 * The can-gw modifications of a gateway's edits for classic (`fd` false) or FD rules. On classic rules edits of
 * the FD flags are left out (classic frames have none), and FD-sized data and lengths are cut to classic size.
 */
export function gatewayModifications(
  edits: readonly FrameEdit[],
  fd: boolean,
): Partial<Record<ModOperation, FrameModification>> | undefined {
  const result: Partial<Record<ModOperation, FrameModification>> = {};
  for (const operation of MOD_OPERATIONS) {
    const mine = edits.filter((edit) => edit.operation === operation && (fd || edit.field !== 'flags'));
    if (mine.length === 0) continue;
    let mod: FrameModification = { fields: [], canId: 0, len: 0, flags: 0, data: new Uint8Array() };
    for (const edit of mine) {
      // Checked against the gateway's buses already (checkGateway): between FD buses, classic frames get the
      // edits cut to their size, 8 data bytes and a length of at most 8.
      const value = operand(edit, `--${operation} ${edit.field}`, true);
      const sized = fd
        ? value
        : {
            ...value,
            ...(value.data === undefined ? {} : { data: value.data.slice(0, CAN_MAX_DLEN) }),
            ...(value.len === undefined ? {} : { len: Math.min(value.len, CAN_MAX_DLEN) }),
          };
      mod = { ...mod, ...sized, fields: [...mod.fields, edit.field] };
    }
    result[operation] = mod;
  }
  return Object.keys(result).length === 0 ? undefined : result;
}

/** The ids a gateway lets through. */
export function gatewaySelection(gateway: Pick<Gateway, 'accept' | 'reject'>): IdSelection {
  return {
    accept: gateway.accept.map((text) => parseIdFilter('accept', text)),
    reject: gateway.reject.map((text) => parseIdFilter('reject', text)),
  };
}

/** The kernel filters of a gateway alone: disjoint, so that a frame is forwarded at most once; none for every frame. */
export function gatewayFilters(gateway: Pick<Gateway, 'accept' | 'reject'>): Array<IdFilter | undefined> {
  return selectionFilters([gatewaySelection(gateway)]);
}

/** The CRC8 lookup table of a polynomial (MSB first), as can-gw wants it. */
export function crc8Table(poly: number): Uint8Array {
  const table = new Uint8Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x80 ? ((crc << 1) ^ poly) & 0xff : (crc << 1) & 0xff;
    table[i] = crc;
  }
  return table;
}

export function gatewayChecksums(gateway: Pick<Gateway, 'xorChecksum' | 'crc8Checksum'>): {
  xorChecksum?: XorChecksum;
  crc8Checksum?: Crc8Checksum;
} {
  const indices = (spec: XorChecksumSpec): XorChecksum => ({
    fromIndex: spec.from,
    toIndex: spec.to,
    resultIndex: spec.at,
    initialValue: spec.init,
  });
  return {
    ...(gateway.xorChecksum === undefined ? {} : { xorChecksum: indices(gateway.xorChecksum) }),
    ...(gateway.crc8Checksum === undefined
      ? {}
      : {
          crc8Checksum: {
            ...indices(gateway.crc8Checksum),
            finalXor: gateway.crc8Checksum.finalXor,
            table: crc8Table(gateway.crc8Checksum.poly),
            profile: 'unspecified',
            profileData: new Uint8Array(),
          },
        }),
  };
}

const NAME_ALLOWED = '1..256 characters: the name of a bus';

function checkChecksum(field: string, spec: XorChecksumSpec, fd: boolean): void {
  const size = fd ? CANFD_MAX_DLEN : CAN_MAX_DLEN;
  for (const key of ['from', 'to', 'at'] as const) {
    const value = spec[key];
    if (!Number.isInteger(value) || value < -size || value >= size)
      throw new InvalidValueError(`${field}.${key}`, value, `a byte index ${-size}..${size - 1} (negative counts from the end)`);
  }
  if (!Number.isInteger(spec.init) || spec.init < 0 || spec.init > 0xff) throw new InvalidValueError(`${field}.init`, spec.init, '0..0xff');
}

/**
 * Checks a gateway on its own: names, filters, edits and checksums. `fd` says whether both buses are FD (then
 * FD lengths, data and flags are allowed); when unknown (a bus is missing), the FD limits apply and the gateway is
 * checked again when it is wired.
 */
export function checkGateway(gateway: Gateway, fd = true): void {
  for (const key of ['source', 'destination'] as const) {
    const name = gateway[key];
    if (typeof name !== 'string' || name.length === 0 || name.length > 256) throw new InvalidValueError(key, name, NAME_ALLOWED);
  }
  if (gateway.source === gateway.destination)
    throw new InvalidValueError('destination', gateway.destination, 'another bus than the source');
  if (typeof gateway.both !== 'boolean') throw new InvalidValueError('both', gateway.both, 'true or false');
  for (const text of gateway.accept) parseIdFilter('accept', text);
  for (const text of gateway.reject) parseIdFilter('reject', text);
  const seen = new Set<string>();
  for (const edit of gateway.edits) {
    if (!(MOD_OPERATIONS as readonly string[]).includes(edit.operation))
      throw new InvalidValueError('edit', edit.operation, MOD_OPERATIONS.join(', '));
    if (!(MOD_FIELDS as readonly string[]).includes(edit.field))
      throw new InvalidValueError(`--${edit.operation}`, edit.field, MOD_FIELDS.join(', '));
    const where = `${edit.operation} ${edit.field}`;
    if (seen.has(where))
      throw new InvalidValueError(
        `--${edit.operation}`,
        `${edit.field}=${edit.value}`,
        `each field once per operation (${edit.field} is given twice)`,
      );
    seen.add(where);
    operand(edit, `--${edit.operation} ${edit.field}`, fd);
  }
  if ((gateway.xorChecksum !== undefined || gateway.crc8Checksum !== undefined) && gateway.edits.length === 0) {
    throw new InvalidValueError(
      gateway.xorChecksum ? '--xor-checksum' : '--crc8',
      'without an edit',
      'a checksum together with an edit (the kernel computes checksums after editing)',
    );
  }
  if (gateway.xorChecksum) checkChecksum('--xor-checksum', gateway.xorChecksum, fd);
  if (gateway.crc8Checksum) {
    checkChecksum('--crc8', gateway.crc8Checksum, fd);
    for (const key of ['poly', 'finalXor'] as const) {
      const value = gateway.crc8Checksum[key];
      if (!Number.isInteger(value) || value < 0 || value > 0xff) throw new InvalidValueError(`--crc8.${key}`, value, '0..0xff');
    }
  }
}

/** Normalises filters to candump's spelling, so that equal gateways compare equal. */
export function normaliseGateway(gateway: Gateway): Gateway {
  const norm = (list: readonly string[], field: string): string[] => list.map((text) => formatIdFilter(parseIdFilter(field, text)));
  return { ...gateway, accept: norm(gateway.accept, 'accept'), reject: norm(gateway.reject, 'reject') };
}

/**
 * Why a set of gateways cannot be, or undefined: between two buses there is at most one gateway each way, and a
 * both-ways gateway is the only one between them.
 */
export function gatewaySetProblem(gateways: readonly Gateway[]): string | undefined {
  const seen = new Map<string, Gateway>();
  for (const gateway of gateways) {
    const key = gatewayKey(gateway);
    const other = seen.get(key);
    if (other !== undefined && (other.both || gateway.both || other.source === gateway.source)) return `a second gateway between ${key}`;
    seen.set(key, gateway);
  }
  return undefined;
}

/**
 * A cycle the gateways would close, as bus names from one bus around back to it, or undefined. Frames must never
 * come back to the bus they came from, so the buses and gateways (either direction) must form a forest.
 */
export function findCycle(gateways: readonly Pick<Gateway, 'source' | 'destination'>[]): string[] | undefined {
  const neighbours = new Map<string, string[]>();
  const link = (a: string, b: string): void => {
    neighbours.set(a, [...(neighbours.get(a) ?? []), b]);
  };
  const joined = new Set<string>();
  for (const gateway of gateways) {
    const { source: a, destination: b } = gateway;
    // One gateway each way between two buses is one port pair: not a cycle.
    if (joined.has(gatewayKey(gateway))) continue;
    joined.add(gatewayKey(gateway));
    const path = pathBetween(neighbours, a, b);
    if (path !== undefined) return [...path, a];
    link(a, b);
    link(b, a);
  }
  return undefined;
}

function pathBetween(neighbours: ReadonlyMap<string, readonly string[]>, from: string, to: string): string[] | undefined {
  const previous = new Map<string, string>([[from, from]]);
  const queue = [from];
  while (queue.length > 0) {
    const here = queue.shift() as string;
    if (here === to) {
      const path = [to];
      for (let at = to; at !== from;) {
        at = previous.get(at) as string;
        path.unshift(at);
      }
      return path;
    }
    for (const next of neighbours.get(here) ?? []) {
      if (!previous.has(next)) {
        previous.set(next, here);
        queue.push(next);
      }
    }
  }
  return undefined;
}

/** One bus's side of a wired gateway: everything its plan needs. */
export interface GatewayPort {
  readonly key: string;
  /** The end in this bus's namespace. */
  readonly name: string;
  /** The other end, in the other bus's namespace. */
  readonly peer: { readonly name: string; readonly namespaceOf: string; readonly mtu: number };
  /** Frame kinds that cross: classic only unless both buses are FD. */
  readonly fd: boolean;
  /** Frames of this bus leave through the port (filtered and edited); absent when the gateway only brings frames in. */
  readonly outgoing?: {
    /** The ids that leave (combined with each source's own selection when planned). */
    readonly selection: IdSelection;
    readonly edits: readonly FrameEdit[];
    readonly xorChecksum?: XorChecksumSpec;
    readonly crc8Checksum?: Crc8ChecksumSpec;
  };
  /** Frames of the other bus come in through the port. */
  readonly incoming: boolean;
}

/** The name of a gateway's end in one bus's namespace (13 characters, like a member's host end). */
export function gatewayEndName(key: string, busId: string): string {
  return `g${shortHash(`${key}\0${busId}`)}`;
}

export type GatewayStatus =
  | { readonly state: 'wired'; readonly source: Bus; readonly destination: Bus }
  | { readonly state: 'waiting'; readonly missing: readonly string[] }
  | { readonly state: 'refused'; readonly reason: string };

/** Whether a gateway can be wired among these buses: both exist (exactly one bus by each name) and it fits them. */
export function gatewayStatus(gateway: Gateway, buses: readonly Bus[]): GatewayStatus {
  const find = (name: string): Bus[] => buses.filter((bus) => bus.name === name);
  const source = find(gateway.source);
  const destination = find(gateway.destination);
  const missing = [...(source.length === 0 ? [gateway.source] : []), ...(destination.length === 0 ? [gateway.destination] : [])];
  if (missing.length > 0) return { state: 'waiting', missing };
  if (source.length > 1 || destination.length > 1)
    return { state: 'refused', reason: `two buses are named ${source.length > 1 ? gateway.source : gateway.destination}` };
  const [a, b] = [source[0] as Bus, destination[0] as Bus];
  try {
    checkGateway(gateway, a.fd && b.fd);
  } catch (error) {
    return { state: 'refused', reason: errorMessage(error) };
  }
  return { state: 'wired', source: a, destination: b };
}

/**
 * The ports of `bus` for the gateways wired among `buses`. Two buses share one port pair whatever the gateways
 * between them: one each way (with their own filters and edits), or one both ways. A frame that comes in through a
 * port never leaves through it, so it cannot go back to the bus it came from.
 */
export function gatewayPorts(bus: Bus, gateways: readonly Gateway[], buses: readonly Bus[], mtuOf: (bus: Bus) => number): GatewayPort[] {
  const byKey = new Map<string, Gateway[]>();
  for (const gateway of gateways) {
    if (gateway.source !== bus.name && gateway.destination !== bus.name) continue;
    const key = gatewayKey(gateway);
    byKey.set(key, [...(byKey.get(key) ?? []), gateway]);
  }
  const ports: GatewayPort[] = [];
  for (const [key, group] of byKey) {
    const statuses = group.map((gateway) => gatewayStatus(gateway, buses));
    const isWired = (i: number): boolean => statuses[i]?.state === 'wired';
    const first = statuses.find((status) => status.state === 'wired');
    if (first?.state !== 'wired') continue;
    const here = first.source.id === bus.id ? first.source : first.destination;
    if (here.id !== bus.id) continue;
    const other = here === first.source ? first.destination : first.source;
    const sending = group.find((gateway, i) => isWired(i) && (gateway.source === here.name || gateway.both));
    const receiving = group.some((gateway, i) => isWired(i) && (gateway.destination === here.name || gateway.both));
    ports.push({
      key,
      name: gatewayEndName(key, here.id),
      peer: { name: gatewayEndName(key, other.id), namespaceOf: other.id, mtu: mtuOf(other) },
      fd: here.fd && other.fd,
      ...(sending === undefined
        ? {}
        : {
            outgoing: {
              selection: gatewaySelection(sending),
              edits: sending.edits,
              ...(sending.xorChecksum === undefined ? {} : { xorChecksum: sending.xorChecksum }),
              ...(sending.crc8Checksum === undefined ? {} : { crc8Checksum: sending.crc8Checksum }),
            },
          }),
      incoming: receiving,
    });
  }
  return ports;
}
