// The kernel port: the operations everything above the kernel layer may use, over plain data. The real kernel
// (RouteHandle, NetnsStore) and the in-memory fake used by the unit tests both implement these interfaces, and
// one contract suite runs against both so that the fake cannot drift from the kernel.
import type { CanFrame } from '../can/frame.js';
import type { CanGwRule, CanGwRuleEntry } from '../netlink/cangw.js';
import type { Link } from '../netlink/link.js';
import type { KernelError } from './errors.js';

/** Where an operation happens: the caller's own namespace, or a namespace file with a label for messages. */
export interface NetnsTarget {
  readonly label: string;
  /** Path of a namespace file; undefined for the caller's own namespace. */
  readonly path: string | undefined;
}

export const CURRENT_NETNS: NetnsTarget = { label: 'host', path: undefined };

export interface VxcanEnd {
  readonly name: string;
  readonly mtu?: number;
}

export interface VxcanPair extends VxcanEnd {
  readonly peer: VxcanEnd & { readonly netns?: NetnsTarget };
}

export interface VcanSpec {
  readonly name: string;
  readonly mtu?: number;
  readonly up?: boolean;
}

/** Link and can-gw operations in one namespace. Close it when done. */
export interface RoutePort {
  readonly netns: NetnsTarget;
  listLinks(): Link[];
  /** The link of that name, or undefined when there is none. */
  findLink(name: string): Link | undefined;
  createVcan(spec: VcanSpec): void;
  /** Creates a vxcan pair here, with the peer placed straight into `peer.netns` (here when absent). */
  createVxcanPair(pair: VxcanPair): void;
  setLinkUp(name: string, up: boolean): void;
  /** The kernel refuses (EBUSY) while the link is up. */
  setMtu(name: string, mtu: number): void;
  moveLink(name: string, target: NetnsTarget, newName?: string): void;
  /** Deletes a link (both ends, for vxcan, and every rule on either). Returns false when it was already gone. */
  deleteLink(name: string): boolean;
  listRules(): CanGwRuleEntry[];
  /** Adds a can-gw rule. The kernel keeps identical rules side by side: it never answers EEXIST. */
  addRule(rule: CanGwRule): void;
  /**
   * Adds many rules at once (fewer round trips to the kernel), each as addRule would; a failure does not stop the
   * rest. Returns each rule's failure, or undefined where it was added.
   */
  addRules(rules: readonly CanGwRule[]): Array<KernelError | undefined>;
  /** Deletes the first rule with this exact description. Returns false when there was none. */
  deleteRule(rule: CanGwRule): boolean;
  flushRules(): void;
  close(): void;
}

/** Namespaces owned by cantainer, by name. */
export interface NamespacePort {
  readonly dir: string;
  path(name: string): string;
  exists(name: string): boolean;
  list(): string[];
  /** Creates a namespace (EEXIST if it exists) and returns its path. */
  create(name: string): string;
  /** Deletes a namespace with its virtual links and their rules. Returns false if it did not exist. */
  delete(name: string): boolean;
}

/** A raw CAN socket on one interface. */
export interface CanSocketPort {
  readonly ifname: string;
  readonly netns: NetnsTarget;
  send(frame: CanFrame): void;
  /**
   * Sends frames in order, as few system calls as it takes; returns how many the kernel took (fewer when the
   * socket's buffer filled: the rest were not sent). Throws the kernel's error when it took none.
   */
  sendBatch(frames: readonly CanFrame[]): number;
  /** The next received frame, or undefined if none arrives within `timeoutMs`. */
  receive(timeoutMs: number): Promise<CanFrame | undefined>;
  /** Frames received within `quietMs` of each other (and of the call). */
  receiveAll(quietMs: number): Promise<CanFrame[]>;
  /**
   * The next received frame with the time the kernel received it, in microseconds since the epoch (a socket opened
   * with `timestamps`; without, the time it was read), or undefined if none arrives within `timeoutMs`.
   */
  receiveStamped(timeoutMs: number): Promise<StampedFrame | undefined>;
  /**
   * Hands frames over as they arrive instead (receive then gets none): each call with what was waiting, in order,
   * and when each arrived, in microseconds since the epoch (the kernel's stamps on a socket opened with
   * `timestamps`; otherwise when it was read). An error of the socket (its interface went down or away) goes to
   * `onError`; the socket stays open.
   */
  listen(onFrames: (frames: CanFrame[], timesUs: readonly number[]) => void, onError: (error: Error) => void): void;
  close(): void;
}

