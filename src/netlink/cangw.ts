// can-gw rules (linux/can/gw.h, net/can/gw.c): RTM_NEWROUTE / RTM_DELROUTE / RTM_GETROUTE on NETLINK_ROUTE with
// struct rtcanmsg {can_family u8 = AF_CAN, gwtype u8 = CGW_TYPE_CAN_CAN, flags u16} and CGW_* attributes.
import { InvalidValueError, MalformedMessageError } from '../errors.js';
import { CAN_MAX_DLEN, CANFD_MAX_DLEN } from '../can/frame.js';
import { AttributeReader, attribute, parseAttributes, u32Attribute, u8Attribute, type Attribute } from './attributes.js';
import {
  AF_CAN,
  Cgw,
  CGW_CRC8PRF_DATA_LEN,
  CGW_CS_CRC8_LEN,
  CGW_CS_XOR_LEN,
  CGW_FDMODATTR_LEN,
  CGW_MODATTR_LEN,
  CGW_TYPE_CAN_CAN,
  CgwFlags,
  CgwModType,
  NlMsgType,
  NlmF,
  RTCANMSG_LEN,
} from './constants.js';
import type { NetlinkMessage, NetlinkRequest } from './message.js';

export const MOD_OPERATIONS = ['and', 'or', 'xor', 'set'] as const;
/** How a modification combines its operand with the frame; the kernel applies them in this order. */
export type ModOperation = (typeof MOD_OPERATIONS)[number];

export const MOD_FIELDS = ['id', 'len', 'data', 'flags'] as const;
/** Which parts of a frame a modification touches. `flags` (BRS/ESI) exists only on CAN FD rules. */
export type ModField = (typeof MOD_FIELDS)[number];

export interface FrameModification {
  readonly fields: readonly ModField[];
  /** Operand for the id: the raw can_id, flag bits (EFF/RTR/ERR) included. */
  readonly canId: number;
  /** Operand for the length byte. */
  readonly len: number;
  /** Operand for the CAN FD flags byte; must be 0 on classic rules. */
  readonly flags: number;
  /** Operand bytes, at most 8 (classic) or 64 (FD); shorter operands are padded with zeros. */
  readonly data: Uint8Array;
}

export interface XorChecksum {
  /** Byte indices; negative values count from the end of the frame's data. */
  readonly fromIndex: number;
  readonly toIndex: number;
  readonly resultIndex: number;
  readonly initialValue: number;
}

export const CRC8_PROFILES = ['unspecified', '1u8', '16u8', 'sffid-xor'] as const;
export type Crc8Profile = (typeof CRC8_PROFILES)[number];

export interface Crc8Checksum extends XorChecksum {
  readonly finalXor: number;
  /** The 256-entry CRC8 lookup table of the polynomial. */
  readonly table: Uint8Array;
  readonly profile: Crc8Profile;
  /** Profile parameters: one byte for 1u8, 16 bytes for 16u8; at most 20. */
  readonly profileData: Uint8Array;
}

export interface CanGwFilter {
  /** can_id to match, flag bits included; CAN_INV_FILTER (0x20000000) inverts the match. */
  readonly id: number;
  readonly mask: number;
}

export interface CanGwRule {
  readonly sourceIndex: number;
  readonly destinationIndex: number;
  /** Send forwarded frames with local loopback; needed for a vcan destination to see them. */
  readonly echo?: boolean;
  /** Keep the source timestamp instead of clearing it. */
  readonly sourceTimestamp?: boolean;
  /** Allow forwarding back to the frame's original incoming interface (see the README on vxcan and ifindex). */
  readonly allowToIncomingInterface?: boolean;
  /** The rule handles CAN FD frames only; without it, classic frames only. */
  readonly fd?: boolean;
  readonly filter?: CanGwFilter;
  readonly modifications?: Partial<Readonly<Record<ModOperation, FrameModification>>>;
  readonly xorChecksum?: XorChecksum;
  readonly crc8Checksum?: Crc8Checksum;
  /** At most this many gateway hops for frames this rule forwards first (1..6, and at most can_gw max_hops). */
  readonly hopLimit?: number;
  /** A non-zero id that lets a rule's modifications be replaced in place. */
  readonly uid?: number;
}

