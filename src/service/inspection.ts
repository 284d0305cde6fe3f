// What the kernel holds for the buses, against what they should have: observing a bus's rules and counters,
// checking its drift, the problems of one member, and repairing what drifted (one bus now, or all now and then).
import { UnknownBusError, errorMessage } from '../errors.js';
import type { NetnsTarget } from '../kernel/port.js';
import { busNamespace, hostEndName, MONITOR } from '../bus/plan.js';
import type { Bus } from '../bus/model.js';
import type { Change, ObservedRule } from '../reconcile/reconciler.js';
import type { BusCore } from './core.js';

export interface BusObservation {
  readonly bus: Bus;
  readonly namespacePath: string;
  readonly rules: readonly ObservedRule[];
  /** Frames carried by the bus since its rules were made (each reaches the monitor once). */
  readonly frames: number;
  /** Frames the kernel could not forward (a destination down, no memory), summed over the bus's rules. */
  readonly dropped: number;
  /** Frames the kernel discarded (hop limit, length checks), summed over the bus's rules. */
  readonly deleted: number;
  /** Deliveries: frames forwarded by the bus's rules, one per frame and destination. */
  readonly forwarded: number;
}

function known(core: BusCore, id: string): Bus {
  const bus = core.buses.get(id);
  if (bus === undefined) throw new UnknownBusError(id);
  return bus;
}

/** What differs between a bus's plan and the kernel, without changing anything. */
export function check(core: BusCore, id: string): Change[] {
  const bus = known(core, id);
  return core.reconciler.check(bus, core.attachmentsOf(bus));
}

/**
 * What the kernel holds for a bus now: its rules with their counters and the path of its namespace (for tools
 * that read its monitor). Its drift from the plan is `check`.
 */
export function observe(core: BusCore, id: string): BusObservation {
  const bus = known(core, id);
  const rules = core.reconciler.observe(id)?.rules ?? [];
  return {
    bus,
    namespacePath: core.kernel.namespaces.path(busNamespace(id)),
    rules,
    // Every frame on the bus reaches the monitor once: the rules into it count the bus's frames.
    frames: rules.filter((rule) => rule.destination === MONITOR).reduce((sum, rule) => sum + rule.counters.handled, 0),
    dropped: rules.reduce((sum, rule) => sum + rule.counters.dropped, 0),
    deleted: rules.reduce((sum, rule) => sum + rule.counters.deleted, 0),
    forwarded: rules.reduce((sum, rule) => sum + rule.counters.handled, 0),
  };
}

/** The interface name of a member's end in a namespace elsewhere (a container's), if its pair is there. */
export function memberInterface(core: BusCore, busId: string, memberId: string, netns: NetnsTarget): string | undefined {
  try {
    return core.reconciler.memberEndIn(busId, hostEndName(memberId), netns);
  } catch {
    return undefined; // the namespace is gone, or not readable: nothing to name
  }
}

/**
 * What is wrong with a member now, in words: its bus or itself unknown, its end not where it was made, or its
 * bus drifted from the plan. Empty when all holds. Changes nothing.
 */
export function memberProblems(core: BusCore, busName: string, memberId: string): string[] {
  const bus = core.namedOnce(busName);
  if (bus === undefined) return [`no bus named ${busName}`];
  const member = bus.members.find((m) => m.id === memberId);
  if (member === undefined) return [`bus ${busName} has no member ${memberId}`];
  const problems: string[] = [];
  const where = core.reconciler.presence({ ...bus, members: [member] }, { ends: true })[0];
  if (where?.namespaceGone === true) problems.push(`the namespace ${member.end.netns ?? ''} is gone`);
  else if (where?.hostEnd !== true) problems.push(`the bus end of ${member.end.name} is missing`);
  else if (!where.endInPlace && member.end.handover !== true)
    problems.push(`${member.end.name} is not in ${member.end.netns ?? "the daemon's namespace"}, or not paired with its bus end`);
  for (const change of check(core, bus.id))
    problems.push(
      `bus ${bus.name} needs: ${change.action} ${change.object} ${change.name}${change.detail === undefined ? '' : ` (${change.detail})`}`,
    );
  return problems;
}

/** Makes the kernel match a bus's plan again now (what a restart would do); returns the changes made. */
export function repair(core: BusCore, id: string): Promise<Change[]> {
  return core.onBus(id, () => core.rewire(known(core, id).id, { drift: true }));
}

/**
 * Reads every bus back from the kernel in full and puts back what drifted (a rule deleted by hand, can_gw
 * reloaded): joins and leaves trust the rules they made, so the daemon runs this now and then. Returns the
 * buses repaired with their changes.
 */
export async function verify(core: BusCore): Promise<Array<{ bus: string; changes: Change[] }>> {
  const repaired: Array<{ bus: string; changes: Change[] }> = [];
  for (const id of [...core.buses.keys()]) {
    // One bus that cannot be wired never stops the repair of the others: it is logged and tried again next time.
    try {
      const changes = await core.onBus(id, () => (core.buses.has(id) ? core.rewire(id, { drift: true }) : []));
      if (changes.length > 0) repaired.push({ bus: core.busName(id) ?? id, changes });
    } catch (error) {
      core.log.warn('verifying a bus failed; tried again at the next verify', { bus: core.busName(id) ?? id, err: errorMessage(error) });
    }
  }
  return repaired;
}
