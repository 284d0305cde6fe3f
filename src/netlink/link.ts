// rtnetlink link messages for CAN interfaces: struct ifinfomsg {family u8, pad u8, type u16, index s32,
// flags u32, change u32} followed by IFLA_* attributes (linux/rtnetlink.h, linux/if_link.h, linux/can/vxcan.h).
import { InvalidValueError, MalformedMessageError } from '../errors.js';
import { AttributeReader, bareStringAttribute, nestedAttribute, parseAttributes, stringAttribute, u32Attribute } from './attributes.js';
import {
  AF_UNSPEC,
  IFINFOMSG_LEN,
  IFNAMSIZ,
  Iff,
  Ifla,
  IflaInfo,
  NlMsgType,
  NlmF,
  OPERSTATES,
  VXCAN_INFO_PEER,
  type OperState,
} from './constants.js';
import type { NetlinkMessage, NetlinkRequest } from './message.js';

/** MTUs a CAN interface accepts: classic only, CAN FD, or (on kernels with CAN XL) 76..2060. */
export const CAN_LINK_MTU = { classic: 16, fd: 72, xlMin: 76, xlMax: 2060 } as const;

export interface IfInfo {
  readonly family?: number;
  readonly type?: number;
  readonly index?: number;
  readonly flags?: number;
  readonly change?: number;
}

export function encodeIfInfo(info: IfInfo = {}): Buffer {
  const out = Buffer.alloc(IFINFOMSG_LEN);
  out.writeUInt8(info.family ?? AF_UNSPEC, 0);
  out.writeUInt16LE(info.type ?? 0, 2);
  out.writeInt32LE(info.index ?? 0, 4);
  out.writeUInt32LE((info.flags ?? 0) >>> 0, 8);
  out.writeUInt32LE((info.change ?? 0) >>> 0, 12);
  return out;
}

/** Checks a name the way the kernel's dev_valid_name() does, so a bad name fails here with the field named. */
export function checkInterfaceName(field: string, name: string): void {
  const allowed = `1..${IFNAMSIZ - 1} bytes, not "." or "..", without "/", ":" or whitespace`;
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    Buffer.byteLength(name) > IFNAMSIZ - 1 ||
    name === '.' ||
    name === '..' ||
    /[/:\s]/u.test(name)
  ) {
    throw new InvalidValueError(field, name, allowed);
  }
}

export function checkCanMtu(field: string, mtu: number): void {
  const { classic, fd, xlMin, xlMax } = CAN_LINK_MTU;
  if (!Number.isInteger(mtu) || (mtu !== classic && mtu !== fd && (mtu < xlMin || mtu > xlMax))) {
    throw new InvalidValueError(field, mtu, `${classic} (classic CAN), ${fd} (CAN FD) or ${xlMin}..${xlMax} (CAN XL)`);
  }
}

function checkIndex(field: string, index: number): void {
  if (!Number.isInteger(index) || index < 1 || index > 0x7fffffff) throw new InvalidValueError(field, index, 'a positive interface index');
}

function checkFd(field: string, fd: number): void {
  if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff)
    throw new InvalidValueError(field, fd, 'an open file descriptor (a non-negative integer)');
}

const NEW_LINK_FLAGS = NlmF.REQUEST | NlmF.ACK | NlmF.CREATE | NlmF.EXCL;
const CHANGE_FLAGS = NlmF.REQUEST | NlmF.ACK;

export interface VcanOptions {
  readonly name: string;
  readonly mtu?: number;
  readonly up?: boolean;
  /** Create the vcan directly in the network namespace open at this file descriptor. */
  readonly netnsFd?: number;
}

// Attribute order in the requests below follows iproute2 (`ip link add NAME mtu M netns N type KIND ...`): the
// options, then the name, then IFLA_LINKINFO with an unterminated kind, so that they match it byte for byte.
export function createVcanRequest(options: VcanOptions): NetlinkRequest {
  const attributes = endAttributes('', options);
  attributes.push(nestedAttribute(Ifla.LINKINFO, [bareStringAttribute(IflaInfo.KIND, 'vcan')]));
  const up = options.up === true ? Iff.UP : 0;
  return {
    type: NlMsgType.RTM_NEWLINK,
    flags: NEW_LINK_FLAGS,
    payload: Buffer.concat([encodeIfInfo({ flags: up, change: up }), ...attributes]),
  };
}