export interface CanGwCounters {
  /** Frames forwarded. */
  readonly handled: number;
  /** Frames that could not be sent (destination down, no memory). */
  readonly dropped: number;
  /** Frames discarded by the hop limit or a length check. */
  readonly deleted: number;
}

export interface CanGwRuleEntry {
  readonly rule: CanGwRule;
  readonly counters: CanGwCounters;
}

const MOD_ATTR: Record<ModOperation, { classic: number; fd: number }> = {
  and: { classic: Cgw.MOD_AND, fd: Cgw.FDMOD_AND },
  or: { classic: Cgw.MOD_OR, fd: Cgw.FDMOD_OR },
  xor: { classic: Cgw.MOD_XOR, fd: Cgw.FDMOD_XOR },
  set: { classic: Cgw.MOD_SET, fd: Cgw.FDMOD_SET },
};

const FIELD_BITS: Record<ModField, number> = { id: CgwModType.ID, len: CgwModType.LEN, data: CgwModType.DATA, flags: CgwModType.FLAGS };

const U32_MAX = 0xffffffff;
/** CGW_MAX_HOPS in net/can/gw.c: the largest max_hops the module accepts. */
export const CGW_MAX_HOPS = 6;

function checkInteger(field: string, value: number, min: number, max: number, what: string): void {
  if (!Number.isInteger(value) || value < min || value > max) throw new InvalidValueError(field, value, what);
}

function checkUnsigned(field: string, value: number, max: number): void {
  checkInteger(field, value, 0, max, `an integer 0..0x${max.toString(16)}`);
}

function checkChecksumIndices(field: string, checksum: XorChecksum, fd: boolean): void {
  const size = fd ? CANFD_MAX_DLEN : CAN_MAX_DLEN;
  for (const key of ['fromIndex', 'toIndex', 'resultIndex'] as const) {
    checkInteger(
      `${field}.${key}`,
      checksum[key],
      -size,
      size - 1,
      `an integer ${-size}..${size - 1} on a ${fd ? 'CAN FD' : 'classic'} rule`,
    );
  }
  checkUnsigned(`${field}.initialValue`, checksum.initialValue, 0xff);
}

/** Validates a rule completely before any byte is written, naming the offending field. */
export function checkRule(rule: CanGwRule): void {
  checkInteger('sourceIndex', rule.sourceIndex, 1, 0x7fffffff, 'a positive interface index');
  checkInteger('destinationIndex', rule.destinationIndex, 1, 0x7fffffff, 'a positive interface index');
  const fd = rule.fd === true;
  if (rule.sourceIndex === rule.destinationIndex && rule.allowToIncomingInterface !== true) {
    throw new InvalidValueError(
      'destinationIndex',
      rule.destinationIndex,
      'a different interface than the source, unless allowToIncomingInterface is set (the kernel refuses it otherwise)',
    );
  }
  if (rule.filter) {
    checkUnsigned('filter.id', rule.filter.id, U32_MAX);
    checkUnsigned('filter.mask', rule.filter.mask, U32_MAX);
  }
  const operations = Object.keys(rule.modifications ?? {});
  for (const operation of operations) {
    if (!(MOD_OPERATIONS as readonly string[]).includes(operation)) {
      throw new InvalidValueError('modifications', operation, MOD_OPERATIONS.join(', '));
    }
  }
  for (const operation of MOD_OPERATIONS) {
    const mod = rule.modifications?.[operation];
    if (mod) checkModification(`modifications.${operation}`, mod, fd);
  }
  const hasModification = MOD_OPERATIONS.some((operation) => rule.modifications?.[operation] !== undefined);
  if (rule.xorChecksum) checkChecksumIndices('xorChecksum', rule.xorChecksum, fd);
  if (rule.crc8Checksum) checkCrc8(rule.crc8Checksum, fd);
  if ((rule.xorChecksum || rule.crc8Checksum) && !hasModification) {
    throw new InvalidValueError(
      rule.xorChecksum ? 'xorChecksum' : 'crc8Checksum',
      'without a modification',
      'a checksum only together with a modification (the kernel computes it after modifying)',
    );
  }
  if (rule.hopLimit !== undefined) checkInteger('hopLimit', rule.hopLimit, 1, CGW_MAX_HOPS, `an integer 1..${CGW_MAX_HOPS}`);
  if (rule.uid !== undefined) checkInteger('uid', rule.uid, 1, U32_MAX, 'an integer 1..0xffffffff');
}

