// The words that describe a gateway, shared by every front door: the command line's flags and a network option's
// value use the same syntax (`DST --both --accept 7DF --set id=123`), so what works in one works in the other.
import { InvalidValueError } from '../errors.js';
import { MOD_FIELDS, MOD_OPERATIONS, type ModField, type ModOperation } from '../netlink/cangw.js';
import { checkGateway, normaliseGateway, type Crc8ChecksumSpec, type FrameEdit, type Gateway, type XorChecksumSpec } from './gateway.js';

/** Flags of `gateway add`, as strings, before checking. */
export interface GatewayFlags {
  readonly both?: boolean;
  readonly accept?: readonly string[];
  readonly reject?: readonly string[];
  readonly set?: readonly string[];
  readonly and?: readonly string[];
  readonly or?: readonly string[];
  readonly xor?: readonly string[];
  readonly xorChecksum?: string;
  readonly crc8?: string;
}

const EDIT_SYNTAX = `FIELD=VALUE with FIELD one of ${MOD_FIELDS.join(', ')} (id=123, id=18DAF110, len=8, data=DEADBEEF, flags=1)`;

function parseEdit(operation: ModOperation, text: string): FrameEdit {
  const at = text.indexOf('=');
  const field = text.slice(0, at);
  if (at <= 0 || !(MOD_FIELDS as readonly string[]).includes(field)) throw new InvalidValueError(`--${operation}`, text, EDIT_SYNTAX);
  return { operation, field: field as ModField, value: text.slice(at + 1) };
}

function integer(field: string, text: string, allowed: string, hex = false): number {
  const pattern = hex ? /^(0x)?[0-9A-Fa-f]{1,2}$/u : /^-?\d{1,2}$/u;
  if (!pattern.test(text)) throw new InvalidValueError(field, text, allowed);
  return hex ? Number.parseInt(text.replace(/^0x/iu, ''), 16) : Number(text);
}

const XOR_SYNTAX = 'FROM:TO:AT[:INIT]: byte indices (negative count from the end) and an initial value in hex (0:6:7 or 0:6:7:FF)';
const CRC8_SYNTAX =
  'FROM:TO:AT:POLY[:INIT[:FINALXOR]]: byte indices, then the polynomial, initial value and final XOR in hex (0:6:7:1D:FF:FF)';

function parseXor(text: string): XorChecksumSpec {
  const parts = text.split(':');
  if (parts.length < 3 || parts.length > 4) throw new InvalidValueError('--xor-checksum', text, XOR_SYNTAX);
  const [from, to, at, init] = parts as [string, string, string, string | undefined];
  return {
    from: integer('--xor-checksum', from, XOR_SYNTAX),
    to: integer('--xor-checksum', to, XOR_SYNTAX),
    at: integer('--xor-checksum', at, XOR_SYNTAX),
    init: init === undefined ? 0 : integer('--xor-checksum', init, XOR_SYNTAX, true),
  };
}

function parseCrc8(text: string): Crc8ChecksumSpec {
  const parts = text.split(':');
  if (parts.length < 4 || parts.length > 6) throw new InvalidValueError('--crc8', text, CRC8_SYNTAX);
  const [from, to, at, poly, init, finalXor] = parts as [string, string, string, string, string | undefined, string | undefined];
  return {
    from: integer('--crc8', from, CRC8_SYNTAX),
    to: integer('--crc8', to, CRC8_SYNTAX),
    at: integer('--crc8', at, CRC8_SYNTAX),
    poly: integer('--crc8', poly, CRC8_SYNTAX, true),
    init: init === undefined ? 0 : integer('--crc8', init, CRC8_SYNTAX, true),
    finalXor: finalXor === undefined ? 0 : integer('--crc8', finalXor, CRC8_SYNTAX, true),
  };
}