export interface VxcanEndOptions {
  readonly name: string;
  readonly mtu?: number;
  /** Create this end directly in the network namespace open at this file descriptor. */
  readonly netnsFd?: number;
}

export interface VxcanPairOptions extends VxcanEndOptions {
  readonly peer: VxcanEndOptions;
}

function endAttributes(field: string, end: VxcanEndOptions): Buffer[] {
  checkInterfaceName(`${field}name`, end.name);
  const attributes: Buffer[] = [];
  if (end.mtu !== undefined) {
    checkCanMtu(`${field}mtu`, end.mtu);
    attributes.push(u32Attribute(Ifla.MTU, end.mtu));
  }
  if (end.netnsFd !== undefined) {
    checkFd(`${field}netnsFd`, end.netnsFd);
    attributes.push(u32Attribute(Ifla.NET_NS_FD, end.netnsFd));
  }
  attributes.push(stringAttribute(Ifla.IFNAME, end.name));
  return attributes;
}

/**
 * Creates a vxcan pair in one request. The peer's description is a whole ifinfomsg plus attributes nested in
 * VXCAN_INFO_PEER; the kernel registers the peer first, in the namespace its IFLA_NET_NS_FD names.
 */
export function createVxcanPairRequest(options: VxcanPairOptions): NetlinkRequest {
  const main = endAttributes('', options);
  const peer = endAttributes('peer.', options.peer);
  if (options.name === options.peer.name && options.netnsFd === options.peer.netnsFd) {
    throw new InvalidValueError('peer.name', options.peer.name, 'a name different from the main end when both ends share a namespace');
  }
  const peerInfo = nestedAttribute(VXCAN_INFO_PEER, [encodeIfInfo(), ...peer]);
  const linkInfo = nestedAttribute(Ifla.LINKINFO, [
    bareStringAttribute(IflaInfo.KIND, 'vxcan'),
    nestedAttribute(IflaInfo.DATA, [peerInfo]),
  ]);
  return { type: NlMsgType.RTM_NEWLINK, flags: NEW_LINK_FLAGS, payload: Buffer.concat([encodeIfInfo(), ...main, linkInfo]) };
}

export function setLinkUpRequest(index: number, up: boolean): NetlinkRequest {
  checkIndex('index', index);
  return { type: NlMsgType.RTM_NEWLINK, flags: CHANGE_FLAGS, payload: encodeIfInfo({ index, flags: up ? Iff.UP : 0, change: Iff.UP }) };
}

/** Sets the MTU; vcan and vxcan refuse (EBUSY) while the link is up. */
export function setMtuRequest(index: number, mtu: number): NetlinkRequest {
  checkIndex('index', index);
  checkCanMtu('mtu', mtu);
  return {
    type: NlMsgType.RTM_NEWLINK,
    flags: CHANGE_FLAGS,
    payload: Buffer.concat([encodeIfInfo({ index }), u32Attribute(Ifla.MTU, mtu)]),
  };
}

/** Moves a link into the namespace open at `netnsFd`, optionally renaming it on the way. The move takes it down. */
export function moveToNetnsRequest(index: number, netnsFd: number, newName?: string): NetlinkRequest {
  checkIndex('index', index);
  checkFd('netnsFd', netnsFd);
  const attributes = [u32Attribute(Ifla.NET_NS_FD, netnsFd)];
  if (newName !== undefined) {
    checkInterfaceName('newName', newName);
    attributes.push(stringAttribute(Ifla.IFNAME, newName));
  }
  return { type: NlMsgType.RTM_NEWLINK, flags: CHANGE_FLAGS, payload: Buffer.concat([encodeIfInfo({ index }), ...attributes]) };
}

export type LinkSelector = { readonly index: number } | { readonly name: string };

