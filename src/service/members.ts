// Members: a container's end (or one made in a namespace file) joined to a bus, and what goes when it leaves.
// Joins and leaves are the hot path: they trust the rules the last apply made (verify reads the rest back).
import { BusConflictError, NotANetworkNamespaceError, UnknownBusError } from '../errors.js';
import { checkBus, withMember, withoutMember, type Bus, type Member } from '../bus/model.js';
import type { Span } from '../bus/span.js';
import type { BusTiming } from '../bus/timing.js';
import type { BusCore } from './core.js';
import { retireIfUnused } from './topology.js';

/** Where a member attaches by bus name (front doors that have no step of their own to create a bus). */
export interface AttachTarget {
  readonly bus: string;
  /** The frames the member needs: a bus made now takes it, an existing bus must match; absent, the bus as it is (classic when made now). */
  readonly fd?: boolean;
  /** Make a transient bus when none has that name; otherwise an unknown name is refused. */
  readonly create?: boolean;
  /** The front door's notes, kept with a bus made now. */
  readonly annotations?: Readonly<Record<string, string>>;
  /** One bus with the buses of that name on other nodes: a bus made now takes it, an existing bus must span alike. */
  readonly span?: Span;
  /** A timed bus: a bus made now takes it, an existing bus must be timed alike. */
  readonly timing?: BusTiming;
}

/** Ids of transient buses: the name after this prefix (ids of other buses are the front door's own). */
export const TRANSIENT_ID_PREFIX = 'named:';

/**
 * The member with the identity of the namespace its end is made in (when it names one): that path must be a network
 * namespace now, and stays this member's only while it names the same one (see MemberEnd.netnsId).
 */
function identified(core: BusCore, member: Member): Member {
  const path = member.end.netns;
  if (path === undefined) return member;
  const found = core.kernel.identify(path);
  if (found.kind === 'gone') throw new NotANetworkNamespaceError(path, undefined);
  if (found.kind === 'other') throw new NotANetworkNamespaceError(path, found.what);
  return { ...member, end: { ...member.end, netnsId: found.id } };
}

/** Adds a member (or replaces the one with its id) and wires it. */
export function addMember(core: BusCore, busId: string, input: Member): Promise<Bus> {
  const member = identified(core, input);
  return core.onBus(busId, () => {
    const stored = core.buses.get(busId);
    if (stored === undefined) throw new UnknownBusError(busId);
    return join(core, stored, member);
  });
}

/** Adds or replaces a member of a stored bus (its key held); the same member again changes nothing. */
function join(core: BusCore, stored: Bus, member: Member): Bus {
  const bus = core.prune(stored);
  const current = bus.members.find((m) => m.id === member.id);
  const same =
    current !== undefined && JSON.stringify({ ...current, since: undefined }) === JSON.stringify({ ...member, since: undefined });
  const next = same ? bus : withMember(bus, { ...member, since: member.since ?? core.now().toISOString() });
  core.commit(bus, next, { trustRules: true });
  return next;
}

/**
 * Adds a member to the bus of that name (or replaces the one with its id), making the bus first when none has
 * that name and `target.create` is set: such a bus is transient, and goes when nothing is left on it.
 */
