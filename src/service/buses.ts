// The bus service: the one object the daemon's front doors ask of the buses of this host. Each method is an operation of its own module (members, topology, uplinks, tunnels,
// inspection) run on the transaction core (core.ts), which serialises, wires, persists and undoes.
import type { NetnsTarget } from '../kernel/port.js';
import type { Bus, Member } from '../bus/model.js';
import type { Gateway } from '../bus/gateway.js';
import type { Tunnel } from '../bus/tunnel.js';
import type { SpanNodes, SpanPlan } from '../bus/span.js';
import type { Uplink } from '../bus/uplink.js';
import type { Change } from '../reconcile/reconciler.js';
import { BusCore, type BusServiceOptions, type GatewayView, type ReconcileStats, type StartReport } from './core.js';
import type { BusEvent } from './events.js';
import * as inspection from './inspection.js';
import * as members from './members.js';
import * as topology from './topology.js';
import * as tunnels from './tunnels.js';
import * as uplinks from './uplinks.js';
import * as faults from './faults.js';
import type { Fault } from '../bus/fault.js';
import type { UplinkView } from './uplink-interfaces.js';
import type { TimedBusStats } from '../timing/timed-bus.js';

export { DEFAULT_TAKEOVER_GRACE_MS } from './core.js';
export type { BusServiceOptions, GatewayView, ReconcileStats, StartReport } from './core.js';
export type { BusObservation } from './inspection.js';
export { TRANSIENT_ID_PREFIX, type AttachTarget } from './members.js';
export type { UplinkView } from './uplink-interfaces.js';
export type { SpanSources } from './tunnels.js';
export type { TimedBusStats } from '../timing/timed-bus.js';
export type { FaultRequest } from './faults.js';

export class BusService {
  readonly #core: BusCore;

  constructor(options: BusServiceOptions) {
    this.#core = new BusCore(options);
  }

  /** Loads the state and wires every bus in it: after a restart, a crash or a reboot the kernel matches again. */
  start(): StartReport {
    return this.#core.start();
  }

  /** A timed bus's traffic so far (undefined for an untimed or unknown bus). */
  timing(busId: string): TimedBusStats | undefined {
    return this.#core.timing.stats(busId);
  }

