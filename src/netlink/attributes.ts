// Netlink attributes (struct nlattr / struct rtattr): a 4-byte header {len u16, type u16} in host byte order,
// the payload, then padding to a 4-byte boundary. `len` counts header and payload but not the padding.
import { MalformedMessageError } from '../errors.js';
import { NLA_F_NESTED, NLA_HDRLEN, NLA_TYPE_MASK } from './constants.js';

export function align4(length: number): number {
  return (length + 3) & ~3;
}

/** Encodes one attribute, padded so that the next one starts aligned. */
export function attribute(type: number, payload: Uint8Array): Buffer {
  const length = NLA_HDRLEN + payload.length;
  if (length > 0xffff) throw new RangeError(`netlink attribute ${type}: payload of ${payload.length} bytes is too long`);
  const out = Buffer.alloc(align4(length));
  out.writeUInt16LE(length, 0);
  out.writeUInt16LE(type, 2);
  out.set(payload, NLA_HDRLEN);
  return out;
}

export function u8Attribute(type: number, value: number): Buffer {
  return attribute(type, Uint8Array.of(value));
}

export function u32Attribute(type: number, value: number): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32LE(value >>> 0, 0);
  return attribute(type, payload);
}

/** A NUL-terminated string, as the kernel expects for names (IFLA_IFNAME, IFLA_INFO_KIND). */
export function stringAttribute(type: number, value: string): Buffer {
  return attribute(type, Buffer.from(`${value}\0`, 'utf8'));
}

/** A string without the terminating NUL, as iproute2 sends IFLA_INFO_KIND; the kernel accepts both forms. */
export function bareStringAttribute(type: number, value: string): Buffer {
  return attribute(type, Buffer.from(value, 'utf8'));
}

/**
 * A nested attribute holding other attributes. The rtnetlink attributes used here predate NLA_F_NESTED and
 * iproute2 does not set it, so it is off unless asked for.
 */
export function nestedAttribute(type: number, children: readonly Uint8Array[], flagNested = false): Buffer {
  return attribute(flagNested ? type | NLA_F_NESTED : type, Buffer.concat(children));
}

export interface Attribute {
  /** The type number without the NLA_F_NESTED / NLA_F_NET_BYTEORDER bits. */
  readonly type: number;
  readonly nested: boolean;
  readonly payload: Buffer;
}

/**
 * Splits a buffer into attributes. Every length is checked against the bytes that are really there, so a
 * truncated or lying buffer yields an error naming `what` rather than a read past the end or a loop.
 */
export function parseAttributes(buffer: Buffer, what: string): Attribute[] {
  const attributes: Attribute[] = [];
  let offset = 0;
  while (buffer.length - offset >= NLA_HDRLEN) {
    const length = buffer.readUInt16LE(offset);
    const rawType = buffer.readUInt16LE(offset + 2);
    if (length < NLA_HDRLEN) {
      throw new MalformedMessageError(what, `attribute at offset ${offset} has length ${length}, below the ${NLA_HDRLEN}-byte header`);
    }
    if (offset + length > buffer.length) {
      throw new MalformedMessageError(
        what,
        `attribute type ${rawType & NLA_TYPE_MASK} at offset ${offset} claims ${length} bytes but only ${buffer.length - offset} remain`,
      );
    }
    attributes.push({
      type: rawType & NLA_TYPE_MASK,
      nested: (rawType & NLA_F_NESTED) !== 0,
      payload: buffer.subarray(offset + NLA_HDRLEN, offset + length),
    });
    offset += align4(length);
  }
  if (offset < buffer.length) {
    throw new MalformedMessageError(what, `${buffer.length - offset} stray bytes after the last attribute at offset ${offset}`);
  }
  return attributes;
}

/**
 * Typed readers for one attribute's payload. Each checks the exact size the kernel writes, because a size
 * mismatch means the bytes are not what the decoder thinks they are.
 */
export class AttributeReader {
  readonly #what: string;

  constructor(what: string) {
    this.#what = what;
  }

  #expectLength(attr: Attribute, name: string, length: number): void {
    if (attr.payload.length !== length) {
      throw new MalformedMessageError(this.#what, `${name} has a ${attr.payload.length}-byte payload, expected ${length}`);
    }
  }

  u8(attr: Attribute, name: string): number {
    this.#expectLength(attr, name, 1);
    return attr.payload.readUInt8(0);
  }

  u32(attr: Attribute, name: string): number {
    this.#expectLength(attr, name, 4);
    return attr.payload.readUInt32LE(0);
  }

  s32(attr: Attribute, name: string): number {
    this.#expectLength(attr, name, 4);
    return attr.payload.readInt32LE(0);
  }

  bytes(attr: Attribute, name: string, length: number): Buffer {
    this.#expectLength(attr, name, length);
    return attr.payload;
  }

  /** A string up to its first NUL (or the whole payload when the sender left the NUL out). */
  string(attr: Attribute): string {
    const nul = attr.payload.indexOf(0);
    return attr.payload.toString('utf8', 0, nul === -1 ? attr.payload.length : nul);
  }

  nested(attr: Attribute, name: string): Attribute[] {
    return parseAttributes(attr.payload, `${this.#what} (${name})`);
  }
}
