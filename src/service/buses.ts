// The buses of this host: desired state in memory and on disk, and the reconciler that makes the kernel match.
// Every change is one transaction, serialised per bus: compute the new bus, wire it (the reconciler undoes its
// own steps on failure), persist it, and put the kernel back if persisting fails. So a failed request leaves
// kernel and state as they were, and a repeated request changes nothing.
import { CantainerError, InvalidValueError, errorMessage } from '../errors.js';
import { CURRENT_NETNS, type KernelPort, type NetnsTarget } from '../kernel/port.js';
import type { Logger } from '../log.js';
import { checkBus, unused, withMember, withoutMember, type Bus, type Member } from '../bus/model.js';
import {
  checkGateway,
  describeGateway,
  findCycle,
  gatewayKey,
  gatewayPorts,
  gatewayStatus,
  normaliseGateway,
  type Gateway,
  type GatewayPort,
  type GatewayStatus,
} from '../bus/gateway.js';
import { busMtu, busNamespace, hostEndName, MONITOR, type BusAttachments } from '../bus/plan.js';
import { checkUplink, normaliseUplink, uplinkHostEndName, type Uplink, type UplinkPort } from '../bus/uplink.js';
import { checkTunnel, listenKey, type Tunnel } from '../bus/tunnel.js';
import { CAN_LINK_MTU, type Link } from '../netlink/link.js';
import { ARPHRD_CAN } from '../netlink/constants.js';
import { Reconciler, type Change, type ObservedRule } from '../reconcile/reconciler.js';
import type { DesiredState } from '../state/schema.js';
import type { StateFileError, StateStore } from '../state/store.js';
import { KeyedQueue } from './queue.js';
import { BusConflictError, StateWriteError, UnknownBusError } from './errors.js';
import { stateEvents, type BusEvent, type EventSnapshot } from './events.js';

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

/** An uplink with whether its interface is there and what to know about it. */
export interface UplinkView {
  readonly bus: string;
  readonly uplink: Uplink;
  /** up: the interface is there and wired (frames cross while it is up); down: it is not there, or not CAN. */
  readonly state: 'up' | 'down';
  readonly detail?: string;
}

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