/** How a raw CAN socket is opened. */
export interface CanSocketOptions {
  readonly netns?: NetnsTarget;
  /** Accept and send CAN FD frames (the interface needs MTU 72). */
  readonly fd?: boolean;
  /** Receive only matching frames; an empty list receives nothing. Default: everything. */
  readonly filters?: ReadonlyArray<{ readonly id: number; readonly mask: number }>;
  /** Also receive the frames this socket sent. */
  readonly receiveOwnMessages?: boolean;
  /** Local loopback of sent frames to other sockets on this host (default on, as on a real controller). */
  readonly loopback?: boolean;
  /**
   * Room for frames not read yet, in bytes (the kernel counts about 1 KiB per frame). The default (about 200 frames)
   * is lost in a burst by a reader that is also busy with other work.
   */
  readonly receiveBufferBytes?: number;
  /** Stamp each frame with the kernel's receive time (SO_TIMESTAMP), for receiveStamped. */
  readonly timestamps?: boolean;
}

export interface StampedFrame {
  readonly frame: CanFrame;
  /** Microseconds since the epoch. */
  readonly timeUs: number;
}

/** What the bus core needs from the kernel. */
/**
 * What a path names: a network namespace with an identity that stays while it lives (its nsfs device and inode),
 * nothing, or something else (a FIFO, a directory, a plain file, another kind of namespace), said in words.
 */
export type NetnsIdentity =
  { readonly kind: 'netns'; readonly id: string } | { readonly kind: 'gone' } | { readonly kind: 'other'; readonly what: string };

export interface KernelPort {
  readonly namespaces: NamespacePort;
  /** What `path` names, without entering it or blocking on it (a FIFO is never opened). */
  identify(path: string): NetnsIdentity;
  /** Link and can-gw operations in a namespace (default: the caller's own). */
  route(netns?: NetnsTarget): RoutePort;
  /** A target for one of cantainer's own namespaces. */
  owned(name: string): NetnsTarget;
  /** A raw CAN socket on an interface. Close it when done. */
  canSocket(ifname: string, options?: CanSocketOptions): CanSocketPort;
}

/** Operation descriptions shared by the real kernel and the fake, so both fail with the same messages. */
export const describeOperation = {
  createVcan: (name: string): string => `creating vcan ${name}`,
  createVxcanPair: (pair: VxcanPair): string =>
    `creating vxcan pair ${pair.name}/${pair.peer.name}${pair.peer.netns ? ` (peer in netns ${pair.peer.netns.label})` : ''}`,
  setLinkUp: (name: string, up: boolean): string => `setting link ${name} ${up ? 'up' : 'down'}`,
  setMtu: (name: string, mtu: number): string => `setting MTU ${mtu} on link ${name}`,
  moveLink: (name: string, target: NetnsTarget, newName?: string): string =>
    `moving link ${name} to netns ${target.label}${newName === undefined ? '' : ` as ${newName}`}`,
  createNetns: (name: string): string => `creating netns ${name}`,
  addRule: (rule: CanGwRule): string => `adding can-gw rule ${describeRule(rule)}`,
  deleteRule: (rule: CanGwRule): string => `deleting can-gw rule ${describeRule(rule)}`,
  where: (netns: NetnsTarget): string => `in netns ${netns.label}`,
} as const;

export const KERNEL_HINTS = {
  vcan: 'load the module: modprobe vcan',
  vxcan: 'load the module: modprobe vxcan',
  rule: 'load the module: modprobe can-gw',
} as const;

/** The kernel refuses a hop limit above the can_gw module's max_hops with a bare EINVAL: say so. */
export function addRuleHint(rule: CanGwRule): string {
  return rule.hopLimit !== undefined && rule.hopLimit > 1
    ? `a hop limit must not exceed can_gw max_hops (cantainer preflight shows it); ${KERNEL_HINTS.rule}`
    : KERNEL_HINTS.rule;
}

/** A short cangw-like description of a rule for messages and logs. */
export function describeRule(rule: CanGwRule): string {
  const parts = [`${rule.sourceIndex}->${rule.destinationIndex}`];
  if (rule.fd === true) parts.push('fd');
  if (rule.echo === true) parts.push('echo');
  if (rule.allowToIncomingInterface === true) parts.push('iif-tx-ok');
  if (rule.hopLimit !== undefined) parts.push(`hops ${rule.hopLimit}`);
  if (rule.filter) parts.push(`filter ${rule.filter.id.toString(16)}:${rule.filter.mask.toString(16)}`);
  if (rule.modifications) parts.push(`mods ${Object.keys(rule.modifications).join('+')}`);
  return parts.join(' ');
}