  /** Adds a fault to a bus (by name): frames lost, delayed, or a member cut off. */
  addFault(busName: string, request: faults.FaultRequest): Promise<Fault> {
    return faults.addFault(this.#core, busName, request);
  }

  /** Removes faults of a bus by id, all of them when none is named; returns those removed. */
  removeFaults(busName: string, ids: readonly string[]): Promise<Fault[]> {
    return faults.removeFaults(this.#core, busName, ids);
  }

  /** Ends the faults whose time is up; returns how many. */
  expireFaults(): Promise<number> {
    return faults.expireFaults(this.#core);
  }

  /** Every fault of every bus. */
  faults(): Array<{ readonly bus: Bus; readonly fault: Fault }> {
    return faults.faultViews(this.#core);
  }

  /** Stops the arbiters of timed buses (the daemon is stopping; the buses stay wired). */
  close(): void {
    this.#core.timing.close();
  }

  list(): Bus[] {
    return [...this.#core.buses.values()];
  }

  get(id: string): Bus | undefined {
    return this.#core.buses.get(id);
  }

  /** The bus of that name, if exactly one has it. */
  byName(name: string): Bus | undefined {
    return this.#core.byName(name);
  }

  createBus(bus: Bus, options: { gateways?: readonly Gateway[] } = {}): Promise<Bus> {
    return topology.createBus(this.#core, bus, options);
  }

  renameBus(id: string, name: string, declared?: readonly Gateway[]): Promise<Bus> {
    return topology.renameBus(this.#core, id, name, declared);
  }

  removeBus(id: string): Promise<boolean> {
    return topology.removeBus(this.#core, id);
  }

  addMember(busId: string, member: Member): Promise<Bus> {
    return members.addMember(this.#core, busId, member);
  }

  removeMember(busId: string, memberId: string): Promise<boolean> {
    return members.removeMember(this.#core, busId, memberId);
  }

  attachMember(target: members.AttachTarget, member: Member): Promise<{ readonly bus: Bus; readonly created: boolean }> {
    return members.attachMember(this.#core, target, member);
  }

  detachMember(busName: string, memberId: string): Promise<{ readonly removed: boolean; readonly busRemoved: boolean }> {
    return members.detachMember(this.#core, busName, memberId);
  }

  /** Drops orphaned members of every bus; run now and then by the daemon. Returns how many. */
  sweepOrphans(): Promise<number> {
    return members.sweepOrphans(this.#core);
  }

  /** Every gateway with its status: wired, waiting for a bus, or refused (and why). */
  gateways(): GatewayView[] {
    return this.#core.gatewayViews();
  }

  addGateway(gateway: Gateway): Promise<GatewayView> {
    return topology.addGateway(this.#core, gateway);
  }

  removeGateway(source: string, destination: string): Promise<Gateway | undefined> {
    return topology.removeGateway(this.#core, source, destination);
  }

  /** Every uplink of every bus, with whether its interface is there. */
  uplinks(): UplinkView[] {
    return uplinks.uplinkViews(this.#core);
  }

  addUplink(busName: string, uplink: Uplink): Promise<UplinkView> {
    return uplinks.addUplink(this.#core, busName, uplink);
  }

  removeUplink(busName: string, iface: string): Promise<boolean> {
    return uplinks.removeUplink(this.#core, busName, iface);
  }

  /** Rewires uplinks whose interface came or went since the last call; returns what changed. */
  watchUplinks(): Promise<UplinkView[]> {
    return uplinks.watchUplinks(this.#core);
  }

  addTunnel(busName: string, tunnel: Tunnel): Promise<Bus> {
    return tunnels.addTunnel(this.#core, busName, tunnel);
  }

  removeTunnel(busName: string, name: string): Promise<boolean> {
    return tunnels.removeTunnel(this.#core, busName, name);
  }

  /** Keeps the tunnel of a spanned bus to its hub as the nodes call for (see tunnels.keepSpan). */
  keepSpan(busId: string, nodes: SpanNodes | undefined): Promise<SpanPlan | undefined> {
    return tunnels.keepSpan(this.#core, busId, nodes);
  }

  /** One round of keeping every spanned bus's tunnel; returns the buses whose plan changed. */
  keepSpans(sources: tunnels.SpanSources): Promise<tunnels.SpanChange[]> {
    return tunnels.keepSpans(this.#core, sources);
  }

  /** A spanned bus's last plan: its role, its hub, who may connect; undefined before the nodes were known. */
  spanPlan(busId: string): SpanPlan | undefined {
    return this.#core.spanPlans.get(busId);
  }

  check(id: string): Change[] {
    return inspection.check(this.#core, id);
  }

  observe(id: string): inspection.BusObservation {
    return inspection.observe(this.#core, id);
  }

  memberInterface(busId: string, memberId: string, netns: NetnsTarget): string | undefined {
    return inspection.memberInterface(this.#core, busId, memberId, netns);
  }

  memberProblems(busName: string, memberId: string): string[] {
    return inspection.memberProblems(this.#core, busName, memberId);
  }

  repair(id: string): Promise<Change[]> {
    return inspection.repair(this.#core, id);
  }

  verify(): Promise<Array<{ bus: string; changes: Change[] }>> {
    return inspection.verify(this.#core);
  }

  /** What the reconciler did since the service started, for metrics. */
  reconcileStats(): ReconcileStats {
    return this.#core.stats();
  }

  /** Calls `listener` with every lifecycle event from now on; returns the function that stops it. */
  onEvent(listener: (event: BusEvent) => void): () => void {
    return this.#core.onEvent(listener);
  }
}