/** `bus` with the members, uplinks and tunnels of `twin` added (those it has already stay as they are). */
function absorb(bus: Bus, twin: Bus): Bus {
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

/** Where a member attaches by bus name (front doors that have no step of their own to create a bus). */
export interface AttachTarget {
  readonly bus: string;
  /** The frames the member needs: a bus made now takes it, an existing bus must match; absent, the bus as it is (classic when made now). */
  readonly fd?: boolean;
  /** Make a transient bus when none has that name; otherwise an unknown name is refused. */
  readonly create?: boolean;
  /** The front door's notes, kept with a bus made now. */
  readonly annotations?: Readonly<Record<string, string>>;
}

/** Ids of transient buses: the name after this prefix (ids of other buses are the front door's own). */
export const TRANSIENT_ID_PREFIX = 'named:';

/** How long a member's end handed to an engine may wait to be taken before it counts as an orphan. */
export const DEFAULT_TAKEOVER_GRACE_MS = 600_000;

/** The queue key of changes to the set of buses and gateways (taken before any bus's own key). */
const TOPOLOGY = '\0topology';

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

export class BusService {
  readonly #store: StateStore;
  readonly #log: Logger;
  readonly #reconciler: Reconciler;
  readonly #queue = new KeyedQueue();
  readonly #graceMs: number;
  readonly #now: () => Date;
  #buses = new Map<string, Bus>();
  #gateways: Gateway[] = [];
  /** The interface of each uplink as last seen (index, type, MTU, or gone), to notice it come and go. */
  readonly #uplinkSignatures = new Map<string, string>();
  readonly #listeners = new Set<(event: BusEvent) => void>();
  /** The state as last announced to event listeners. */
  #announced: EventSnapshot = { buses: [], gateways: [] };
  readonly #kernel: KernelPort;
  readonly #stats = { runs: 0, failures: 0, changes: 0, driftCorrections: 0 };

  constructor(options: BusServiceOptions) {
    this.#store = options.store;
    this.#kernel = options.kernel;
    this.#log = options.log;
    this.#graceMs = options.takeoverGraceMs ?? DEFAULT_TAKEOVER_GRACE_MS;
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
    this.#gateways = [...(loaded.state.gateways ?? [])];
    // What the state held at start is not news; what changes from here on is.
    this.#announced = { buses: [...this.#buses.values()], gateways: this.gateways() };
    const repaired = new Map<string, number>();
    const failed = new Map<string, string>();
    let pruned = false;
    for (const stored of [...this.#buses.values()]) {
      try {
        const bus = this.#prune(stored, { unmoved: true });
        // A transient bus whose members all went while the daemon was away goes with them.
        if (unused(bus)) {
          this.#buses.delete(bus.id);
          pruned = true;
        } else if (bus !== stored) {
          this.#buses.set(bus.id, bus);
          pruned = true;
        }
      } catch (error) {
        failed.set(stored.name, errorMessage(error));
      }
    }
    // Twice: a gateway whose other bus had no namespace yet in the first pass is wired in the second.
    for (const pass of [1, 2]) {
      for (const bus of this.#buses.values()) {
        if (failed.has(bus.name) || (pass === 2 && this.#portsOf(bus).length === 0)) continue;
        try {
          const changes = this.#apply(bus, { drift: true });
          if (changes.length > 0) repaired.set(bus.name, (repaired.get(bus.name) ?? 0) + changes.length);
        } catch (error) {
          failed.set(bus.name, errorMessage(error));
        }
      }
    }
    if (pruned && loaded.problem === undefined) this.#save();
    // With an unreadable state file the kernel's buses are unknown, not unwanted: leave them.
    const swept = loaded.problem === undefined ? this.#reconciler.sweep([...this.#buses.values()]) : [];
    return {
      ...(loaded.problem === undefined ? {} : { problem: loaded.problem }),
      buses: this.#buses.size,
      repaired: [...repaired].map(([bus, changes]) => ({ bus, changes })),
      failed: [...failed].map(([bus, error]) => ({ bus, error })),
      swept,
    };
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
      await this.#retireIfUnused(id);
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
    return this.#reconciler.check(bus, this.#attachmentsOf(bus));
  }

  /**
   * What the kernel holds for a bus now: its rules with their counters and the path of its namespace (for tools
   * that read its monitor). Its drift from the plan is `check`.
   */
  observe(id: string): BusObservation {
    const bus = this.#buses.get(id);
    if (bus === undefined) throw new UnknownBusError(id);
    const observed = this.#reconciler.observe(id);
    const rules = observed?.rules ?? [];
    return {
      bus,
      namespacePath: this.#kernel.namespaces.path(busNamespace(id)),
      rules,
      // Every frame on the bus reaches the monitor once: the rules into it count the bus's frames.
      frames: rules.filter((rule) => rule.destination === MONITOR).reduce((sum, rule) => sum + rule.counters.handled, 0),
      dropped: rules.reduce((sum, rule) => sum + rule.counters.dropped, 0),
      deleted: rules.reduce((sum, rule) => sum + rule.counters.deleted, 0),
      forwarded: rules.reduce((sum, rule) => sum + rule.counters.handled, 0),
    };
  }

  /** The interface name of a member's end in a namespace elsewhere (a container's), if its pair is there. */
  memberInterface(busId: string, memberId: string, netns: NetnsTarget): string | undefined {
    try {
      return this.#reconciler.memberEndIn(busId, hostEndName(memberId), netns);
    } catch {
      return undefined; // the namespace is gone, or not readable: nothing to name
    }
  }

  /**
   * What is wrong with a member now, in words: its bus or itself unknown, its end not where it was made, or its
   * bus drifted from the plan. Empty when all holds. Changes nothing.
   */
  memberProblems(busName: string, memberId: string): string[] {
    const bus = this.#namedOnce(busName);
    if (bus === undefined) return [`no bus named ${busName}`];
    const member = bus.members.find((m) => m.id === memberId);
    if (member === undefined) return [`bus ${busName} has no member ${memberId}`];
    const problems: string[] = [];
    const where = this.#reconciler.presence({ ...bus, members: [member] }, { ends: true })[0];
    if (where?.namespaceGone === true) problems.push(`the namespace ${member.end.netns ?? ''} is gone`);
    else if (where?.hostEnd !== true) problems.push(`the bus end of ${member.end.name} is missing`);
    else if (!where.endInPlace && member.end.handover !== true)
      problems.push(`${member.end.name} is not in ${member.end.netns ?? "the daemon's namespace"}, or not paired with its bus end`);
    for (const change of this.check(bus.id))
      problems.push(
        `bus ${bus.name} needs: ${change.action} ${change.object} ${change.name}${change.detail === undefined ? '' : ` (${change.detail})`}`,
      );
    return problems;
  }

  /** Makes the kernel match a bus's plan again now (what a restart would do); returns the changes made. */
  repair(id: string): Promise<Change[]> {
    return this.#queue.run(id, () => {
      const bus = this.#buses.get(id);
      if (bus === undefined) throw new UnknownBusError(id);
      return this.#apply(bus, { drift: true });
    });
  }

  /**
   * Reads every bus back from the kernel in full and puts back what drifted (a rule deleted by hand, can_gw
   * reloaded): joins and leaves trust the rules they made, so the daemon runs this now and then. Returns the
   * buses repaired with their changes.
   */
  async verify(): Promise<Array<{ bus: string; changes: Change[] }>> {
    const repaired: Array<{ bus: string; changes: Change[] }> = [];
    for (const id of [...this.#buses.keys()]) {
      const changes = await this.#queue.run(id, () => {
        const bus = this.#buses.get(id);
        return bus === undefined ? [] : this.#apply(bus, { drift: true });
      });
      const name = this.#buses.get(id)?.name ?? id;
      if (changes.length > 0) repaired.push({ bus: name, changes });
    }
    return repaired;
  }

  /** What the reconciler did since the service started, for metrics. */
  reconcileStats(): ReconcileStats {
    return { ...this.#stats };
  }

  /** Calls `listener` with every lifecycle event from now on; returns the function that stops it. */
  onEvent(listener: (event: BusEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Announces what changed since the last announcement (see service/events.ts). */
  #announce(extra: readonly BusEvent[] = []): void {
    const snapshot: EventSnapshot = { buses: [...this.#buses.values()], gateways: this.gateways() };
    const events = [...stateEvents(this.#announced, snapshot, this.#now().toISOString()), ...extra];
    this.#announced = snapshot;
    for (const event of events) {
      for (const listener of this.#listeners) {
        try {
          listener(event);
        } catch (error) {
          this.#log.warn('an event listener failed', { err: errorMessage(error) });
        }
      }
    }
  }

  /** Every gateway with its status: wired, waiting for a bus, or refused (and why). */
  gateways(): GatewayView[] {
    const buses = [...this.#buses.values()];
    return this.#gateways.map((gateway) => ({ gateway, status: gatewayStatus(gateway, buses) }));
  }

  /** Every uplink of every bus, with whether its interface is there. */
  uplinks(): UplinkView[] {
    return [...this.#buses.values()].flatMap((bus) => (bus.uplinks ?? []).map((uplink) => this.#uplinkView(bus, uplink)));
  }

  /**
   * Joins an existing CAN interface of the daemon's namespace to a bus, or changes the settings of its uplink. The
   * interface must exist, be CAN and belong to no other bus; it is never moved or deleted.
   */
  addUplink(busName: string, input: Uplink): Promise<UplinkView> {
    const uplink = normaliseUplink(input);
    checkUplink(uplink);
    return this.#onNamedBus(busName, (stored) => {
      if (stored === undefined) throw new UnknownBusError(busName, 'name');
      this.#checkUplinkInterface(stored, uplink);
      const bus = this.#prune(stored);
      const next = { ...bus, uplinks: [...(bus.uplinks ?? []).filter((u) => u.interface !== uplink.interface), uplink] };
      this.#commit(bus, next);
      return this.#uplinkView(next, uplink);
    });
  }

  /**
   * Adds a tunnel to a bus (or changes the settings of the one of that name): its pair is wired like a member's end.
   * No two tunnels of this host may listen on the same transport, address and port.
   */
  addTunnel(busName: string, tunnel: Tunnel): Promise<Bus> {
    checkTunnel(tunnel);
    return this.#onNamedBus(busName, (stored) => {
      if (stored === undefined) throw new UnknownBusError(busName, 'name');
      this.#checkTunnelListen(stored.id, tunnel);
      const bus = this.#prune(stored);
      const next = { ...bus, tunnels: [...(bus.tunnels ?? []).filter((t) => t.name !== tunnel.name), tunnel] };
      this.#commit(bus, next);
      return next;
    });
  }

  /**
   * Runs `task` under the lock of the bus named `busName`, with that bus as stored once the lock is held (undefined
   * if it was removed meanwhile); an unknown name is refused at once.
   */
  #onNamedBus<T>(busName: string, task: (stored: Bus | undefined) => T): Promise<T> {
    const found = this.byName(busName);
    if (found === undefined) return Promise.reject(new UnknownBusError(busName, 'name'));
    return this.#queue.run(found.id, () => task(this.#buses.get(found.id)));
  }

  /** No two tunnels of this host listen on the same transport, address and port (the same tunnel again is fine). */
  #checkTunnelListen(busId: string, tunnel: Tunnel): void {
    const key = listenKey(tunnel);
    if (key === undefined) return;
    for (const other of this.#buses.values()) {
      const taken = (other.tunnels ?? []).find((t) => (other.id !== busId || t.name !== tunnel.name) && listenKey(t) === key);
      if (taken !== undefined)
        throw new BusConflictError(
          `tunnel ${taken.name} of bus ${other.name} listens on ${tunnel.transport === 'udp' ? 'UDP' : 'TCP'} ${tunnel.listen ?? ''} already`,
          'one tunnel per address and port: choose another port, or remove that tunnel (cantainer tunnel rm)',
        );
    }
  }

  /** Removes a tunnel from a bus with its pair; false if the bus had none of that name. */
  async removeTunnel(busName: string, name: string): Promise<boolean> {
    const removed = await this.#onNamedBus(busName, (stored) => {
      if (stored?.tunnels?.some((tunnel) => tunnel.name === name) !== true) return undefined;
      const bus = this.#prune(stored);
      const tunnels = (bus.tunnels ?? []).filter((tunnel) => tunnel.name !== name);
      const { tunnels: _dropped, ...rest } = bus;
      this.#commit(bus, tunnels.length === 0 ? rest : { ...rest, tunnels });
      return bus.id;
    });
    if (removed !== undefined) await this.#retireIfUnused(removed);
    return removed !== undefined;
  }

  /** Detaches an interface from a bus: the rules and the pair go, the interface stays. False if it had no uplink. */
  async removeUplink(busName: string, iface: string): Promise<boolean> {
    const removed = await this.#onNamedBus(busName, (stored) => {
      if (stored?.uplinks?.some((uplink) => uplink.interface === iface) !== true) return undefined;
      const bus = this.#prune(stored);
      this.#commit(bus, { ...bus, uplinks: (bus.uplinks ?? []).filter((uplink) => uplink.interface !== iface) });
      return bus.id;
    });
    if (removed !== undefined) await this.#retireIfUnused(removed);
    return removed !== undefined;
  }

  /**
   * Rewires uplinks whose interface came or went since the last call (an adapter unplugged and plugged in again,
   * a vcan deleted and made again). Returns what changed, for the log and for events.
   */
  async watchUplinks(): Promise<UplinkView[]> {
    const changed: UplinkView[] = [];
    for (const bus of [...this.#buses.values()]) {
      if ((bus.uplinks ?? []).length === 0) continue;
      const views = await this.#queue.run(bus.id, () => {
        const current = this.#buses.get(bus.id);
        if (current === undefined) return [];
        const seen = (current.uplinks ?? []).map((uplink) => ({ uplink, signature: this.#interfaceSignature(uplink.interface) }));
        const moved = seen.filter(
          ({ uplink, signature }) => this.#uplinkSignatures.get(`${current.id}\0${uplink.interface}`) !== signature,
        );
        if (moved.length === 0) return [];
        this.#apply(current);
        const views = moved.map(({ uplink }) => this.#uplinkView(current, uplink));
        this.#announce(
          views.map((view) => ({
            time: this.#now().toISOString(),
            type: view.state === 'up' ? 'uplink-up' : 'uplink-down',
            bus: view.bus,
            interface: view.uplink.interface,
            ...(view.detail === undefined ? {} : { detail: view.detail }),
          })),
        );
        return moved.map(({ uplink }) => this.#uplinkView(current, uplink));
      });
      changed.push(...views);
    }
    return changed;
  }

  #interfaceSignature(name: string): string {
    const link = this.#hostLink(name);
    return link === undefined ? 'gone' : `${link.index}:${link.type}:${link.mtu ?? '?'}`;
  }

  #uplinkView(bus: Bus, uplink: Uplink): UplinkView {
    const link = this.#hostLink(uplink.interface);
    if (link === undefined)
      return {
        bus: bus.name,
        uplink,
        state: 'down',
        detail: `${uplink.interface} is not there; the bus goes on without it and the uplink is wired again when it comes back`,
      };
    if (link.type !== ARPHRD_CAN)
      return { bus: bus.name, uplink, state: 'down', detail: `${uplink.interface} is not a CAN interface (type ${link.type})` };
    const fd = (link.mtu ?? 0) >= CAN_LINK_MTU.fd;
    const notes = [
      ...(link.up ? [] : [`${uplink.interface} is down: frames cross once it is up (ip link set ${uplink.interface} up)`]),
      ...(bus.fd && !fd ? [`classic frames only: ${uplink.interface} is not FD (MTU ${link.mtu ?? '?'})`] : []),
    ];
    return { bus: bus.name, uplink, state: 'up', ...(notes.length === 0 ? {} : { detail: notes.join('; ') }) };
  }

  #checkUplinkInterface(bus: Bus, uplink: Uplink): void {
    const link = this.#hostLink(uplink.interface);
    if (link === undefined)
      throw new InvalidValueError(
        'interface',
        uplink.interface,
        'an existing CAN interface of this host (ip -details link show type can, vcan)',
      );
    if (link.type !== ARPHRD_CAN)
      throw new InvalidValueError('interface', uplink.interface, `a CAN interface; ${uplink.interface} has link type ${link.type}`);
    for (const other of this.#buses.values()) {
      if (other.id !== bus.id && other.uplinks?.some((u) => u.interface === uplink.interface) === true)
        throw new BusConflictError(
          `${uplink.interface} is an uplink of bus ${other.name} already`,
          `an interface joins one bus; to join buses, use a gateway (cantainer gateway add ${other.name} ${bus.name})`,
        );
      const ours = [
        ...other.members.filter((member) => member.end.netns === undefined).map((member) => member.end.name),
        ...(other.uplinks ?? []).map((u) => uplinkHostEndName(other.id, u.interface)),
      ];
      if (ours.includes(uplink.interface))
        throw new InvalidValueError(
          'interface',
          uplink.interface,
          `an interface cantainer did not make (${uplink.interface} is an end of bus ${other.name})`,
        );
    }
  }

  /** The bus of that name, if exactly one has it. */
  byName(name: string): Bus | undefined {
    const found = [...this.#buses.values()].filter((bus) => bus.name === name);
    return found.length === 1 ? found[0] : undefined;
  }

  /**
   * Adds a gateway, or replaces the one from the same source to the same destination. It is wired at once when
   * both buses exist, and waits for a missing one otherwise. A gateway that would close a cycle is refused.
   */
  addGateway(input: Gateway): Promise<GatewayView> {
    const gateway = normaliseGateway(input);
    checkGateway(gateway);
    return this.#topology([gateway.source, gateway.destination], () => {
      const [source, destination] = [this.byName(gateway.source), this.byName(gateway.destination)];
      // Both buses known: check the edits against their frame kinds now rather than leaving it refused.
      if (source !== undefined && destination !== undefined) checkGateway(gateway, source.fd && destination.fd);
      const next = this.#withGateway(this.#gateways, gateway);
      this.#changeTopology(this.#buses, next, [gateway.source, gateway.destination]);
      const view = this.gateways().find((candidate) => candidate.gateway === gateway);
      if (view === undefined) throw new Error('the gateway vanished while it was added');
      return view;
    });
  }

  /** Removes the gateway from `source` to `destination` (a both-ways one by either order); false if none. */
  removeGateway(source: string, destination: string): Promise<boolean> {
    return this.#topology([source, destination], () => {
      const found = this.#gateways.find(
        (gateway) =>
          (gateway.source === source && gateway.destination === destination) ||
          (gateway.both && gateway.source === destination && gateway.destination === source),
      );
      if (found === undefined) return false;
      if (found.declaredBy !== undefined) {
        const owner = this.#buses.get(found.declaredBy);
        throw new BusConflictError(
          `the gateway ${describeGateway(found)} is part of bus ${owner?.name ?? found.declaredBy}'s settings`,
          'it goes with that bus: change or remove the bus',
        );
      }
      this.#changeTopology(
        this.#buses,
        this.#gateways.filter((gateway) => gateway !== found),
        [source, destination],
      );
      return true;
    });
  }

  /**
   * Gives a bus the name users know it by, once known (a front door may learn it only after creating the bus).
   * Gateways naming it are wired now; those it declares follow it.
   */
  renameBus(id: string, name: string, declared?: readonly Gateway[]): Promise<Bus> {
    const redeclared = declared?.map((gateway) => normaliseGateway({ ...gateway, declaredBy: id }));
    for (const gateway of redeclared ?? []) checkGateway(gateway);
    const names = [
      name,
      this.#buses.get(id)?.name ?? name,
      ...(redeclared ?? []).flatMap((gateway) => [gateway.source, gateway.destination]),
    ];
    return this.#topology(names, () => {
      const stored = this.#buses.get(id);
      if (stored === undefined) throw new UnknownBusError(id);
      // A transient bus of that name (made by members of another front door) becomes part of this one.
      const twin = [...this.#buses.values()].find((other) => other.id !== id && other.name === name && other.transient === true);
      const bus = twin === undefined ? { ...stored, name } : absorb({ ...stored, name }, twin);
      checkBus(bus);
      const buses = new Map(this.#buses).set(id, bus);
      if (twin !== undefined) {
        buses.delete(twin.id);
        // Its pairs go first: their ends in the members' namespaces carry the names the new pairs take.
        this.#reconciler.remove(twin.id);
        this.#log.info('a transient bus of the same name joined this bus', { bus: name, members: twin.members.length });
      }
      let gateways: Gateway[];
      if (redeclared === undefined) {
        gateways = this.#gateways.map((gateway) =>
          gateway.declaredBy !== id
            ? gateway
            : {
                ...gateway,
                source: gateway.source === stored.name ? name : gateway.source,
                destination: gateway.destination === stored.name ? name : gateway.destination,
              },
        );
      } else {
        gateways = this.#gateways.filter((gateway) => gateway.declaredBy !== id);
        for (const gateway of redeclared) gateways = this.#withGateway(gateways, gateway);
      }
      this.#changeTopology(buses, gateways, [stored.name, ...names]);
      return bus;
    });
  }

  /**
   * Creates a bus with its initial members. Creating it again with the same settings wires it again and succeeds;
   * with different settings it is refused.
   */
  createBus(bus: Bus, options: { gateways?: readonly Gateway[] } = {}): Promise<Bus> {
    checkBus(bus);
    const declared = (options.gateways ?? []).map((gateway) => normaliseGateway({ ...gateway, declaredBy: bus.id }));
    for (const gateway of declared) checkGateway(gateway);
    const names = [bus.name, ...declared.flatMap((gateway) => [gateway.source, gateway.destination])];
    return this.#topology(names, () => {
      const stored = this.#buses.get(bus.id);
      if (stored !== undefined && stored.fd !== bus.fd) {
        throw new BusConflictError(
          `bus ${stored.name} exists already, with fd=${stored.fd}`,
          'remove it first, or create it with the same settings',
        );
      }
      const existing = stored === undefined ? undefined : this.#prune(stored);
      const next = existing ?? bus;
      if (existing === undefined) for (const uplink of bus.uplinks ?? []) this.#checkUplinkInterface(bus, uplink);
      if (existing === undefined) for (const tunnel of bus.tunnels ?? []) this.#checkTunnelListen(bus.id, tunnel);
      let gateways = this.#gateways.filter((gateway) => gateway.declaredBy !== bus.id);
      for (const gateway of declared) gateways = this.#withGateway(gateways, gateway);
      this.#changeTopology(new Map(this.#buses).set(next.id, next), gateways, [next.name, ...names]);
      return next;
    });
  }

  /** Removes a bus and everything wired for it; false if there was none. */
  removeBus(id: string): Promise<boolean> {
    return this.#topology([this.#buses.get(id)?.name ?? id], () => {
      const existing = this.#buses.get(id);
      // Removing the namespace of an unknown bus too: it may be a leftover of a lost state.
      const removed = this.#reconciler.remove(id);
      if (existing === undefined) return removed;
      this.#buses.delete(id);
      // Gateways added by hand go with either bus; gateways another bus declares wait for this one to come back.
      const before = this.#gateways;
      this.#gateways = before.filter(
        (gateway) =>
          gateway.declaredBy !== id &&
          (gateway.declaredBy !== undefined || (gateway.source !== existing.name && gateway.destination !== existing.name)),
      );
      this.#save();
      for (const bus of this.#neighbours([existing.name], before)) {
        try {
          this.#apply(bus);
        } catch (error) {
          this.#log.warn('rewiring a neighbour of a removed bus failed; retried on the next change', {
            bus: bus.name,
            error: errorMessage(error),
          });
        }
      }
      return true;
    });
  }

  /** Adds a member (or replaces the one with its id) and wires it. */
  addMember(busId: string, member: Member): Promise<Bus> {
    return this.#queue.run(busId, () => {
      const stored = this.#buses.get(busId);
      if (stored === undefined) throw new UnknownBusError(busId);
      return this.#join(stored, member);
    });
  }

  /** Adds or replaces a member of a stored bus (its key held); the same member again changes nothing. */
  #join(stored: Bus, member: Member): Bus {
    const bus = this.#prune(stored);
    const current = bus.members.find((m) => m.id === member.id);
    const same =
      current !== undefined && JSON.stringify({ ...current, since: undefined }) === JSON.stringify({ ...member, since: undefined });
    const next = same ? bus : withMember(bus, { ...member, since: member.since ?? this.#now().toISOString() });
    // Joins and leaves are the hot path: the rules are taken from the last apply (see verify for the rest).
    this.#commit(bus, next, { trustRules: true });
    return next;
  }

  /**
   * Adds a member to the bus of that name (or replaces the one with its id), making the bus first when none has
   * that name and `target.create` is set: such a bus is transient, and goes when nothing is left on it.
   */
  async attachMember(target: AttachTarget, member: Member): Promise<{ readonly bus: Bus; readonly created: boolean }> {
    const found = this.#namedOnce(target.bus);
    if (found !== undefined) {
      const attached = await this.#queue.run(found.id, () => {
        const stored = this.#buses.get(found.id);
        return stored === undefined ? undefined : this.#attachTo(stored, target, member);
      });
      if (attached !== undefined) return { bus: attached, created: false };
    }
    // No bus of that name (or it went meanwhile): made under the topology key, so that two first members make one.
    return this.#topology([target.bus], () => {
      const stored = this.#namedOnce(target.bus);
      if (stored !== undefined) return { bus: this.#attachTo(stored, target, member), created: false };
      if (target.create !== true) throw new UnknownBusError(target.bus, 'name');
      const bus: Bus = {
        id: `${TRANSIENT_ID_PREFIX}${target.bus}`,
        name: target.bus,
        fd: target.fd ?? false,
        transient: true,
        members: [],
        ...(target.annotations === undefined ? {} : { annotations: { ...target.annotations } }),
      };
      if (this.#buses.has(bus.id))
        throw new BusConflictError(
          `a bus with id ${bus.id} exists already, named ${this.#buses.get(bus.id)?.name ?? ''}`,
          'give this bus another name',
        );
      const next = withMember(bus, { ...member, since: member.since ?? this.#now().toISOString() });
      this.#changeTopology(new Map(this.#buses).set(next.id, next), this.#gateways, [next.name]);
      return { bus: next, created: true };
    });
  }

  /** The bus of that name; refused when several have it (members attach by name, so it must say which). */
  #namedOnce(name: string): Bus | undefined {
    const found = [...this.#buses.values()].filter((bus) => bus.name === name);
    if (found.length > 1)
      throw new BusConflictError(
        `${found.length} buses are named ${name} (ids ${found.map((bus) => bus.id).join(', ')})`,
        'remove or rename all but one',
      );
    return found[0];
  }

  /** Adds the member to a bus found by name (its queue key held), checking the frames it asks for. */
  #attachTo(stored: Bus, target: AttachTarget, member: Member): Bus {
    if (target.fd !== undefined && target.fd !== stored.fd) {
      throw new BusConflictError(
        `bus ${stored.name} carries ${stored.fd ? 'CAN FD' : 'classic CAN'} frames, and this member asks for ${target.fd ? 'CAN FD' : 'classic CAN'}`,
        `leave fd out to take the bus as it is, or set it to ${String(stored.fd)}`,
      );
    }
    return this.#join(stored, member);
  }

  /**
   * Removes a member from the bus of that name; a transient bus left with nothing on it goes too. Unknown buses
   * and members are no error (false): leaving twice is leaving.
   */
  async detachMember(busName: string, memberId: string): Promise<{ readonly removed: boolean; readonly busRemoved: boolean }> {
    const found = this.#namedOnce(busName);
    if (found === undefined) return { removed: false, busRemoved: false };
    const removed = await this.removeMember(found.id, memberId);
    return { removed, busRemoved: await this.#retireIfUnused(found.id) };
  }

  /** Removes a transient bus with nothing left on it (true if it went). Hand-made gateways naming it wait for it. */
  async #retireIfUnused(id: string): Promise<boolean> {
    const bus = this.#buses.get(id);
    if (bus === undefined || !unused(bus)) return false;
    return this.#topology([bus.name], () => {
      const current = this.#buses.get(id);
      if (current === undefined || !unused(current)) return false;
      const buses = new Map(this.#buses);
      buses.delete(id);
      this.#changeTopology(buses, this.#gateways, [current.name]);
      return true;
    });
  }

  /** Removes a member and its wiring; false if the bus or the member was unknown. */
  removeMember(busId: string, memberId: string): Promise<boolean> {
    return this.#queue.run(busId, () => {
      const stored = this.#buses.get(busId);
      if (stored?.members.some((m) => m.id === memberId) !== true) return false;
      const bus = this.#prune(stored);
      this.#commit(bus, withoutMember(bus, memberId), { trustRules: true });
      return true;
    });
  }

  /**
   * Drops handed-over members whose pair is gone: their container's namespace died and took the pair along (a
   * stopped container whose membership was never ended, a reboot). They cannot be rewired: the engine gives a
   * restarted container a new member. Drops members made in a namespace file that is gone too, for the same
   * reason. With `unmoved`, also drops handed-over members whose end is still where it was made longer than the
   * grace period after joining: orphans of a request cut short (a crash, an engine that gave up).
   */
  #prune(bus: Bus, options: { unmoved?: boolean } = {}): Bus {
    if (!bus.members.some((member) => member.end.handover === true || member.end.netns !== undefined)) return bus;
    const presence = new Map(this.#reconciler.presence(bus, { ends: options.unmoved === true }).map((p) => [p.memberId, p]));
    const overdue = (member: Member): boolean =>
      member.since === undefined || this.#now().getTime() - Date.parse(member.since) > this.#graceMs;
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
      this.#log.warn(`member dropped: ${why}`, { bus: bus.name, member: member.id });
    }
    return { ...bus, members: bus.members.filter((member) => !dropped.includes(member)) };
  }

  /** Wires `next`, then persists it; on a failure the kernel and the state stay as they were (`previous`). */
  #commit(previous: Bus | undefined, next: Bus, options: { trustRules?: boolean } = {}): void {
    this.#apply(next, options);
    this.#buses.set(next.id, next);
    try {
      this.#save();
    } catch (error) {
      if (previous === undefined) {
        this.#buses.delete(next.id);
        this.#reconciler.remove(next.id);
      } else {
        this.#buses.set(previous.id, previous);
        this.#apply(previous);
      }
      throw new StateWriteError(this.#store.path, error);
    }
  }

  /** The bus's ports for its wired gateways whose other bus has its namespace (see #changeTopology). */
  #portsOf(bus: Bus, buses: ReadonlyMap<string, Bus> = this.#buses, gateways: readonly Gateway[] = this.#gateways): GatewayPort[] {
    return gatewayPorts(bus, gateways, [...buses.values()], busMtu).filter((port) =>
      this.#kernel.namespaces.exists(busNamespace(port.peer.namespaceOf)),
    );
  }

  /** Wires a bus; `drift` when nothing was asked of it, so every change made corrects drift. */
  #apply(bus: Bus, options: { drift?: boolean; trustRules?: boolean } = {}): Change[] {
    this.#stats.runs += 1;
    let changes: Change[];
    try {
      changes = this.#reconciler.apply(bus, this.#attachmentsOf(bus), options.trustRules === true ? { trustRules: true } : {});
    } catch (error) {
      this.#stats.failures += 1;
      throw error;
    }
    this.#stats.changes += changes.length;
    if (options.drift === true) this.#stats.driftCorrections += changes.length;
    // What the uplinks' interfaces were when wired: watchUplinks rewires when that changes.
    for (const uplink of bus.uplinks ?? [])
      this.#uplinkSignatures.set(`${bus.id}\0${uplink.interface}`, this.#interfaceSignature(uplink.interface));
    return changes;
  }

  /** The bus's gateway ports and uplinks, as the kernel finds them now. */
  #attachmentsOf(bus: Bus): BusAttachments {
    return { gateways: this.#portsOf(bus), uplinks: (bus.uplinks ?? []).map((uplink) => this.#uplinkPort(bus, uplink)) };
  }

  #uplinkPort(bus: Bus, uplink: Uplink): UplinkPort {
    const link = this.#hostLink(uplink.interface);
    const present = link?.type === ARPHRD_CAN;
    return { uplink, present, fd: present && (link.mtu ?? 0) >= CAN_LINK_MTU.fd && bus.fd };
  }

  #hostLink(name: string): Link | undefined {
    const host = this.#kernel.route(CURRENT_NETNS);
    try {
      return host.findLink(name);
    } finally {
      host.close();
    }
  }

  /** The buses joined by a gateway to a bus of one of these names. */
  #neighbours(
    names: readonly string[],
    gateways: readonly Gateway[] = this.#gateways,
    buses: ReadonlyMap<string, Bus> = this.#buses,
  ): Bus[] {
    const wanted = new Set<string>();
    for (const gateway of gateways) {
      if (names.includes(gateway.source)) wanted.add(gateway.destination);
      if (names.includes(gateway.destination)) wanted.add(gateway.source);
    }
    return [...buses.values()].filter((bus) => wanted.has(bus.name) || names.includes(bus.name));
  }

  /**
   * Runs a change of buses or gateways holding the topology key and the keys of every bus it may touch: those
   * named, and those joined to them by a gateway (looked up once the topology key is held, so the set is current).
   */
  #topology<T>(names: readonly string[], task: () => T): Promise<T> {
    return this.#queue.run(TOPOLOGY, () =>
      this.#queue.runAll(
        this.#neighbours(names).map((bus) => bus.id),
        task,
      ),
    );
  }

  /** `gateways` with `gateway` added, replacing one from the same source to the same destination. */
  #withGateway(gateways: readonly Gateway[], gateway: Gateway): Gateway[] {
    const key = gatewayKey(gateway);
    const others = gateways.filter((existing) => gatewayKey(existing) !== key);
    const same = gateways.filter((existing) => gatewayKey(existing) === key);
    for (const existing of same) {
      if (existing.declaredBy !== gateway.declaredBy) {
        const owner =
          existing.declaredBy === undefined
            ? 'added by hand (cantainer gateway add)'
            : `part of bus ${this.#buses.get(existing.declaredBy)?.name ?? existing.declaredBy}'s settings`;
        throw new BusConflictError(
          `${gateway.source} and ${gateway.destination} are joined already by the gateway ${describeGateway(existing)}, ${owner}`,
          'remove that gateway first',
        );
      }
      const sameDirection = existing.source === gateway.source && existing.destination === gateway.destination;
      if (!sameDirection && (existing.both || gateway.both) && !(existing.both && gateway.both)) {
        throw new BusConflictError(
          `${gateway.source} and ${gateway.destination} are joined already by the gateway ${describeGateway(existing)}`,
          `remove it first (cantainer gateway rm ${existing.source} ${existing.destination}), or add this one with --both to replace it`,
        );
      }
    }
    // The same direction (or both ways) is replaced; the other direction stays beside it.
    const kept = same.filter(
      (existing) =>
        !gateway.both && !existing.both && !(existing.source === gateway.source && existing.destination === gateway.destination),
    );
    const next = [...others, ...kept, gateway];
    const cycle = findCycle(next);
    if (cycle !== undefined) {
      throw new BusConflictError(
        `the gateway ${describeGateway(gateway)} would close a cycle: ${cycle.join(' -> ')}`,
        'frames would come back to the bus they came from; gateways must not join buses in a ring',
      );
    }
    return next;
  }

  /**
   * Makes `buses` and `gateways` the desired state: wires every bus whose plan may change (those named and their
   * neighbours, before and after), then persists. On a failure everything is put back as it was. A gateway's pair
   * is created by whichever of its buses is wired first once both namespaces exist, so buses are wired twice.
   */
  #changeTopology(buses: ReadonlyMap<string, Bus>, gateways: readonly Gateway[], names: readonly string[]): void {
    const before = { buses: this.#buses, gateways: this.#gateways };
    const touched = new Map<string, Bus>();
    for (const bus of [...this.#neighbours(names, before.gateways, before.buses), ...this.#neighbours(names, gateways, buses)])
      touched.set(bus.id, bus);
    this.#buses = new Map(buses);
    this.#gateways = [...gateways];
    const wire = (): void => {
      for (const id of [...touched.keys(), ...touched.keys()]) {
        const bus = this.#buses.get(id);
        if (bus === undefined) this.#reconciler.remove(id);
        else this.#apply(bus);
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
        this.#log.warn('putting buses back after a failed change failed too; retried on the next change', {
          error: errorMessage(undoError),
        });
      }
      if (error instanceof CantainerError) throw error;
      throw new StateWriteError(this.#store.path, error);
    }
  }

  #save(): void {
    const state: DesiredState = { buses: [...this.#buses.values()], gateways: this.#gateways };
    this.#store.save(state);
    this.#announce();
    this.#log.debug('state saved', { buses: state.buses.length, path: this.#store.path });
  }
}