function checkModification(field: string, mod: FrameModification, fd: boolean): void {
  if (mod.fields.length === 0) throw new InvalidValueError(`${field}.fields`, mod.fields, `one or more of ${MOD_FIELDS.join(', ')}`);
  for (const name of mod.fields) {
    if (!(MOD_FIELDS as readonly string[]).includes(name)) throw new InvalidValueError(`${field}.fields`, name, MOD_FIELDS.join(', '));
    if (name === 'flags' && !fd)
      throw new InvalidValueError(`${field}.fields`, name, 'id, len or data on a classic rule (flags exist on CAN FD rules only)');
  }
  checkUnsigned(`${field}.canId`, mod.canId, U32_MAX);
  checkUnsigned(`${field}.len`, mod.len, 0xff);
  checkUnsigned(`${field}.flags`, mod.flags, 0xff);
  if (!fd && mod.flags !== 0) throw new InvalidValueError(`${field}.flags`, mod.flags, '0 on a classic rule');
  const max = fd ? CANFD_MAX_DLEN : CAN_MAX_DLEN;
  if (mod.data.length > max)
    throw new InvalidValueError(`${field}.data`, mod.data, `at most ${max} bytes on a ${fd ? 'CAN FD' : 'classic'} rule`);
}

function checkCrc8(crc: Crc8Checksum, fd: boolean): void {
  checkChecksumIndices('crc8Checksum', crc, fd);
  checkUnsigned('crc8Checksum.finalXor', crc.finalXor, 0xff);
  if (crc.table.length !== 256) throw new InvalidValueError('crc8Checksum.table', crc.table, 'exactly 256 bytes');
  if (!CRC8_PROFILES.includes(crc.profile)) throw new InvalidValueError('crc8Checksum.profile', crc.profile, CRC8_PROFILES.join(', '));
  if (crc.profileData.length > CGW_CRC8PRF_DATA_LEN)
    throw new InvalidValueError('crc8Checksum.profileData', crc.profileData, `at most ${CGW_CRC8PRF_DATA_LEN} bytes`);
}

function ruleFlags(rule: CanGwRule): number {
  return (
    (rule.echo === true ? CgwFlags.ECHO : 0) |
    (rule.sourceTimestamp === true ? CgwFlags.SRC_TSTAMP : 0) |
    (rule.allowToIncomingInterface === true ? CgwFlags.IIF_TX_OK : 0) |
    (rule.fd === true ? CgwFlags.FD : 0)
  );
}

function encodeRtcanmsg(flags: number): Buffer {
  const out = Buffer.alloc(RTCANMSG_LEN);
  out.writeUInt8(AF_CAN, 0);
  out.writeUInt8(CGW_TYPE_CAN_CAN, 1);
  out.writeUInt16LE(flags, 2);
  return out;
}

function encodeModification(mod: FrameModification, fd: boolean): Buffer {
  const out = Buffer.alloc(fd ? CGW_FDMODATTR_LEN : CGW_MODATTR_LEN);
  out.writeUInt32LE(mod.canId >>> 0, 0);
  out.writeUInt8(mod.len, 4);
  if (fd) out.writeUInt8(mod.flags, 5);
  out.set(mod.data, 8);
  out.writeUInt8(
    mod.fields.reduce((bits, name) => bits | FIELD_BITS[name], 0),
    out.length - 1,
  );
  return out;
}