function selectorPayload(selector: LinkSelector): Buffer {
  if ('index' in selector) {
    checkIndex('index', selector.index);
    return encodeIfInfo({ index: selector.index });
  }
  checkInterfaceName('name', selector.name);
  return Buffer.concat([encodeIfInfo(), stringAttribute(Ifla.IFNAME, selector.name)]);
}

/** Deletes a link; deleting either end of a vxcan pair deletes both. */
export function deleteLinkRequest(selector: LinkSelector): NetlinkRequest {
  return { type: NlMsgType.RTM_DELLINK, flags: CHANGE_FLAGS, payload: selectorPayload(selector) };
}

export function getLinkRequest(selector: LinkSelector): NetlinkRequest {
  return { type: NlMsgType.RTM_GETLINK, flags: CHANGE_FLAGS, payload: selectorPayload(selector) };
}

export function dumpLinksRequest(): NetlinkRequest {
  return { type: NlMsgType.RTM_GETLINK, flags: NlmF.REQUEST | NlmF.DUMP, payload: encodeIfInfo() };
}

export interface Link {
  readonly index: number;
  readonly name: string;
  /** ARPHRD_* hardware type; 280 for CAN. */
  readonly type: number;
  readonly flags: number;
  readonly up: boolean;
  readonly mtu: number | undefined;
  /** IFLA_INFO_KIND: "vcan", "vxcan", "can", ... ; undefined for links without one (loopback, physical). */
  readonly kind: string | undefined;
  /** IFLA_LINK: for a vxcan end, the peer's index (in the peer's namespace). */
  readonly peerIndex: number | undefined;
  /** IFLA_LINK_NETNSID: the peer's namespace id, as seen from this namespace, when it lives elsewhere. */
  readonly peerNetnsId: number | undefined;
  readonly operState: OperState | undefined;
}

/** Decodes one RTM_NEWLINK message (a dump entry or a GETLINK answer). Unknown attributes are skipped. */
export function decodeLink(message: NetlinkMessage): Link {
  const what = 'rtnetlink link message';
  if (message.type !== NlMsgType.RTM_NEWLINK)
    throw new MalformedMessageError(what, `message type ${message.type}, expected RTM_NEWLINK (${NlMsgType.RTM_NEWLINK})`);
  const { payload } = message;
  if (payload.length < IFINFOMSG_LEN)
    throw new MalformedMessageError(what, `payload of ${payload.length} bytes is shorter than the ${IFINFOMSG_LEN}-byte ifinfomsg`);
  const index = payload.readInt32LE(4);
  const flags = payload.readUInt32LE(8);
  const reader = new AttributeReader(what);
  let name: string | undefined;
  let mtu: number | undefined;
  let kind: string | undefined;
  let peerIndex: number | undefined;
  let peerNetnsId: number | undefined;
  let operState: OperState | undefined;
  for (const attr of parseAttributes(payload.subarray(IFINFOMSG_LEN), what)) {
    switch (attr.type) {
      case Ifla.IFNAME:
        name = reader.string(attr);
        break;
      case Ifla.MTU:
        mtu = reader.u32(attr, 'IFLA_MTU');
        break;
      case Ifla.LINK:
        peerIndex = reader.u32(attr, 'IFLA_LINK');
        break;
      case Ifla.LINK_NETNSID:
        peerNetnsId = reader.s32(attr, 'IFLA_LINK_NETNSID');
        break;
      case Ifla.OPERSTATE:
        operState = OPERSTATES[reader.u8(attr, 'IFLA_OPERSTATE')] ?? 'unknown';
        break;
      case Ifla.LINKINFO: {
        const info = reader.nested(attr, 'IFLA_LINKINFO').find((inner) => inner.type === IflaInfo.KIND);
        if (info) kind = reader.string(info);
        break;
      }
      default:
        break;
    }
  }
  if (name === undefined) throw new MalformedMessageError(what, `link ${index} has no IFLA_IFNAME`);
  return { index, name, type: payload.readUInt16LE(2), flags, up: (flags & Iff.UP) !== 0, mtu, kind, peerIndex, peerNetnsId, operState };
}
