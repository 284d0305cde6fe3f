// An in-memory kernel for unit tests of everything above the kernel layer. It enforces the kernel semantics the
// bus core relies on, and the contract suite (test/support/kernel-contract.ts) runs the same assertions against it
// and against the real kernel in the lab:
// - names are validated by the same codecs the real layer sends through (15 characters, allowed characters);
// - EEXIST for a taken name, ENODEV for a missing link, EBUSY for an MTU change while up;
// - a can-gw rule needs both ifindexes to be CAN links of its namespace; identical rules may coexist;
// - deleting a vxcan end deletes its peer, and every rule on either end, wherever they are;
// - deleting a namespace deletes its links (and the peers and rules that go with them).
// Faults can be injected per operation to test rollback.
import { join } from 'node:path';
import { addRuleRequest, deleteRuleRequest, ruleKey, type CanGwRule, type CanGwRuleEntry } from '../../src/netlink/cangw.js';
import { Errno } from '../../src/netlink/errno.js';
import {
  createVcanRequest,
  createVxcanPairRequest,
  deleteLinkRequest,
  getLinkRequest,
  setMtuRequest,
  type Link,
} from '../../src/netlink/link.js';
import { ARPHRD_CAN, Iff } from '../../src/netlink/constants.js';
import { checkNetnsName } from '../../src/kernel/netns.js';
import { FakeCanSocket } from './fake-socket.js';
import {
  addRuleHint,
  CURRENT_NETNS,
  describeOperation,
  KernelError,
  KERNEL_HINTS,
  type CanSocketOptions,
  type KernelPort,
  type NamespacePort,
  type NetnsIdentity,
  type NetnsTarget,
  type RoutePort,
  type VcanSpec,
  type VxcanPair,
} from '../../src/kernel/index.js';

const ARPHRD_LOOPBACK = 772;
/** What Debian's 6.1 kernel gives a vcan or vxcan created without an MTU. */
const DEFAULT_CAN_MTU = 72;

type LinkKind = 'vcan' | 'vxcan' | 'loopback';

export interface FakeLink {
  index: number;
  name: string;
  kind: LinkKind;
  mtu: number;
  up: boolean;
  peer: FakeLink | undefined;
  netns: FakeNetns;
}

export interface FakeRule {
  readonly rule: CanGwRule;
  readonly key: string;
  /** What the kernel counts per rule; the frame simulator counts into them as can-gw does. */
  readonly counters: { handled: number; dropped: number; deleted: number };
}

let namespacesMade = 0;

export class FakeNetns {
  /** Its identity, as an nsfs inode: a namespace made later at the same path has another. */
  readonly serial = ++namespacesMade;
  readonly links = new Map<string, FakeLink>();
  rules: FakeRule[] = [];
  #nextIndex = 1;
  alive = true;

  readonly target: NetnsTarget;

  constructor(target: NetnsTarget) {
    this.target = target;
    this.add('lo', 'loopback', 65536).up = true;
  }

  add(name: string, kind: LinkKind, mtu: number): FakeLink {
    const link: FakeLink = { index: this.#nextIndex++, name, kind, mtu, up: false, peer: undefined, netns: this };
    this.links.set(name, link);
    return link;
  }

  byIndex(index: number): FakeLink | undefined {
    for (const link of this.links.values()) if (link.index === index) return link;
    return undefined;
  }

  /** Unregisters a link: the kernel drops every can-gw rule that refers to it. */
  unregister(link: FakeLink): void {
    this.links.delete(link.name);
    this.rules = this.rules.filter(({ rule }) => rule.sourceIndex !== link.index && rule.destinationIndex !== link.index);
  }
}

export type FakeOperation =
  | 'createNamespace'
  | 'deleteNamespace'
  | 'createVcan'
  | 'createVxcanPair'
  | 'setLinkUp'
  | 'setMtu'
  | 'moveLink'
  | 'deleteLink'
  | 'addRule'
  /** A whole batch failing after the kernel took its rules (its acknowledgements lost, as with ENOBUFS). */
  | 'addRules'
  | 'deleteRule'
  | 'listLinks'
  | 'listRules';

interface Fault {
  readonly operation: FakeOperation;
  remaining: number;
  readonly errno: number;
}

export class FakeKernel implements KernelPort {
  readonly namespaces: FakeNamespaces;
  /** The can_gw module's max_hops. */
  maxHops = 1;
  readonly #host = new FakeNetns(CURRENT_NETNS);
  /** Namespaces by path: cantainer's own and foreign ones (containers). */
  readonly #byPath = new Map<string, FakeNetns>();
  readonly #faults: Fault[] = [];
  /** Every operation performed, in order, for tests that count kernel calls. */
  readonly calls: FakeOperation[] = [];

