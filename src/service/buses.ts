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
}

export class BusService {
  readonly #store: StateStore;
  readonly #log: Logger;
  readonly #reconciler: Reconciler;
  readonly #queue = new KeyedQueue();
  #buses = new Map<string, Bus>();

  constructor(options: BusServiceOptions) {
    this.#store = options.store;
    this.#log = options.log;
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
    for (const bus of this.#buses.values()) {
      try {
        const changes = this.#reconciler.apply(bus);
        if (changes.length > 0) repaired.push({ bus: bus.name, changes: changes.length });
      } catch (error) {
        failed.push({ bus: bus.name, error: error instanceof Error ? error.message : String(error) });
      }
    }
    // With an unreadable state file the kernel's buses are unknown, not unwanted: leave them.
    const swept = loaded.problem === undefined ? this.#reconciler.sweep([...this.#buses.values()]) : [];
    return { ...(loaded.problem === undefined ? {} : { problem: loaded.problem }), buses: this.#buses.size, repaired, failed, swept };
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
      const existing = this.#buses.get(bus.id);
      if (existing !== undefined && existing.fd !== bus.fd) {
        throw new BusConflictError(`bus ${existing.name} exists already, with fd=${existing.fd}`, 'remove it first, or create it with the same settings');
      }
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
      const bus = this.#buses.get(busId);
      if (bus === undefined) throw new UnknownBusError(busId);
      const current = bus.members.find((m) => m.id === member.id);
      const next = current !== undefined && JSON.stringify(current) === JSON.stringify(member) ? bus : withMember(bus, member);
      this.#commit(bus, next);
      return next;
    });
  }

  /** Removes a member and its wiring; false if the bus or the member was unknown. */
  removeMember(busId: string, memberId: string): Promise<boolean> {
    return this.#queue.run(busId, () => {
      const bus = this.#buses.get(busId);
      if (bus?.members.some((m) => m.id === memberId) !== true) return false;
      this.#commit(bus, withoutMember(bus, memberId));
      return true;
    });
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
