// Link and can-gw operations in one network namespace, over one netlink socket opened there. Every failure names
// the operation, its arguments and the namespace.
import { closeSync } from 'node:fs';
import {
  addRuleRequest,
  decodeRule,
  deleteRuleRequest,
  dumpRulesRequest,
  flushRulesRequest,
  type CanGwRule,
  type CanGwRuleEntry,
} from '../netlink/cangw.js';
import { NlMsgType } from '../netlink/constants.js';
import {
  createVcanRequest,
  createVxcanPairRequest,
  decodeLink,
  deleteLinkRequest,
  dumpLinksRequest,
  getLinkRequest,
  moveToNetnsRequest,
  setLinkUpRequest,
  setMtuRequest,
  type Link,
  type VcanOptions,
} from '../netlink/link.js';
import type { NetlinkRequest } from '../netlink/message.js';
import type { Reply } from '../netlink/reply.js';
import { Errno } from '../netlink/errno.js';
import { KernelError } from './errors.js';
import { NetlinkSocket } from './netlink-socket.js';
import { openNetnsFile, withNetnsFile } from './netns.js';
import {
  addRuleHint,
  CURRENT_NETNS,
  describeOperation,
  KERNEL_HINTS,
  type NetnsTarget,
  type RoutePort,
  type VcanSpec,
  type VxcanPair,
} from './port.js';

const DUMP_ATTEMPTS = 3;
/**
 * A batch of rules per netlink send: at most this many, and at most this many bytes (a plain rule is about 64 bytes,
 * one with FD edits about 700), well inside the socket's buffers both ways.
 */
const RULES_PER_SEND = 256;
const BYTES_PER_SEND = 32 * 1024;

/** A netlink message's size on the wire: its header and its payload, 4-byte aligned. */
function requestBytes(request: NetlinkRequest): number {
  return 16 + ((request.payload.length + 3) & ~3);
}

/** Consecutive ranges of the requests of these sizes, each within RULES_PER_SEND and BYTES_PER_SEND (at least one each). */
export function batchesOf(sizes: readonly number[]): Array<{ start: number; end: number }> {
  const batches: Array<{ start: number; end: number }> = [];
  let start = 0;
  let bytes = 0;
  sizes.forEach((size, i) => {
    if (i > start && (i - start >= RULES_PER_SEND || bytes + size > BYTES_PER_SEND)) {
      batches.push({ start, end: i });
      start = i;
      bytes = 0;
    }
    bytes += size;
  });
  if (start < sizes.length) batches.push({ start, end: sizes.length });
  return batches;
}

/** The kernel's answer when the object of an operation does not exist (any more). */
function isGone(error: unknown, ...errnos: number[]): boolean {
  return error instanceof KernelError && errnos.includes(error.errno);
}

export class RouteHandle implements RoutePort {
  readonly netns: NetnsTarget;
  readonly #socket: NetlinkSocket;

  private constructor(netns: NetnsTarget, socket: NetlinkSocket) {
    this.netns = netns;
    this.#socket = socket;
  }

  static open(netns: NetnsTarget = CURRENT_NETNS): RouteHandle {
    return withNetnsFile(netns.path, (fd) => new RouteHandle(netns, NetlinkSocket.open(fd, netns.label)));
  }