  constructor(netnsDir = '/run/cantainer/netns') {
    this.namespaces = new FakeNamespaces(this, netnsDir);
  }

  route(netns: NetnsTarget = CURRENT_NETNS): RoutePort {
    return new FakeRoute(this, netns, this.resolve(netns));
  }

  owned(name: string): NetnsTarget {
    return { label: name, path: this.namespaces.path(name) };
  }

  /** Raw CAN sockets open on the fake's links (see fake-socket.ts). */
  readonly sockets = new Set<FakeCanSocket>();

  canSocket(ifname: string, options: CanSocketOptions = {}): FakeCanSocket {
    const target = options.netns ?? CURRENT_NETNS;
    const link = this.resolve(target).links.get(ifname);
    if (link === undefined) throw KernelError.fromErrno(`opening a CAN socket on ${ifname} in netns ${target.label}`, Errno.ENODEV);
    const socket = new FakeCanSocket(this, link, options);
    this.sockets.add(socket);
    return socket;
  }

  /** A namespace that is not cantainer's, e.g. a container's, at `path`. */
  addForeignNamespace(path: string, label = path): NetnsTarget {
    const target = { label, path };
    this.#byPath.set(path, new FakeNetns(target));
    return target;
  }

  /** Destroys a foreign namespace, as when a container exits: its links go, with their vxcan peers. */
  destroyForeign(path: string): void {
    this.destroyPath(path);
  }

  /** Files that are no network namespace, by path, with what they are (see identify). */
  readonly #others = new Map<string, string>();

  /** Puts something that is no network namespace at `path` (a FIFO, a plain file), as a runtime's bug might. */
  plantFile(path: string, what: string): void {
    this.#others.set(path, what);
  }

  identify(path: string): NetnsIdentity {
    const other = this.#others.get(path);
    if (other !== undefined) return { kind: 'other', what: other };
    if (this.namespaces.strays.has(path)) return { kind: 'other', what: 'a plain file, not a namespace' };
    const space = this.#byPath.get(path);
    return space === undefined ? { kind: 'gone' } : { kind: 'netns', id: `fake:${space.serial}` };
  }

  /** Makes the `nth` next call of `operation` fail with `errno`, changing nothing. */
  failOn(operation: FakeOperation, nth = 1, errno: number = Errno.ENOBUFS): void {
    this.#faults.push({ operation, remaining: nth, errno });
  }

  /** Records a call and throws an injected fault for it, if one is due. */
  enter(operation: FakeOperation, description: () => string): void {
    this.calls.push(operation);
    const fault = this.#faults.find((candidate) => candidate.operation === operation);
    if (fault === undefined) return;
    fault.remaining -= 1;
    if (fault.remaining > 0) return;
    this.#faults.splice(this.#faults.indexOf(fault), 1);
    throw KernelError.fromErrno(description(), fault.errno);
  }

