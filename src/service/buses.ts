// The buses of this host: desired state in memory and on disk, and the reconciler that makes the kernel match.
// Every change is one transaction, serialised per bus: compute the new bus, wire it (the reconciler undoes its
// own steps on failure), persist it, and put the kernel back if persisting fails. So a failed request leaves
// kernel and state as they were, and a repeated request changes nothing.
import { CantainerError } from '../errors.js';
import type { KernelPort } from '../kernel/port.js';
import type { Logger } from '../log.js';
import { checkBus, withMember, withoutMember, type Bus, type Member } from '../bus/model.js';
import { Reconciler, type Change } from '../reconcile/reconciler.js';
import type { DesiredState } from '../state/schema.js';
import type { StateFileError, StateStore } from '../state/store.js';
import { KeyedQueue } from './queue.js';

export class BusConflictError extends CantainerError {
  constructor(message: string, hint?: string) {
    super('ECONFLICT', message, hint === undefined ? {} : { hint });
  }
}

export class UnknownBusError extends CantainerError {
  constructor(id: string) {
    super('ENOBUS', `no bus with id ${id}`, { hint: 'it was removed, or created before the state was lost; create it again' });
  }
}

export interface StartReport {
  /** Set when the state file could not be read: buses in the kernel were then left alone. */
  readonly problem?: StateFileError;
  readonly buses: number;
  /** Buses whose kernel objects had drifted and were repaired, with the number of changes. */
  readonly repaired: ReadonlyArray<{ readonly bus: string; readonly changes: number }>;
  /** Buses that could not be wired, with the reason; they stay in the state and are retried on the next start. */
  readonly failed: ReadonlyArray<{ readonly bus: string; readonly error: string }>;
  /** Namespaces of cantainer that belonged to no bus and were removed. */
  readonly swept: readonly string[];
}

export interface BusServiceOptions {
  readonly kernel: KernelPort;
  readonly store: StateStore;
  readonly log: Logger;
  /** How long a handed-over end may wait to be taken over before it counts as an orphan (default 60 s). */
  readonly takeoverGraceMs?: number;
  readonly now?: () => Date;
}

export class BusService {
  readonly #store: StateStore;
  readonly #log: Logger;
  readonly #reconciler: Reconciler;
  readonly #queue = new KeyedQueue();
  readonly #graceMs: number;
  readonly #now: () => Date;
  #buses = new Map<string, Bus>();