function encodeChecksumHead(out: Buffer, checksum: XorChecksum): void {
  out.writeInt8(checksum.fromIndex, 0);
  out.writeInt8(checksum.toIndex, 1);
  out.writeInt8(checksum.resultIndex, 2);
  out.writeUInt8(checksum.initialValue, 3);
}

function encodeCrc8(crc: Crc8Checksum): Buffer {
  const out = Buffer.alloc(CGW_CS_CRC8_LEN);
  encodeChecksumHead(out, crc);
  out.writeUInt8(crc.finalXor, 4);
  out.set(crc.table, 5);
  out.writeUInt8(CRC8_PROFILES.indexOf(crc.profile), 261);
  out.set(crc.profileData, 262);
  return out;
}

// Attribute order follows can-utils' cangw, so requests compare byte for byte with the reference tool.
function encodeRuleBody(rule: CanGwRule): Buffer {
  checkRule(rule);
  const fd = rule.fd === true;
  const parts = [
    encodeRtcanmsg(ruleFlags(rule)),
    u32Attribute(Cgw.SRC_IF, rule.sourceIndex),
    u32Attribute(Cgw.DST_IF, rule.destinationIndex),
  ];
  if (rule.filter) {
    const filter = Buffer.alloc(8);
    filter.writeUInt32LE(rule.filter.id >>> 0, 0);
    filter.writeUInt32LE(rule.filter.mask >>> 0, 4);
    parts.push(attribute(Cgw.FILTER, filter));
  }
  if (rule.crc8Checksum) parts.push(attribute(Cgw.CS_CRC8, encodeCrc8(rule.crc8Checksum)));
  if (rule.xorChecksum) {
    const xor = Buffer.alloc(CGW_CS_XOR_LEN);
    encodeChecksumHead(xor, rule.xorChecksum);
    parts.push(attribute(Cgw.CS_XOR, xor));
  }
  if (rule.uid !== undefined) parts.push(u32Attribute(Cgw.MOD_UID, rule.uid));
  if (rule.hopLimit !== undefined) parts.push(u8Attribute(Cgw.LIM_HOPS, rule.hopLimit));
  for (const operation of MOD_OPERATIONS) {
    const mod = rule.modifications?.[operation];
    if (mod) parts.push(attribute(fd ? MOD_ATTR[operation].fd : MOD_ATTR[operation].classic, encodeModification(mod, fd)));
  }
  return Buffer.concat(parts);
}

export function addRuleRequest(rule: CanGwRule): NetlinkRequest {
  return { type: NlMsgType.RTM_NEWROUTE, flags: NlmF.REQUEST | NlmF.ACK, payload: encodeRuleBody(rule) };
}

/** Deletes the first rule whose whole description (flags, hop limit, filter, modifications, interfaces) is identical. */
export function deleteRuleRequest(rule: CanGwRule): NetlinkRequest {
  return { type: NlMsgType.RTM_DELROUTE, flags: NlmF.REQUEST | NlmF.ACK, payload: encodeRuleBody(rule) };
}

/** Deletes every rule of the socket's network namespace (source and destination index 0). */
export function flushRulesRequest(): NetlinkRequest {
  const payload = Buffer.concat([encodeRtcanmsg(0), u32Attribute(Cgw.SRC_IF, 0), u32Attribute(Cgw.DST_IF, 0)]);
  return { type: NlMsgType.RTM_DELROUTE, flags: NlmF.REQUEST | NlmF.ACK, payload };
}

/** Lists every rule of the namespace. The zero interface attributes are ignored by the kernel; cangw sends them too. */
export function dumpRulesRequest(): NetlinkRequest {
  const payload = Buffer.concat([encodeRtcanmsg(0), u32Attribute(Cgw.SRC_IF, 0), u32Attribute(Cgw.DST_IF, 0)]);
  return { type: NlMsgType.RTM_GETROUTE, flags: NlmF.REQUEST | NlmF.DUMP, payload };
}

