// A CAN bus and its members as plain data: the desired state that the front doors (container engines, the CLI)
// edit and the reconciler makes true in the kernel. Nothing here touches the kernel or knows which front door asked.
import { BusConflictError, InvalidValueError } from '../errors.js';
import { checkInterfaceName } from '../netlink/link.js';
import { parseIdFilter, selectionFilters, type IdFilter, type IdSelection } from '../can/idset.js';
import { checkUplink, type Uplink } from './uplink.js';
import { checkTunnel, listenKey, type Tunnel } from './tunnel.js';
import { checkSpan, SPAN_TUNNEL, type Span } from './span.js';
import { checkTiming, type BusTiming } from './timing.js';
import { checkFault, type Fault } from './fault.js';

export interface Bus {
  /** Stable identity chosen by the front door that created the bus; kernel object names derive from it. */
  readonly id: string;
  /** The name users know the bus by. */
  readonly name: string;
  /** CAN FD: links with MTU 72 and FD rules beside the classic ones; otherwise MTU 16, classic frames only. */
  readonly fd: boolean;
  /** A timed bus (bus/timing.ts): frames cross no faster than on a real bus of this bit rate, lowest id first. */
  readonly timing?: BusTiming;
  /** Faults on demand (bus/fault.ts), in force until they end or are removed. */
  readonly faults?: readonly Fault[];
  readonly members: readonly Member[];
  /** CAN interfaces of the daemon's namespace joined to the bus. */
  readonly uplinks?: readonly Uplink[];
  /** CAN over IP to other hosts: each a member of the bus whose frames the daemon carries. */
  readonly tunnels?: readonly Tunnel[];
  /**
   * One bus with the buses of the same id on other nodes: its tunnel named `span` (bus/span.ts) is kept to the
   * hub by the daemon, from what the nodes are.
   */
  readonly span?: Span;
  /**
   * Made by its first member's arrival rather than by a request of its own, and gone when nothing is left on it
   * (no member, uplink or tunnel): front doors with no step that creates or removes a network attach members by
   * bus name alone.
   */
  readonly transient?: boolean;
  /** Opaque strings a front door keeps with the bus (its own options); the core never reads them. */
  readonly annotations?: Readonly<Record<string, string>>;
}

/** Whether a transient bus has nothing left on it and goes. */
export function unused(bus: Bus): boolean {
  // A span's own tunnel keeps nothing: the bus went with its last member on this node, the span's tunnel with it.
  const tunnels = (bus.tunnels ?? []).filter((tunnel) => bus.span === undefined || tunnel.name !== SPAN_TUNNEL);
  return bus.transient === true && bus.members.length === 0 && (bus.uplinks ?? []).length === 0 && tunnels.length === 0;
}