  constructor(options: BusServiceOptions) {
    this.#store = options.store;
    this.#log = options.log;
    this.#graceMs = options.takeoverGraceMs ?? 60_000;
    this.#now = options.now ?? (() => new Date());
    this.#reconciler = new Reconciler(options.kernel, {
      onChange: (bus, change) => {
        options.log.debug('kernel change', { bus, action: change.action, object: change.object, name: change.name, detail: change.detail });
      },
    });
  }

  /** Loads the state and wires every bus in it: after a restart, a crash or a reboot the kernel matches again. */
  start(): StartReport {
    const loaded = this.#store.load();
    this.#buses = new Map(loaded.state.buses.map((bus) => [bus.id, bus]));
    const repaired: Array<{ bus: string; changes: number }> = [];
    const failed: Array<{ bus: string; error: string }> = [];
    let pruned = false;
    for (const stored of [...this.#buses.values()]) {
      try {
        const bus = this.#prune(stored, { unmoved: true });
        if (bus !== stored) {
          this.#buses.set(bus.id, bus);
          pruned = true;
        }
        const changes = this.#reconciler.apply(bus);
        if (changes.length > 0) repaired.push({ bus: bus.name, changes: changes.length });
      } catch (error) {
        failed.push({ bus: stored.name, error: error instanceof Error ? error.message : String(error) });
      }
    }
    if (pruned && loaded.problem === undefined) this.#save();
    // With an unreadable state file the kernel's buses are unknown, not unwanted: leave them.
    const swept = loaded.problem === undefined ? this.#reconciler.sweep([...this.#buses.values()]) : [];
    return { ...(loaded.problem === undefined ? {} : { problem: loaded.problem }), buses: this.#buses.size, repaired, failed, swept };
  }

  /** Drops orphaned members of every bus (see #prune); run now and then by the daemon. Returns how many. */
  async sweepOrphans(): Promise<number> {
    let dropped = 0;
    for (const id of [...this.#buses.keys()]) {
      dropped += await this.#queue.run(id, () => {
        const stored = this.#buses.get(id);
        if (stored === undefined) return 0;
        const bus = this.#prune(stored, { unmoved: true });
        if (bus === stored) return 0;
        this.#commit(bus, bus);
        return stored.members.length - bus.members.length;
      });
    }
    return dropped;
  }

  list(): Bus[] {
    return [...this.#buses.values()];
  }

  get(id: string): Bus | undefined {
    return this.#buses.get(id);
  }

  /** What differs between a bus's plan and the kernel, without changing anything. */
  check(id: string): Change[] {
    const bus = this.#buses.get(id);
    if (bus === undefined) throw new UnknownBusError(id);
    return this.#reconciler.check(bus);
  }

  /**
   * Creates a bus with its initial members. Creating it again with the same settings wires it again and succeeds;
   * with different settings it is refused.
   */
  createBus(bus: Bus): Promise<Bus> {
    checkBus(bus);
    return this.#queue.run(bus.id, () => {
      const stored = this.#buses.get(bus.id);
      if (stored !== undefined && stored.fd !== bus.fd) {
        throw new BusConflictError(`bus ${stored.name} exists already, with fd=${stored.fd}`, 'remove it first, or create it with the same settings');
      }
      const existing = stored === undefined ? undefined : this.#prune(stored);
      this.#commit(existing, existing ?? bus);
      return existing ?? bus;
    });
  }

  /** Removes a bus and everything wired for it; false if there was none. */
  removeBus(id: string): Promise<boolean> {
    return this.#queue.run(id, () => {
      const existing = this.#buses.get(id);
      // Removing the namespace of an unknown bus too: it may be a leftover of a lost state.
      const removed = this.#reconciler.remove(id);
      if (existing === undefined) return removed;
      this.#buses.delete(id);
      this.#save();
      return true;
    });
  }

  /** Adds a member (or replaces the one with its id) and wires it. */
  addMember(busId: string, member: Member): Promise<Bus> {
    return this.#queue.run(busId, () => {
      const stored = this.#buses.get(busId);
      if (stored === undefined) throw new UnknownBusError(busId);
      const bus = this.#prune(stored);
      const current = bus.members.find((m) => m.id === member.id);
      const same = current !== undefined && JSON.stringify({ ...current, since: undefined }) === JSON.stringify({ ...member, since: undefined });
      const next = same ? bus : withMember(bus, { ...member, since: member.since ?? this.#now().toISOString() });
      this.#commit(bus, next);
      return next;
    });
  }

  /** Removes a member and its wiring; false if the bus or the member was unknown. */
  removeMember(busId: string, memberId: string): Promise<boolean> {
    return this.#queue.run(busId, () => {
      const stored = this.#buses.get(busId);
      if (stored?.members.some((m) => m.id === memberId) !== true) return false;
      const bus = this.#prune(stored);
      this.#commit(bus, withoutMember(bus, memberId));
      return true;
    });
  }

  /**
   * Drops handed-over members whose pair is gone: their container's namespace died and took the pair along (a
   * stopped container whose endpoint was never deleted, a reboot). They cannot be rewired: the engine gives a
   * restarted container a new member. With `unmoved`, also drops those whose end is still where it was made
   * longer than the grace period after joining: orphans of a request cut short (a crash, an engine that gave up).
   */
  #prune(bus: Bus, options: { unmoved?: boolean } = {}): Bus {
    if (!bus.members.some((member) => member.end.handover === true)) return bus;
    const presence = new Map(this.#reconciler.presence(bus, { ends: options.unmoved === true }).map((p) => [p.memberId, p]));
    const overdue = (member: Member): boolean => member.since === undefined || this.#now().getTime() - Date.parse(member.since) > this.#graceMs;
    const dropped = bus.members.filter((member) => {
      const where = presence.get(member.id);
      return member.end.handover === true && (where?.hostEnd !== true || (options.unmoved === true && where.endInPlace && overdue(member)));
    });
    if (dropped.length === 0) return bus;
    for (const member of dropped) {
      const where = presence.get(member.id);
      this.#log.warn(where?.hostEnd === true ? 'member dropped: its end was never taken over' : 'member dropped: its interface is gone with its container', { bus: bus.name, member: member.id });
    }
    return { ...bus, members: bus.members.filter((member) => !dropped.includes(member)) };
  }

  /** Wires `next`, then persists it; on a failure the kernel and the state stay as they were (`previous`). */
  #commit(previous: Bus | undefined, next: Bus): void {
    this.#reconciler.apply(next);
    this.#buses.set(next.id, next);
    try {
      this.#save();
    } catch (error) {
      if (previous === undefined) {
        this.#buses.delete(next.id);
        this.#reconciler.remove(next.id);
      } else {
        this.#buses.set(previous.id, previous);
        this.#reconciler.apply(previous);
      }
      throw new CantainerError('ESTATEWRITE', `saving the state to ${this.#store.path}: ${error instanceof Error ? error.message : String(error)}`, { cause: error, hint: 'check that the state directory is writable and not full' });
    }
  }

  #save(): void {
    const state: DesiredState = { buses: [...this.#buses.values()] };
    this.#store.save(state);
    this.#log.debug('state saved', { buses: state.buses.length, path: this.#store.path });
  }
}