/**
 * A canonical form of a rule: two rules are the same kernel rule exactly when their keys are equal. Values the
 * kernel does not keep (an all-zero filter, false flags) do not count.
 */
export function ruleKey(rule: CanGwRule): string {
  const normalized: CanGwRule = rule.filter && rule.filter.id === 0 && rule.filter.mask === 0 ? withoutFilter(rule) : rule;
  // Rules without edits (a bus's own, thousands on a large bus) get a short key from their few fields; a rule with
  // edits or checksums, its encoding. Each kind of rule always gets the same kind of key, so equality holds.
  const edited =
    normalized.crc8Checksum !== undefined ||
    normalized.xorChecksum !== undefined ||
    MOD_OPERATIONS.some((operation) => normalized.modifications?.[operation] !== undefined);
  if (edited) return `x${encodeRuleBody(normalized).toString('hex')}`;
  const filter = normalized.filter === undefined ? '' : `${normalized.filter.id >>> 0}/${normalized.filter.mask >>> 0}`;
  return `${ruleFlags(normalized)} ${normalized.sourceIndex} ${normalized.destinationIndex} ${filter} ${normalized.uid ?? ''} ${normalized.hopLimit ?? ''}`;
}

function withoutFilter(rule: CanGwRule): CanGwRule {
  const { filter, ...rest } = rule;
  return rest;
}

export function sameRule(a: CanGwRule, b: CanGwRule): boolean {
  return ruleKey(a) === ruleKey(b);
}

/** A rule under construction by the decoder. */
type MutableRule = { -readonly [K in keyof CanGwRule]: CanGwRule[K] };

/** Decodes one entry of a can-gw dump (an RTM_NEWROUTE message) into the rule and its counters. */
export function decodeRule(message: NetlinkMessage): CanGwRuleEntry {
  const what = 'can-gw rule message';
  if (message.type !== NlMsgType.RTM_NEWROUTE)
    throw new MalformedMessageError(what, `message type ${message.type}, expected RTM_NEWROUTE (${NlMsgType.RTM_NEWROUTE})`);
  const { payload } = message;
  if (payload.length < RTCANMSG_LEN)
    throw new MalformedMessageError(what, `payload of ${payload.length} bytes is shorter than the ${RTCANMSG_LEN}-byte rtcanmsg`);
  const family = payload.readUInt8(0);
  const gwtype = payload.readUInt8(1);
  if (family !== AF_CAN) throw new MalformedMessageError(what, `family ${family}, expected AF_CAN (${AF_CAN})`);
  if (gwtype !== CGW_TYPE_CAN_CAN)
    throw new MalformedMessageError(what, `gateway type ${gwtype}, expected CGW_TYPE_CAN_CAN (${CGW_TYPE_CAN_CAN})`);
  const flags = payload.readUInt16LE(2);
  const fd = (flags & CgwFlags.FD) !== 0;
  const reader = new AttributeReader(what);
  const counters = { handled: 0, dropped: 0, deleted: 0 };
  const rule: MutableRule = { sourceIndex: 0, destinationIndex: 0 };
  const modifications: Partial<Record<ModOperation, FrameModification>> = {};
  for (const attr of parseAttributes(payload.subarray(RTCANMSG_LEN), what)) {
    decodeRuleAttribute(attr, reader, rule, modifications, counters);
  }
  if (rule.sourceIndex === 0 || rule.destinationIndex === 0) throw new MalformedMessageError(what, 'CGW_SRC_IF or CGW_DST_IF is missing');
  if ((flags & CgwFlags.ECHO) !== 0) rule.echo = true;
  if ((flags & CgwFlags.SRC_TSTAMP) !== 0) rule.sourceTimestamp = true;
  if ((flags & CgwFlags.IIF_TX_OK) !== 0) rule.allowToIncomingInterface = true;
  if (fd) rule.fd = true;
  if (Object.keys(modifications).length > 0) rule.modifications = modifications;
  return { rule, counters };
}