/** A checked, normalised gateway from its two buses and its flags. */
export function gatewayFromFlags(source: string, destination: string, flags: GatewayFlags): Gateway {
  const edits = MOD_OPERATIONS.flatMap((operation) => (flags[operation] ?? []).map((text) => parseEdit(operation, text)));
  const gateway: Gateway = {
    source,
    destination,
    both: flags.both === true,
    accept: [...(flags.accept ?? [])],
    reject: [...(flags.reject ?? [])],
    edits,
    ...(flags.xorChecksum === undefined ? {} : { xorChecksum: parseXor(flags.xorChecksum) }),
    ...(flags.crc8 === undefined ? {} : { crc8Checksum: parseCrc8(flags.crc8) }),
  };
  try {
    checkGateway(gateway);
  } catch (error) {
    // Named by the flag that gave the value.
    if (error instanceof InvalidValueError && (error.field === 'accept' || error.field === 'reject'))
      throw new InvalidValueError(`--${error.field}`, error.value, error.message.replace(/^.*; allowed: /u, ''));
    throw error;
  }
  return normaliseGateway(gateway);
}

const LIST_FLAGS = { '--accept': 'accept', '--reject': 'reject', '--set': 'set', '--and': 'and', '--or': 'or', '--xor': 'xor' } as const;
const VALUE_FLAGS = { '--xor-checksum': 'xorChecksum', '--crc8': 'crc8' } as const;
export const GATEWAY_WORDS_SYNTAX = `DST [--both] [--accept ID/MASK]... [--reject ID/MASK]... [--set|--and|--or|--xor FIELD=VALUE]... [--xor-checksum FROM:TO:AT[:INIT]] [--crc8 FROM:TO:AT:POLY[:INIT[:FINALXOR]]]`;

/** A gateway from `source` written as words: the destination, then the flags of `cantainer gateway add`. */
export function gatewayFromWords(field: string, source: string, text: string): Gateway {
  const words = text
    .trim()
    .split(/\s+/u)
    .filter((word) => word !== '');
  const [destination, ...rest] = words;
  if (destination === undefined || destination.startsWith('-')) throw new InvalidValueError(field, text, GATEWAY_WORDS_SYNTAX);
  const lists: Record<string, string[]> = {};
  const values: Record<string, string> = {};
  let both = false;
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i] as string;
    if (word === '--both') {
      both = true;
      continue;
    }
    const list = (LIST_FLAGS as Record<string, string | undefined>)[word];
    const single = (VALUE_FLAGS as Record<string, string | undefined>)[word];
    const value = rest[i + 1];
    if ((list === undefined && single === undefined) || value === undefined || value.startsWith('--')) {
      throw new InvalidValueError(field, text, `${GATEWAY_WORDS_SYNTAX} (at ${JSON.stringify(word)})`);
    }
    i++;
    if (list !== undefined) lists[list] = [...(lists[list] ?? []), value];
    else if (single !== undefined) values[single] = value;
  }
  try {
    return gatewayFromFlags(source, destination, { both, ...lists, ...values });
  } catch (error) {
    if (error instanceof InvalidValueError)
      throw new InvalidValueError(`${field}: ${error.field}`, error.value, error.message.replace(/^.*; allowed: /u, ''));
    throw error;
  }
}

/** The words of a gateway, as `cantainer gateway add` takes them after the source. */
export function gatewayWords(gateway: Gateway): string[] {
  const words = [gateway.destination];
  if (gateway.both) words.push('--both');
  for (const filter of gateway.accept) words.push('--accept', filter);
  for (const filter of gateway.reject) words.push('--reject', filter);
  for (const edit of gateway.edits) words.push(`--${edit.operation}`, `${edit.field}=${edit.value}`);
  const x = gateway.xorChecksum;
  if (x) words.push('--xor-checksum', `${x.from}:${x.to}:${x.at}:${x.init.toString(16).toUpperCase()}`);
  const c = gateway.crc8Checksum;
  if (c)
    words.push('--crc8', `${c.from}:${c.to}:${c.at}:${[c.poly, c.init, c.finalXor].map((n) => n.toString(16).toUpperCase()).join(':')}`);
  return words;
}
