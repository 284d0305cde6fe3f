// Netlink message framing: struct nlmsghdr {len u32, type u16, flags u16, seq u32, pid u32} in host byte order,
// followed by the family header and attributes, padded to 4 bytes. Several messages may share one datagram.
import { MalformedMessageError } from '../errors.js';
import { align4, parseAttributes, AttributeReader } from './attributes.js';
import { NLMSG_HDRLEN, NLMSGERR_MIN_LEN, NlMsgErrAttr, NlMsgType, NlmF } from './constants.js';
import { describeErrno } from './errno.js';

export interface NetlinkMessage {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly pid: number;
  /** The bytes after the 16-byte header: family header and attributes. */
  readonly payload: Buffer;
}

/** What a request is before a transport gives it a sequence number: type, flags and payload. */
export interface NetlinkRequest {
  readonly type: number;
  readonly flags: number;
  readonly payload: Buffer;
}

export function encodeMessage(message: NetlinkMessage): Buffer {
  const length = NLMSG_HDRLEN + message.payload.length;
  const out = Buffer.alloc(align4(length));
  out.writeUInt32LE(length, 0);
  out.writeUInt16LE(message.type, 4);
  out.writeUInt16LE(message.flags, 6);
  out.writeUInt32LE(message.seq >>> 0, 8);
  out.writeUInt32LE(message.pid >>> 0, 12);
  out.set(message.payload, NLMSG_HDRLEN);
  return out;
}

export function encodeRequest(request: NetlinkRequest, seq: number, pid = 0): Buffer {
  return encodeMessage({ ...request, seq, pid });
}

/** Splits one received datagram into messages, checking every length against the bytes present. */
export function decodeMessages(buffer: Buffer): NetlinkMessage[] {
  const messages: NetlinkMessage[] = [];
  let offset = 0;
  while (offset < buffer.length) {
    const remaining = buffer.length - offset;
    if (remaining < NLMSG_HDRLEN) {
      throw new MalformedMessageError(
        'netlink datagram',
        `${remaining} bytes at offset ${offset} are too short for a ${NLMSG_HDRLEN}-byte message header`,
      );
    }
    const length = buffer.readUInt32LE(offset);
    if (length < NLMSG_HDRLEN) {
      throw new MalformedMessageError(
        'netlink datagram',
        `message at offset ${offset} has length ${length}, below the ${NLMSG_HDRLEN}-byte header`,
      );
    }
    if (length > remaining) {
      throw new MalformedMessageError(
        'netlink datagram',
        `message at offset ${offset} claims ${length} bytes but only ${remaining} remain`,
      );
    }
    messages.push({
      type: buffer.readUInt16LE(offset + 4),
      flags: buffer.readUInt16LE(offset + 6),
      seq: buffer.readUInt32LE(offset + 8),
      pid: buffer.readUInt32LE(offset + 12),
      payload: buffer.subarray(offset + NLMSG_HDRLEN, offset + length),
    });
    offset += Math.min(align4(length), remaining);
  }
  return messages;
}

/** The kernel's answer to a request with NLM_F_ACK, or to a failed dump. */
export interface NetlinkAck {
  /** 0 for success, else the positive errno. */
  readonly errno: number;
  /** Symbolic errno name, e.g. "EEXIST"; "OK" on success. */
  readonly name: string;
  /** The C library's text for the errno, e.g. "File exists". */
  readonly message: string;
  /** The kernel's extended acknowledgement text, e.g. "Unknown device type", when it gave one. */
  readonly extendedMessage: string | undefined;
  /** Header of the request this answers. */
  readonly request: { readonly type: number; readonly flags: number; readonly seq: number; readonly pid: number };
}

/** Decodes the payload of an NLMSG_ERROR message: struct nlmsgerr, then optional extended-ack attributes. */
export function decodeAck(message: NetlinkMessage): NetlinkAck {
  const what = 'netlink error message';
  if (message.type !== NlMsgType.ERROR)
    throw new MalformedMessageError(what, `message type is ${message.type}, expected ${NlMsgType.ERROR}`);
  const { payload } = message;
  if (payload.length < NLMSGERR_MIN_LEN) {
    throw new MalformedMessageError(what, `payload of ${payload.length} bytes, expected at least ${NLMSGERR_MIN_LEN}`);
  }
  const error = payload.readInt32LE(0);
  if (error > 0) throw new MalformedMessageError(what, `error code ${error} is positive; the kernel sends 0 or a negative errno`);
  const requestLength = payload.readUInt32LE(4);
  const request = {
    type: payload.readUInt16LE(8),
    flags: payload.readUInt16LE(10),
    seq: payload.readUInt32LE(12),
    pid: payload.readUInt32LE(16),
  };
  let extendedMessage: string | undefined;
  if ((message.flags & NlmF.ACK_TLVS) !== 0) {
    // The kernel echoes the whole request unless it set NLM_F_CAPPED (it always caps successful acks).
    const echoed = (message.flags & NlmF.CAPPED) !== 0 ? NLMSG_HDRLEN : align4(requestLength);
    const tlvStart = 4 + echoed;
    if (echoed < NLMSG_HDRLEN || tlvStart > payload.length) {
      throw new MalformedMessageError(what, `echoed request of ${requestLength} bytes does not fit in the ${payload.length}-byte payload`);
    }
    extendedMessage = extendedAckMessage(payload.subarray(tlvStart), what);
  }
  return ackFromErrno(error === 0 ? 0 : -error, extendedMessage, request);
}

/** The NLMSGERR_ATTR_MSG text among extended-ack attributes, if present. */
export function extendedAckMessage(attributes: Buffer, what: string): string | undefined {
  const reader = new AttributeReader(what);
  const found = parseAttributes(attributes, what).find((attr) => attr.type === NlMsgErrAttr.MSG);
  return found ? reader.string(found) : undefined;
}

export function ackFromErrno(errno: number, extendedMessage: string | undefined, request: NetlinkAck['request']): NetlinkAck {
  const described = errno === 0 ? { name: 'OK', message: 'Success' } : describeErrno(errno);
  return {
    errno,
    name: described.name,
    message: described.message,
    extendedMessage,
    request: { type: request.type, flags: request.flags, seq: request.seq, pid: request.pid },
  };
}

/** Text for an acknowledgement that carries an error: `EEXIST (File exists)` or `EOPNOTSUPP (Operation not supported: Unknown device type)`. */
export function formatAckError(ack: NetlinkAck): string {
  const detail = ack.extendedMessage ? `${ack.message}: ${ack.extendedMessage}` : ack.message;
  return `${ack.name} (${detail})`;
}
