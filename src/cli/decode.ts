// `cantainer decode`: turns netlink bytes (as hex, e.g. from strace -xx) into readable JSON. A debugging aid that
// uses the same decoders as the daemon.
import { CantainerError, InvalidValueError } from '../errors.js';
import { decodeRule } from '../netlink/cangw.js';
import { NlMsgType } from '../netlink/constants.js';
import { decodeLink } from '../netlink/link.js';
import { decodeAck, decodeMessages, type NetlinkMessage } from '../netlink/message.js';

/** Accepts plain hex, `\x`-escaped hex as strace prints it, with any whitespace, quotes or colons between bytes. */
export function parseHex(text: string): Buffer {
  const cleaned = text.replace(/\\x/gu, '').replace(/["'\s:]/gu, '');
  if (cleaned.length === 0 || cleaned.length % 2 !== 0 || !/^[0-9a-fA-F]+$/u.test(cleaned)) {
    throw new InvalidValueError(
      'hex',
      text.length > 40 ? `${text.slice(0, 40)}...` : text,
      'an even number of hex digits, optionally as \\x escapes',
    );
  }
  return Buffer.from(cleaned, 'hex');
}

const TYPE_NAMES = new Map<number, string>(Object.entries(NlMsgType).map(([name, value]) => [value, name]));

function describeMessage(message: NetlinkMessage): Record<string, unknown> {
  const header = {
    type: TYPE_NAMES.get(message.type) ?? message.type,
    flags: `0x${message.flags.toString(16)}`,
    seq: message.seq,
    pid: message.pid,
  };
  try {
    switch (message.type) {
      case NlMsgType.ERROR:
        return { ...header, ack: decodeAck(message) };
      case NlMsgType.RTM_NEWLINK:
        return { ...header, link: decodeLink(message) };
      case NlMsgType.RTM_NEWROUTE:
      case NlMsgType.RTM_DELROUTE:
        return { ...header, ...decodeRule({ ...message, type: NlMsgType.RTM_NEWROUTE }) };
      default:
        return { ...header, payload: message.payload.toString('hex') };
    }
  } catch (error) {
    if (error instanceof CantainerError) return { ...header, error: error.message, payload: message.payload.toString('hex') };
    throw error;
  }
}

export function decodeCommand(hex: string): string {
  const messages = decodeMessages(parseHex(hex)).map(describeMessage);
  return JSON.stringify(messages, (_key, value: unknown) => (value instanceof Uint8Array ? Buffer.from(value).toString('hex') : value), 2);
}