function decodeRuleAttribute(
  attr: Attribute,
  reader: AttributeReader,
  rule: MutableRule,
  modifications: Partial<Record<ModOperation, FrameModification>>,
  counters: { handled: number; dropped: number; deleted: number },
): void {
  switch (attr.type) {
    case Cgw.SRC_IF:
      rule.sourceIndex = reader.u32(attr, 'CGW_SRC_IF');
      return;
    case Cgw.DST_IF:
      rule.destinationIndex = reader.u32(attr, 'CGW_DST_IF');
      return;
    case Cgw.HANDLED:
      counters.handled = reader.u32(attr, 'CGW_HANDLED');
      return;
    case Cgw.DROPPED:
      counters.dropped = reader.u32(attr, 'CGW_DROPPED');
      return;
    case Cgw.DELETED:
      counters.deleted = reader.u32(attr, 'CGW_DELETED');
      return;
    case Cgw.FILTER: {
      const bytes = reader.bytes(attr, 'CGW_FILTER', 8);
      rule.filter = { id: bytes.readUInt32LE(0), mask: bytes.readUInt32LE(4) };
      return;
    }
    case Cgw.LIM_HOPS:
      rule.hopLimit = reader.u8(attr, 'CGW_LIM_HOPS');
      return;
    case Cgw.MOD_UID:
      rule.uid = reader.u32(attr, 'CGW_MOD_UID');
      return;
    case Cgw.CS_XOR:
      rule.xorChecksum = decodeChecksumHead(reader.bytes(attr, 'CGW_CS_XOR', CGW_CS_XOR_LEN));
      return;
    case Cgw.CS_CRC8: {
      const bytes = reader.bytes(attr, 'CGW_CS_CRC8', CGW_CS_CRC8_LEN);
      const profile = CRC8_PROFILES[bytes.readUInt8(261)];
      if (profile === undefined)
        throw new MalformedMessageError('can-gw rule message', `CGW_CS_CRC8 has unknown profile ${bytes.readUInt8(261)}`);
      rule.crc8Checksum = {
        ...decodeChecksumHead(bytes),
        finalXor: bytes.readUInt8(4),
        table: Uint8Array.from(bytes.subarray(5, 261)),
        profile,
        profileData: Uint8Array.from(bytes.subarray(262, 282)),
      };
      return;
    }
    default: {
      const mod = MOD_OPERATIONS.find((operation) => MOD_ATTR[operation].classic === attr.type || MOD_ATTR[operation].fd === attr.type);
      if (mod === undefined) return; // an attribute from a newer kernel: not ours to interpret
      const fd = MOD_ATTR[mod].fd === attr.type;
      modifications[mod] = decodeModification(
        reader.bytes(attr, `can-gw modification ${mod}`, fd ? CGW_FDMODATTR_LEN : CGW_MODATTR_LEN),
        fd,
      );
    }
  }
}

function decodeChecksumHead(bytes: Buffer): XorChecksum {
  return { fromIndex: bytes.readInt8(0), toIndex: bytes.readInt8(1), resultIndex: bytes.readInt8(2), initialValue: bytes.readUInt8(3) };
}

function decodeModification(bytes: Buffer, fd: boolean): FrameModification {
  const bits = bytes.readUInt8(bytes.length - 1);
  return {
    fields: MOD_FIELDS.filter((name) => (bits & FIELD_BITS[name]) !== 0),
    canId: bytes.readUInt32LE(0),
    len: bytes.readUInt8(4),
    flags: fd ? bytes.readUInt8(5) : 0,
    data: Uint8Array.from(bytes.subarray(8, 8 + (fd ? CANFD_MAX_DLEN : CAN_MAX_DLEN))),
  };
}
