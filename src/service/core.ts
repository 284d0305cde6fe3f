// The transaction core of the bus service: desired state in memory and on disk, and the reconciler that makes the
// kernel match. Every change is one transaction, serialised per bus: compute the new bus, wire it (the reconciler
// undoes its own steps on failure), persist it, and put the kernel back if persisting fails. So a failed request
// leaves kernel and state as they were, and a repeated request changes nothing. The operations (members,
// gateways, uplinks, tunnels, buses) are in their own modules and change state only through this class.
import { StateWriteError, UnknownBusError, errorMessage, CantainerError } from '../errors.js';
import type { KernelPort } from '../kernel/port.js';
import type { Logger } from '../log.js';
import { busNamed, onlyBusNamed, unused, type Bus } from '../bus/model.js';
import { gatewayPorts, gatewayStatus, type Gateway, type GatewayPort, type GatewayStatus } from '../bus/gateway.js';
import { neighbours } from '../bus/gateway-set.js';
import { busMtu, busNamespace, type BusAttachments } from '../bus/plan.js';
import type { SpanPlan } from '../bus/span.js';
import { Reconciler, type Change } from '../reconcile/reconciler.js';
import type { DesiredState } from '../state/schema.js';
import type { StateFileError, StateStore } from '../state/store.js';
import { KeyedQueue } from './queue.js';
import { Announcer, type BusEvent, type EventSnapshot } from './events.js';
import { withoutOrphans } from './orphans.js';
import { UplinkInterfaces } from './uplink-interfaces.js';
import { TimedBuses } from '../timing/buses.js';
import { unwireTiming, wireTiming } from './timed.js';

/** What the reconciler did since the service started. */
export interface ReconcileStats {
  /** Reconciler runs (one per bus wired), and those that failed. */
  readonly runs: number;
  readonly failures: number;
  /** Kernel objects created, changed or removed. */
  readonly changes: number;
  /** Changes that put back what had drifted from the state (found at start or by a repair), not asked for by a request. */
  readonly driftCorrections: number;
}

/** A gateway with what became of it among the buses of this host. */
export interface GatewayView {
  readonly gateway: Gateway;
  readonly status: GatewayStatus;
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
  /** How long a handed-over end may wait to be taken over before it counts as an orphan (default 10 min). */
  readonly takeoverGraceMs?: number;
  readonly now?: () => Date;
}

/** How long a member's end handed to an engine may wait to be taken before it counts as an orphan. */
export const DEFAULT_TAKEOVER_GRACE_MS = 600_000;

/** The queue key of changes to the set of buses and gateways (taken before any bus's own key). */
const TOPOLOGY = '\0topology';

export class BusCore {
  readonly kernel: KernelPort;
  readonly log: Logger;
  readonly reconciler: Reconciler;
  readonly now: () => Date;
  /** How long a handed-over end may wait to be taken over before it counts as an orphan. */
  readonly graceMs: number;
  /** The host interfaces of uplinks, as the kernel has them. */
  readonly interfaces: UplinkInterfaces;
  /** The last plan of each spanned bus (bus/span.ts): its role, its hub, who may connect. */
  readonly spanPlans = new Map<string, SpanPlan>();
  /** The arbiters of timed buses: wired with their buses, so a member's frames are timed from its first. */
  readonly timing: TimedBuses;
  readonly #store: StateStore;
  readonly #queue = new KeyedQueue();
  #buses = new Map<string, Bus>();
  #gateways: Gateway[] = [];
  readonly #events: Announcer;
  readonly #stats = { runs: 0, failures: 0, changes: 0, driftCorrections: 0 };

