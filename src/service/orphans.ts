// Members that can never carry frames again, found from where the kernel has their pairs: dropped before any change
// to their bus, by the start-up pass and by the daemon's sweep.
import type { Logger } from '../log.js';
import { withoutMembers, type Bus, type Member } from '../bus/model.js';
import type { Reconciler } from '../reconcile/reconciler.js';

export interface OrphanContext {
  readonly reconciler: Reconciler;
  readonly log: Logger;
  readonly now: () => Date;
  /** How long a handed-over end may wait to be taken over before it counts as an orphan. */
  readonly graceMs: number;
}

/**
 * `bus` without its orphans: handed-over members whose pair is gone (their container's namespace died and took the
 * pair along: a stopped container whose membership was never ended, a reboot), which cannot be rewired since the
 * engine gives a restarted container a new member; and members made in a namespace file that is gone, for the
 * same reason. With `unmoved`, also handed-over members whose end is still where it was made longer than the grace
 * period after joining: orphans of a request cut short (a crash, an engine that gave up). The same bus if none.
 */
export function withoutOrphans(bus: Bus, context: OrphanContext, options: { unmoved?: boolean } = {}): Bus {
  if (!bus.members.some((member) => member.end.handover === true || member.end.netns !== undefined)) return bus;
  const presence = new Map(context.reconciler.presence(bus, { ends: options.unmoved === true }).map((p) => [p.memberId, p]));
  const overdue = (member: Member): boolean =>
    member.since === undefined || context.now().getTime() - Date.parse(member.since) > context.graceMs;
  const dropped = bus.members.filter((member) => {
    const where = presence.get(member.id);
    if (where?.namespaceGone === true) return true;
    return member.end.handover === true && (where?.hostEnd !== true || (options.unmoved === true && where.endInPlace && overdue(member)));
  });
  if (dropped.length === 0) return bus;
  for (const member of dropped) {
    const where = presence.get(member.id);
    const why =
      where?.namespaceGone === true
        ? `its namespace ${member.end.netns ?? ''} is gone`
        : where?.hostEnd === true
          ? 'its end was never taken over'
          : 'its interface is gone with its container';
    context.log.warn(`member dropped: ${why}`, { bus: bus.name, member: member.id });
  }
  return withoutMembers(
    bus,
    dropped.map((member) => member.id),
  );
}