  #where(): string {
    return describeOperation.where(this.netns);
  }

  #do(request: NetlinkRequest, operation: string, hint?: string): Reply {
    return this.#socket.request(request, `${operation} ${this.#where()}`, hint);
  }

  #dump(request: NetlinkRequest, operation: string, hint?: string): Reply {
    // A dump the kernel flags as interrupted saw the set change while it was read: read it again.
    let reply = this.#do(request, operation, hint);
    for (let attempt = 1; reply.interrupted && attempt < DUMP_ATTEMPTS; attempt++) reply = this.#do(request, operation, hint);
    return reply;
  }

  listLinks(): Link[] {
    return this.#dump(dumpLinksRequest(), 'listing links')
      .messages.filter((message) => message.type === NlMsgType.RTM_NEWLINK)
      .map(decodeLink);
  }

  /** The link of that name, or undefined when there is none. */
  findLink(name: string): Link | undefined {
    try {
      const reply = this.#do(getLinkRequest({ name }), `looking up link ${name}`);
      const message = reply.messages.find((candidate) => candidate.type === NlMsgType.RTM_NEWLINK);
      return message === undefined ? undefined : decodeLink(message);
    } catch (error) {
      if (isGone(error, Errno.ENODEV, Errno.ENOENT)) return undefined;
      throw error;
    }
  }

  #index(name: string, operation: string): number {
    const link = this.findLink(name);
    if (!link) throw KernelError.fromErrno(`${operation} ${this.#where()}`, Errno.ENODEV);
    return link.index;
  }

  /** Also takes `netnsFd`, to create the vcan straight in another namespace (not part of the port). */
  createVcan(options: VcanSpec & Pick<VcanOptions, 'netnsFd'>): void {
    this.#do(createVcanRequest(options), describeOperation.createVcan(options.name), KERNEL_HINTS.vcan);
  }

  /** Creates a vxcan pair here, with the peer placed straight into `peer.netns` (here when absent). */
  createVxcanPair(pair: VxcanPair): void {
    const operation = describeOperation.createVxcanPair(pair);
    // A peer target without a path is the caller's own namespace, which is not this socket's: name it by fd too.
    const peerPath = pair.peer.netns === undefined ? undefined : (pair.peer.netns.path ?? '/proc/self/ns/net');
    withNetnsFile(peerPath, (peerFd) => {
      const peer = {
        name: pair.peer.name,
        ...(pair.peer.mtu === undefined ? {} : { mtu: pair.peer.mtu }),
        ...(peerFd === undefined ? {} : { netnsFd: peerFd }),
      };
      const request = createVxcanPairRequest({ name: pair.name, ...(pair.mtu === undefined ? {} : { mtu: pair.mtu }), peer });
      this.#do(request, operation, KERNEL_HINTS.vxcan);
    });
  }

  setLinkUp(name: string, up: boolean): void {
    const operation = describeOperation.setLinkUp(name, up);
    this.#do(setLinkUpRequest(this.#index(name, operation), up), operation);
  }

  /** Sets the MTU (16 classic, 72 FD); the kernel refuses with EBUSY while the link is up. */
  setMtu(name: string, mtu: number): void {
    const operation = describeOperation.setMtu(name, mtu);
    this.#do(setMtuRequest(this.#index(name, operation), mtu), operation, 'take the link down first');
  }

  moveLink(name: string, target: NetnsTarget, newName?: string): void {
    const operation = describeOperation.moveLink(name, target, newName);
    const index = this.#index(name, operation);
    const fd = openNetnsFile(target.path ?? '/proc/self/ns/net');
    try {
      this.#do(moveToNetnsRequest(index, fd, newName), operation);
    } finally {
      closeSync(fd);
    }
  }

  /** Deletes a link (both ends, for vxcan). Returns false when it was already gone. */
  deleteLink(name: string): boolean {
    try {
      this.#do(deleteLinkRequest({ name }), `deleting link ${name}`);
      return true;
    } catch (error) {
      if (isGone(error, Errno.ENODEV, Errno.ENOENT)) return false;
      throw error;
    }
  }

  listRules(): CanGwRuleEntry[] {
    return this.#dump(dumpRulesRequest(), 'listing can-gw rules', KERNEL_HINTS.rule)
      .messages.filter((message) => message.type === NlMsgType.RTM_NEWROUTE)
      .map(decodeRule);
  }

  addRule(rule: CanGwRule): void {
    // The kernel refuses a hop limit above the can_gw module's max_hops with a bare EINVAL.
    this.#do(addRuleRequest(rule), describeOperation.addRule(rule), addRuleHint(rule));
  }

  /** Adds rules many to a netlink send (the kernel handles them in order); returns each one's failure or undefined. */
  addRules(rules: readonly CanGwRule[]): Array<KernelError | undefined> {
    const results: Array<KernelError | undefined> = [];
    const all = rules.map((rule) => addRuleRequest(rule));
    for (const { start, end } of batchesOf(all.map(requestBytes))) {
      const chunk = rules.slice(start, end);
      const requests = all.slice(start, end);
      results.push(
        ...this.#socket.requestBatch(
          requests,
          (i) => `${describeOperation.addRule(chunk[i] as CanGwRule)} ${this.#where()}`,
          (i) => addRuleHint(chunk[i] as CanGwRule),
        ),
      );
    }
    return results;
  }

  /** Deletes the rule with this exact description. Returns false when there was none. */
  deleteRule(rule: CanGwRule): boolean {
    try {
      this.#do(deleteRuleRequest(rule), describeOperation.deleteRule(rule));
      return true;
    } catch (error) {
      // The kernel answers EINVAL when no rule matches the description.
      if (isGone(error, Errno.EINVAL, Errno.ENODEV)) return false;
      throw error;
    }
  }

  flushRules(): void {
    this.#do(flushRulesRequest(), 'flushing can-gw rules', KERNEL_HINTS.rule);
  }

  close(): void {
    this.#socket.close();
  }
}