export async function attachMember(
  core: BusCore,
  target: AttachTarget,
  input: Member,
): Promise<{ readonly bus: Bus; readonly created: boolean }> {
  const member = identified(core, input);
  const found = core.namedOnce(target.bus);
  if (found !== undefined) {
    const attached = await core.onBus(found.id, () => {
      const stored = core.buses.get(found.id);
      return stored === undefined ? undefined : attachTo(core, stored, target, member);
    });
    if (attached !== undefined) return { bus: attached, created: false };
  }
  // No bus of that name (or it went meanwhile): made under the topology key, so that two first members make one.
  return core.topology([target.bus], () => {
    const stored = core.namedOnce(target.bus);
    if (stored !== undefined) return { bus: attachTo(core, stored, target, member), created: false };
    if (target.create !== true) throw new UnknownBusError(target.bus, 'name');
    const bus: Bus = {
      id: `${TRANSIENT_ID_PREFIX}${target.bus}`,
      name: target.bus,
      fd: target.fd ?? false,
      transient: true,
      members: [],
      ...(target.span === undefined ? {} : { span: target.span }),
      ...(target.timing === undefined ? {} : { timing: target.timing }),
      ...(target.annotations === undefined ? {} : { annotations: { ...target.annotations } }),
    };
    checkBus(bus);
    if (core.buses.has(bus.id))
      throw new BusConflictError(
        `a bus with id ${bus.id} exists already, named ${core.busName(bus.id) ?? ''}`,
        'give this bus another name',
      );
    const next = withMember(bus, { ...member, since: member.since ?? core.now().toISOString() });
    core.changeTopology(new Map(core.buses).set(next.id, next), core.gateways, [next.name]);
    return { bus: next, created: true };
  });
}

/** Adds the member to a bus found by name (its queue key held), checking the frames it asks for. */
function attachTo(core: BusCore, stored: Bus, target: AttachTarget, member: Member): Bus {
  if (target.fd !== undefined && target.fd !== stored.fd) {
    throw new BusConflictError(
      `bus ${stored.name} carries ${stored.fd ? 'CAN FD' : 'classic CAN'} frames, and this member asks for ${target.fd ? 'CAN FD' : 'classic CAN'}`,
      `leave fd out to take the bus as it is, or set it to ${String(stored.fd)}`,
    );
  }
  if (target.timing !== undefined && JSON.stringify(target.timing) !== JSON.stringify(stored.timing)) {
    throw new BusConflictError(
      `bus ${stored.name} is ${stored.timing === undefined ? 'untimed' : `timed ${JSON.stringify(stored.timing)}`}, and this member asks for ${JSON.stringify(target.timing)}`,
      'every configuration of a network must say the same bitrate and dbitrate (or leave them out to take the bus as it is)',
    );
  }
  if (target.span !== undefined && JSON.stringify(target.span) !== JSON.stringify(stored.span)) {
    throw new BusConflictError(
      `bus ${stored.name} ${stored.span === undefined ? 'spans no other node' : `spans ${JSON.stringify(stored.span)}`}, and this member asks for a span ${JSON.stringify(target.span)}`,
      "every node's configuration of a spanned network must say the same span, hub and nodes",
    );
  }
  return join(core, stored, member);
}

/**
 * Removes a member from the bus of that name; a transient bus left with nothing on it goes too. Unknown buses
 * and members are no error (false): leaving twice is leaving.
 */
export async function detachMember(
  core: BusCore,
  busName: string,
  memberId: string,
): Promise<{ readonly removed: boolean; readonly busRemoved: boolean }> {
  const found = core.namedOnce(busName);
  if (found === undefined) return { removed: false, busRemoved: false };
  const removed = await removeMember(core, found.id, memberId);
  return { removed, busRemoved: await retireIfUnused(core, found.id) };
}

/** Removes a member and its wiring; false if the bus or the member was unknown. */
export function removeMember(core: BusCore, busId: string, memberId: string): Promise<boolean> {
  return core.onBus(busId, () => {
    const stored = core.buses.get(busId);
    if (stored?.members.some((m) => m.id === memberId) !== true) return false;
    const bus = core.prune(stored);
    core.commit(bus, withoutMember(bus, memberId), { trustRules: true });
    return true;
  });
}

/** Drops orphaned members of every bus (see BusCore.prune); run now and then by the daemon. Returns how many. */
export async function sweepOrphans(core: BusCore): Promise<number> {
  let dropped = 0;
  for (const id of [...core.buses.keys()]) {
    dropped += await core.onBus(id, () => {
      const stored = core.buses.get(id);
      if (stored === undefined) return 0;
      const bus = core.prune(stored, { unmoved: true });
      if (bus === stored) return 0;
      core.commit(bus, bus);
      return stored.members.length - bus.members.length;
    });
    await retireIfUnused(core, id);
  }
  return dropped;
}