  constructor(options: BusServiceOptions) {
    this.#store = options.store;
    this.kernel = options.kernel;
    this.log = options.log;
    this.interfaces = new UplinkInterfaces(options.kernel);
    this.timing = new TimedBuses(options.kernel, options.log);
    this.graceMs = options.takeoverGraceMs ?? DEFAULT_TAKEOVER_GRACE_MS;
    this.now = options.now ?? (() => new Date());
    this.#events = new Announcer((error) => {
      options.log.warn('an event listener failed', { err: errorMessage(error) });
    });
    this.reconciler = new Reconciler(options.kernel, {
      onChange: (bus, change) => {
        options.log.debug('kernel change', { bus, action: change.action, object: change.object, name: change.name, detail: change.detail });
      },
    });
  }

  get buses(): ReadonlyMap<string, Bus> {
    return this.#buses;
  }

  get gateways(): readonly Gateway[] {
    return this.#gateways;
  }

  get statePath(): string {
    return this.#store.path;
  }

  /** The name of the bus with this id (for messages), if it is known. */
  readonly busName = (id: string): string | undefined => this.#buses.get(id)?.name;

  /** The bus of that name, if exactly one has it. */
  byName(name: string): Bus | undefined {
    return busNamed(this.#buses.values(), name);
  }

  /** The bus of that name; refused when several have it (members attach by name, so it must say which). */
  namedOnce(name: string): Bus | undefined {
    return onlyBusNamed(this.#buses.values(), name);
  }

  /** Runs `task` holding the key of bus `id`. */
  onBus<T>(id: string, task: () => T | Promise<T>): Promise<T> {
    return this.#queue.run(id, task);
  }

  /**
   * Runs `task` under the lock of the bus named `busName`, with that bus as stored once the lock is held (undefined
   * if it was removed meanwhile); an unknown name is refused at once.
   */
  onNamedBus<T>(busName: string, task: (stored: Bus | undefined) => T): Promise<T> {
    const found = this.byName(busName);
    if (found === undefined) return Promise.reject(new UnknownBusError(busName, 'name'));
    return this.#queue.run(found.id, () => task(this.#buses.get(found.id)));
  }

  /**
   * Runs a change of buses or gateways holding the topology key and the keys of every bus it may touch: those
   * named, and those joined to them by a gateway (looked up once the topology key is held, so the set is current).
   */
  topology<T>(names: readonly string[], task: () => T): Promise<T> {
    return this.#queue.run(TOPOLOGY, () =>
      this.#queue.runAll(
        neighbours(names, this.#gateways, this.#buses.values()).map((bus) => bus.id),
        task,
      ),
    );
  }

  /** Loads the state and wires every bus in it: after a restart, a crash or a reboot the kernel matches again. */
  start(): StartReport {
    const loaded = this.#store.load();
    this.#buses = new Map(loaded.state.buses.map((bus) => [bus.id, bus]));
    this.#gateways = [...(loaded.state.gateways ?? [])];
    // What the state held at start is not news; what changes from here on is.
    this.#events.reset(this.#snapshot());
    const repaired = new Map<string, number>();
    const failed = new Map<string, string>();
    const pruned = pruneLoaded(this, this.#buses, failed);
    // Twice: a gateway whose other bus had no namespace yet in the first pass is wired in the second.
    for (const pass of [1, 2]) {
      for (const bus of this.#buses.values()) {
        if (failed.has(bus.name) || (pass === 2 && this.#portsOf(bus).length === 0)) continue;
        try {
          const changes = this.apply(bus, { drift: true });
          if (changes.length > 0) repaired.set(bus.name, (repaired.get(bus.name) ?? 0) + changes.length);
        } catch (error) {
          failed.set(bus.name, errorMessage(error));
        }
      }
    }
    if (pruned && loaded.problem === undefined) this.#save();
    // With an unreadable state file the kernel's buses are unknown, not unwanted: leave them.
    const swept = loaded.problem === undefined ? this.reconciler.sweep([...this.#buses.values()]) : [];
    return {
      ...(loaded.problem === undefined ? {} : { problem: loaded.problem }),
      buses: this.#buses.size,
      repaired: [...repaired].map(([bus, changes]) => ({ bus, changes })),
      failed: [...failed].map(([bus, error]) => ({ bus, error })),
      swept,
    };
  }

  /** `bus` without its orphans (see withoutOrphans); the same bus if it has none. */
  prune(bus: Bus, options: { unmoved?: boolean } = {}): Bus {
    return withoutOrphans(bus, this, options);
  }

  /** Wires `next`, then persists it; on a failure the kernel and the state stay as they were (`previous`). */
  commit(previous: Bus | undefined, next: Bus, options: { trustRules?: boolean; drift?: boolean } = {}): Change[] {
    const changes = this.apply(next, options);
    this.#buses.set(next.id, next);
    try {
      this.#save();
    } catch (error) {
      if (previous === undefined) {
        this.#buses.delete(next.id);
        this.unwire(next.id);
      } else {
        this.#buses.set(previous.id, previous);
        this.apply(previous);
      }
      throw new StateWriteError(this.#store.path, error);
    }
    return changes;
  }

  /**
   * Wires the stored bus `id` again (its key held), first dropping its orphans (saved when there were some): a
   * member that can never be wired again must not stop the rest of its bus from being wired. `drift` as for apply.
   */
  rewire(id: string, options: { drift?: boolean } = {}): Change[] {
    const stored = this.#buses.get(id);
    if (stored === undefined) throw new UnknownBusError(id);
    const bus = this.prune(stored);
    return bus === stored ? this.apply(stored, options) : this.commit(stored, bus, options);
  }

  /**
   * Makes `buses` and `gateways` the desired state: wires every bus whose plan may change (those named and their
   * neighbours, before and after), then persists. On a failure everything is put back as it was. A gateway's pair
   * is created by whichever of its buses is wired first once both namespaces exist, so buses are wired twice.
   */
  changeTopology(buses: ReadonlyMap<string, Bus>, gateways: readonly Gateway[], names: readonly string[]): void {
    const before = { buses: this.#buses, gateways: this.#gateways };
    const touched = new Map<string, Bus>();
    for (const bus of [...neighbours(names, before.gateways, before.buses.values()), ...neighbours(names, gateways, buses.values())])
      touched.set(bus.id, bus);
    // Buses wired here that this change leaves as they are (neighbours) are pruned first: a dead member of one must
    // not refuse the change. Those it changes were pruned by the caller; what it adds is checked by the apply.
    const unchanged = (id: string, bus: Bus): boolean => touched.has(id) && before.buses.get(id) === bus;
    this.#buses = new Map([...buses].map(([id, bus]) => [id, unchanged(id, bus) ? this.prune(bus) : bus]));
    this.#gateways = [...gateways];
    const wire = (): void => {
      for (const id of [...touched.keys(), ...touched.keys()]) {
        const bus = this.#buses.get(id);
        if (bus === undefined) this.unwire(id);
        else this.apply(bus);
      }
    };
    try {
      wire();
      this.#save();
    } catch (error) {
      this.#buses = before.buses;
      this.#gateways = before.gateways;
      try {
        wire();
      } catch (undoError) {
        this.log.warn('putting buses back after a failed change failed too; retried on the next change', {
          error: errorMessage(undoError),
        });
      }
      if (error instanceof CantainerError) throw error;
      throw new StateWriteError(this.#store.path, error);
    }
  }

  /**
   * Removes a bus from the state and the kernel (held under the topology key); its neighbours are rewired without
   * it. Gateways added by hand go with it; gateways another bus declares wait for it to come back.
   */
  drop(bus: Bus, gateways: readonly Gateway[]): void {
    this.unwire(bus.id);
    this.#buses.delete(bus.id);
    const before = this.#gateways;
    this.#gateways = [...gateways];
    this.#save();
    for (const neighbour of neighbours([bus.name], before, this.#buses.values())) {
      try {
        this.apply(neighbour);
      } catch (error) {
        this.log.warn('rewiring a neighbour of a removed bus failed; retried on the next change', {
          bus: neighbour.name,
          error: errorMessage(error),
        });
      }
    }
  }

  /** Wires a bus; `drift` when nothing was asked of it, so every change made corrects drift. */
  apply(bus: Bus, options: { drift?: boolean; trustRules?: boolean } = {}): Change[] {
    this.#stats.runs += 1;
    let changes: Change[];
    const attachments = this.attachmentsOf(bus);
    unwireTiming(this, bus);
    try {
      changes = this.reconciler.apply(bus, attachments, options.trustRules === true ? { trustRules: true } : {});
      wireTiming(this, bus, attachments);
    } catch (error) {
      this.#stats.failures += 1;
      throw error;
    }
    this.#stats.changes += changes.length;
    if (options.drift === true) this.#stats.driftCorrections += changes.length;
    // What the uplinks' interfaces were when wired: the uplink watch rewires when that changes.
    this.interfaces.remember(bus);
    return changes;
  }

  /** Removes a bus from the kernel, with its arbiter if it is timed. */
  unwire(id: string): boolean {
    this.timing.remove(id);
    return this.reconciler.remove(id);
  }

  /** The bus's gateway ports and uplinks, as the kernel finds them now. */
  attachmentsOf(bus: Bus): BusAttachments {
    return { gateways: this.#portsOf(bus), uplinks: (bus.uplinks ?? []).map((uplink) => this.interfaces.port(bus, uplink)) };
  }

  /** The bus's ports for its wired gateways whose other bus has its namespace (see changeTopology). */
  #portsOf(bus: Bus): GatewayPort[] {
    return gatewayPorts(bus, this.#gateways, [...this.#buses.values()], busMtu).filter((port) =>
      this.kernel.namespaces.exists(busNamespace(port.peer.namespaceOf)),
    );
  }

  /** Every gateway with its status: wired, waiting for a bus, or refused (and why). */
  gatewayViews(): GatewayView[] {
    const buses = [...this.#buses.values()];
    return this.#gateways.map((gateway) => ({ gateway, status: gatewayStatus(gateway, buses) }));
  }

  /** What the reconciler did since the service started, for metrics. */
  stats(): ReconcileStats {
    return { ...this.#stats };
  }

  /** Calls `listener` with every lifecycle event from now on; returns the function that stops it. */
  onEvent(listener: (event: BusEvent) => void): () => void {
    return this.#events.listen(listener);
  }

  /** Announces what changed since the last announcement (see service/events.ts), and `extra` events. */
  announce(extra: readonly BusEvent[] = []): void {
    this.#events.announce(this.#snapshot(), this.now().toISOString(), extra);
  }

  #snapshot(): EventSnapshot {
    return { buses: [...this.#buses.values()], gateways: this.gatewayViews() };
  }

  #save(): void {
    const state: DesiredState = { buses: [...this.#buses.values()], gateways: this.#gateways };
    this.#store.save(state);
    this.announce();
    this.log.debug('state saved', { buses: state.buses.length, path: this.#store.path });
  }
}

/** Drops the orphans of buses just loaded, and transient buses left with nothing; returns whether any changed. */
function pruneLoaded(core: BusCore, buses: Map<string, Bus>, failed: Map<string, string>): boolean {
  let pruned = false;
  for (const stored of [...buses.values()]) {
    try {
      const bus = core.prune(stored, { unmoved: true });
      // A transient bus whose members all went while the daemon was away goes with them.
      if (unused(bus)) {
        buses.delete(bus.id);
        pruned = true;
      } else if (bus !== stored) {
        buses.set(bus.id, bus);
        pruned = true;
      }
    } catch (error) {
      failed.set(stored.name, errorMessage(error));
    }
  }
  return pruned;
}