export interface Member {
  /** Unique within the bus. */
  readonly id: string;
  /** The member's own end of its vxcan pair: the interface the ECU, tool or container uses. */
  readonly end: MemberEnd;
  /** When the member joined (ISO 8601): a handed-over end not taken over long after that is an orphan. */
  readonly since?: string;
  /**
   * Ids the member may put on the bus, enforced by the kernel's rules (an "ECU firewall"): `ID[/MASK]` entries as
   * candump writes them, `!ID[/MASK]` for ids it may not. Everything when absent or empty.
   */
  readonly send?: readonly string[];
  /** Ids the member gets from the bus, in the same form. */
  readonly receive?: readonly string[];
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface MemberEnd {
  /** The interface's name when it is created. */
  readonly name: string;
  /**
   * The namespace file it is created in; absent for the daemon's own namespace. A member whose namespace file is
   * gone (its container ended, the host rebooted) is dropped: the pair died with the namespace.
   */
  readonly netns?: string;
  /**
   * The identity of the namespace `netns` named when the member joined (see KernelPort.identify). When the path
   * later names another namespace (a PID reused under /proc/PID/ns/net), the member is dropped, never wired into
   * a stranger's namespace.
   */
  readonly netnsId?: string;
  /** Bring it up when created, for ends nobody else (such as a container engine) brings up. */
  readonly up?: boolean;
  /**
   * The end is handed over once created: someone else (a container engine) moves it away, renames it and owns it.
   * It cannot be recreated where it went, so a member whose pair is gone (its container's namespace died, the host
   * rebooted) is dropped rather than rewired.
   */
  readonly handover?: boolean;
}

const ID_PATTERN = /^[\x21-\x7e]{1,256}$/u;
const ID_ALLOWED = '1..256 printable ASCII characters without spaces';

export function checkBus(bus: Bus): void {
  if (typeof bus.id !== 'string' || !ID_PATTERN.test(bus.id)) throw new InvalidValueError('bus.id', bus.id, ID_ALLOWED);
  if (typeof bus.name !== 'string' || bus.name.length === 0 || bus.name.length > 256)
    throw new InvalidValueError('bus.name', bus.name, '1..256 characters');
  if (typeof bus.fd !== 'boolean') throw new InvalidValueError('bus.fd', bus.fd, 'true or false');
  if (bus.timing !== undefined) checkTiming(bus.timing, bus.fd, (key) => `bus.${key}`);
  if (bus.transient !== undefined && typeof bus.transient !== 'boolean')
    throw new InvalidValueError('bus.transient', bus.transient, 'true or false');
  const ids = new Set<string>();
  const ends = new Set<string>();
  for (const member of bus.members) {
    if (typeof member.id !== 'string' || !ID_PATTERN.test(member.id)) throw new InvalidValueError('member id', member.id, ID_ALLOWED);
    if (ids.has(member.id)) throw new InvalidValueError('member id', member.id, 'an id no other member of the bus has');
    ids.add(member.id);
    // Named by the member's id, which its front door gave it, never by its place in a list.
    const field = `member ${member.id}`;
    checkInterfaceName(`${field} interface`, member.end.name);
    const place = `${member.end.netns ?? ''}\0${member.end.name}`;
    if (ends.has(place))
      throw new InvalidValueError(`${field} interface`, member.end.name, 'a name no other member uses in the same namespace');
    ends.add(place);
    parseIdList(`${field} send`, member.send);
    parseIdList(`${field} receive`, member.receive);
  }
  const uplinks = new Set<string>();
  for (const uplink of bus.uplinks ?? []) {
    checkUplink(uplink);
    if (uplinks.has(uplink.interface))
      throw new InvalidValueError('uplink interface', uplink.interface, 'an interface not uplinked to the bus already');
    uplinks.add(uplink.interface);
  }
  const tunnels = new Set<string>();
  const listening = new Set<string>();
  for (const tunnel of bus.tunnels ?? []) {
    checkTunnel(tunnel);
    if (tunnels.has(tunnel.name)) throw new InvalidValueError('tunnel name', tunnel.name, 'a name no other tunnel of the bus has');
    tunnels.add(tunnel.name);
    const key = listenKey(tunnel);
    if (key !== undefined && listening.has(key))
      throw new InvalidValueError(
        `tunnel ${tunnel.name} listen`,
        tunnel.listen,
        'an address and port no other tunnel of the bus listens on',
      );
    if (key !== undefined) listening.add(key);
  }
  if (bus.span !== undefined) checkSpan(bus.span, (key) => `bus.span ${key}`);
  const faults = new Set<string>();
  for (const fault of bus.faults ?? []) {
    checkFault(fault, (key) => `fault ${fault.id} ${key}`);
    if (faults.has(fault.id)) throw new InvalidValueError('fault id', fault.id, 'an id no other fault of the bus has');
    faults.add(fault.id);
    if (fault.member !== undefined && !ids.has(fault.member))
      throw new InvalidValueError(`fault ${fault.id} member`, fault.member, 'a member of the bus');
  }
}

/** Parses a member's `send` or `receive` list into the ids it selects. */
export function parseIdList(field: string, list: readonly string[] | undefined): IdSelection {
  const accept = [];
  const reject = [];
  for (const entry of list ?? []) {
    if (typeof entry !== 'string') throw new InvalidValueError(field, entry, 'ID[/MASK] or !ID[/MASK] in hex');
    // candump's ID~MASK (every id but those) is !ID/MASK.
    if (entry.startsWith('!')) reject.push(parseIdFilter(field, entry.slice(1)));
    else if (entry.includes('~')) reject.push(parseIdFilter(field, entry.replace('~', '/')));
    else accept.push(parseIdFilter(field, entry));
  }
  return { accept, reject };
}

/**
 * The socket filters of a trace's id list (`dump --filter`): the ids of the ID/MASK entries (all when there are none)
 * minus those of the !ID/MASK entries; undefined for every frame. The kernel passes a frame that matches any filter
 * of a socket, so they are made disjoint.
 */
export function socketFilters(field: string, texts: readonly string[]): IdFilter[] | undefined {
  const filters = selectionFilters([parseIdList(field, texts)]);
  return filters.every((filter): filter is IdFilter => filter !== undefined) ? filters : undefined;
}

export function withMember(bus: Bus, member: Member): Bus {
  return { ...bus, members: [...bus.members.filter((m) => m.id !== member.id), member] };
}

/** `bus` without the member, and without the faults on it (they go with it). */
export function withoutMember(bus: Bus, memberId: string): Bus {
  return withoutMembers(bus, [memberId]);
}

/** `bus` without these members, and without the faults on them. */
export function withoutMembers(bus: Bus, memberIds: readonly string[]): Bus {
  const gone = new Set(memberIds);
  const faults = bus.faults?.filter((fault) => fault.member === undefined || !gone.has(fault.member));
  const { faults: _faults, ...rest } = bus;
  return {
    ...rest,
    members: bus.members.filter((m) => !gone.has(m.id)),
    ...(faults === undefined || faults.length === 0 ? {} : { faults }),
  };
}

/** `bus` with the members, uplinks and tunnels of `twin` added (those it has already stay as they are). */
export function absorb(bus: Bus, twin: Bus): Bus {
  const members = [...bus.members, ...twin.members.filter((member) => !bus.members.some((m) => m.id === member.id))];
  const uplinks = [
    ...(bus.uplinks ?? []),
    ...(twin.uplinks ?? []).filter((uplink) => !(bus.uplinks ?? []).some((u) => u.interface === uplink.interface)),
  ];
  const tunnels = [
    ...(bus.tunnels ?? []),
    ...(twin.tunnels ?? []).filter((tunnel) => !(bus.tunnels ?? []).some((t) => t.name === tunnel.name)),
  ];
  return { ...bus, members, ...(uplinks.length === 0 ? {} : { uplinks }), ...(tunnels.length === 0 ? {} : { tunnels }) };
}

/** The bus of that name, if exactly one has it. */
export function busNamed(buses: Iterable<Bus>, name: string): Bus | undefined {
  const found = [...buses].filter((bus) => bus.name === name);
  return found.length === 1 ? found[0] : undefined;
}

/** The bus of that name, or none; refused when several have it (a member attaching by name must know which). */
export function onlyBusNamed(buses: Iterable<Bus>, name: string): Bus | undefined {
  const found = [...buses].filter((bus) => bus.name === name);
  if (found.length > 1)
    throw new BusConflictError(
      `${found.length} buses are named ${name} (ids ${found.map((bus) => bus.id).join(', ')})`,
      'remove or rename all but one',
    );
  return found[0];
}