  /** The links of a foreign namespace but its loopback, by path ([] when it is gone). */
  linksIn(path: string): FakeLink[] {
    return [...(this.#byPath.get(path)?.links.values() ?? [])].filter((link) => link.kind !== 'loopback');
  }

  /** The link of that name in a namespace (for the frame simulator). */
  linkAt(target: NetnsTarget, name: string): FakeLink | undefined {
    return this.resolve(target).links.get(name);
  }

  resolve(target: NetnsTarget): FakeNetns {
    if (target.path === undefined) return this.#host;
    const netns = this.#byPath.get(target.path);
    // The real layer opens the namespace file first: a missing file fails there, with ENOENT.
    if (netns === undefined) throw KernelError.fromErrno(`opening netns ${target.path}`, Errno.ENOENT);
    return netns;
  }

  paths(): string[] {
    return [...this.#byPath.keys()];
  }

  hasPath(path: string): boolean {
    return this.#byPath.has(path);
  }

  createPath(target: NetnsTarget): void {
    if (target.path !== undefined) this.#byPath.set(target.path, new FakeNetns(target));
  }

  /** Destroys a namespace: its virtual links go, taking their vxcan peers elsewhere and all their rules along. */
  destroyPath(path: string): void {
    const netns = this.#byPath.get(path);
    if (netns === undefined) return;
    this.#byPath.delete(path);
    netns.alive = false;
    for (const link of [...netns.links.values()]) deleteLinkAndPeer(link);
  }
}

function deleteLinkAndPeer(link: FakeLink): void {
  link.netns.unregister(link);
  if (link.peer) {
    link.peer.netns.unregister(link.peer);
    link.peer.peer = undefined;
    link.peer = undefined;
  }
}

class FakeNamespaces implements NamespacePort {
  readonly kernel: FakeKernel;
  readonly dir: string;

  constructor(kernel: FakeKernel, dir: string) {
    this.kernel = kernel;
    this.dir = dir;
  }

  path(name: string): string {
    checkNetnsName(name);
    return join(this.dir, name);
  }

  exists(name: string): boolean {
    return this.kernel.hasPath(this.path(name));
  }

  /** Files of the directory that are no namespace (see plantStray). */
  readonly strays = new Set<string>();

  /** Puts a file that is no namespace in the directory, as a crash or a hand might. */
  plantStray(name: string): void {
    this.strays.add(this.path(name));
  }

  list(): string[] {
    const prefix = `${this.dir}/`;
    return [...this.kernel.paths(), ...this.strays]
      .filter((path) => path.startsWith(prefix) && !path.slice(prefix.length).includes('/'))
      .map((path) => path.slice(prefix.length))
      .sort();
  }

  create(name: string): string {
    const path = this.path(name);
    const operation = describeOperation.createNetns(name);
    this.kernel.enter('createNamespace', () => operation);
    if (this.kernel.hasPath(path)) throw KernelError.fromErrno(operation, Errno.EEXIST);
    this.strays.delete(path);
    this.kernel.createPath({ label: name, path });
    return path;
  }

  delete(name: string): boolean {
    const path = this.path(name);
    this.kernel.enter('deleteNamespace', () => `deleting netns ${name}`);
    if (this.strays.delete(path)) return false;
    if (!this.kernel.hasPath(path)) return false;
    this.kernel.destroyPath(path);
    return true;
  }
}

class FakeRoute implements RoutePort {
  readonly kernel: FakeKernel;
  readonly netns: NetnsTarget;
  readonly space: FakeNetns;
  #closed = false;

  constructor(kernel: FakeKernel, netns: NetnsTarget, space: FakeNetns) {
    this.kernel = kernel;
    this.netns = netns;
    this.space = space;
  }

  #enter(operation: FakeOperation, description: string): string {
    if (this.#closed) throw new Error(`netlink socket for netns ${this.netns.label} is closed`);
    const full = `${description} ${describeOperation.where(this.netns)}`;
    this.kernel.enter(operation, () => full);
    return full;
  }

  #link(name: string, full: string): FakeLink {
    const link = this.space.links.get(name);
    if (link === undefined) throw KernelError.fromErrno(full, Errno.ENODEV);
    return link;
  }

  listLinks(): Link[] {
    this.#enter('listLinks', 'listing links');
    return [...this.space.links.values()].sort((a, b) => a.index - b.index).map(toLink);
  }

  findLink(name: string): Link | undefined {
    getLinkRequest({ name });
    const link = this.space.links.get(name);
    return link === undefined ? undefined : toLink(link);
  }

  createVcan(spec: VcanSpec): void {
    createVcanRequest(spec);
    const full = this.#enter('createVcan', describeOperation.createVcan(spec.name));
    if (this.space.links.has(spec.name)) throw KernelError.fromErrno(full, Errno.EEXIST, KERNEL_HINTS.vcan);
    this.space.add(spec.name, 'vcan', spec.mtu ?? DEFAULT_CAN_MTU).up = spec.up === true;
  }

  createVxcanPair(pair: VxcanPair): void {
    const full = `${describeOperation.createVxcanPair(pair)} ${describeOperation.where(this.netns)}`;
    const peerSpace = pair.peer.netns ? this.kernel.resolve(pair.peer.netns) : this.space;
    createVxcanPairRequest({
      name: pair.name,
      ...(pair.mtu === undefined ? {} : { mtu: pair.mtu }),
      peer: {
        name: pair.peer.name,
        ...(pair.peer.mtu === undefined ? {} : { mtu: pair.peer.mtu }),
        ...(peerSpace === this.space ? {} : { netnsFd: 3 }),
      },
    });
    this.#enter('createVxcanPair', describeOperation.createVxcanPair(pair));
    if (this.space.links.has(pair.name) || peerSpace.links.has(pair.peer.name))
      throw KernelError.fromErrno(full, Errno.EEXIST, KERNEL_HINTS.vxcan);
    const peer = peerSpace.add(pair.peer.name, 'vxcan', pair.peer.mtu ?? DEFAULT_CAN_MTU);
    const main = this.space.add(pair.name, 'vxcan', pair.mtu ?? DEFAULT_CAN_MTU);
    main.peer = peer;
    peer.peer = main;
  }

  setLinkUp(name: string, up: boolean): void {
    const full = this.#enter('setLinkUp', describeOperation.setLinkUp(name, up));
    this.#link(name, full).up = up;
  }

  setMtu(name: string, mtu: number): void {
    const full = this.#enter('setMtu', describeOperation.setMtu(name, mtu));
    const link = this.#link(name, full);
    setMtuRequest(link.index, mtu);
    if (link.up) throw KernelError.fromErrno(full, Errno.EBUSY, 'take the link down first');
    link.mtu = mtu;
  }

  moveLink(name: string, target: NetnsTarget, newName?: string): void {
    const full = this.#enter('moveLink', describeOperation.moveLink(name, target, newName));
    const link = this.#link(name, full);
    const destination = this.kernel.resolve(target);
    const finalName = newName ?? name;
    if (destination.links.has(finalName)) throw KernelError.fromErrno(full, Errno.EEXIST);
    this.space.unregister(link);
    const moved = destination.add(finalName, link.kind, link.mtu);
    moved.peer = link.peer;
    if (link.peer) link.peer.peer = moved;
  }

  deleteLink(name: string): boolean {
    deleteLinkRequest({ name });
    this.#enter('deleteLink', `deleting link ${name}`);
    const link = this.space.links.get(name);
    if (link === undefined) return false;
    deleteLinkAndPeer(link);
    return true;
  }

  listRules(): CanGwRuleEntry[] {
    this.#enter('listRules', 'listing can-gw rules');
    return this.space.rules.map(({ rule, counters }) => ({ rule, counters: { ...counters } }));
  }

  addRule(rule: CanGwRule): void {
    addRuleRequest(rule);
    const full = this.#enter('addRule', describeOperation.addRule(rule));
    const hint = addRuleHint(rule);
    if (rule.hopLimit !== undefined && rule.hopLimit > this.kernel.maxHops) throw KernelError.fromErrno(full, Errno.EINVAL, hint);
    for (const index of [rule.sourceIndex, rule.destinationIndex]) {
      const link = this.space.byIndex(index);
      if (link === undefined || link.kind === 'loopback') throw KernelError.fromErrno(full, Errno.ENODEV, hint);
    }
    this.space.rules.push({ rule: structuredClone(rule), key: ruleKey(rule), counters: { handled: 0, dropped: 0, deleted: 0 } });
  }

  addRules(rules: readonly CanGwRule[]): Array<KernelError | undefined> {
    // As the real layer: every rule is encoded (and checked) before any is sent; the kernel then goes on past failures.
    for (const rule of rules) addRuleRequest(rule);
    const results = rules.map((rule) => {
      try {
        this.addRule(rule);
        return undefined;
      } catch (error) {
        if (error instanceof KernelError) return error;
        throw error;
      }
    });
    // As the real layer, an empty batch sends nothing.
    if (rules.length > 0) this.#enter('addRules', `adding ${rules.length} can-gw rules in one batch`);
    return results;
  }

  deleteRule(rule: CanGwRule): boolean {
    deleteRuleRequest(rule);
    this.#enter('deleteRule', describeOperation.deleteRule(rule));
    const key = ruleKey(rule);
    const at = this.space.rules.findIndex((candidate) => candidate.key === key);
    if (at < 0) return false;
    this.space.rules.splice(at, 1);
    return true;
  }

  flushRules(): void {
    this.#enter('deleteRule', 'flushing can-gw rules');
    this.space.rules = [];
  }

  close(): void {
    this.#closed = true;
  }
}

function toLink(link: FakeLink): Link {
  const flags = link.up ? Iff.UP : 0;
  const samePlace = link.peer?.netns === link.netns;
  return {
    index: link.index,
    name: link.name,
    type: link.kind === 'loopback' ? ARPHRD_LOOPBACK : ARPHRD_CAN,
    flags,
    up: link.up,
    mtu: link.mtu,
    kind: link.kind === 'loopback' ? undefined : link.kind,
    peerIndex: link.peer?.index,
    peerNetnsId: link.peer === undefined || samePlace ? undefined : 0,
    operState: link.up && (link.kind !== 'vxcan' || link.peer?.up === true) ? 'up' : 'down',
  };
}
