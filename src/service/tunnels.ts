// Tunnels as members of their bus: a tunnel's pair is wired like a member's end; the daemon's tunnel host runs
// the tunnel itself. No two tunnels of this host listen on the same transport, address and port. A spanned bus's
// tunnel (named span) is kept by the daemon from what the nodes are, never by hand.
import { networkInterfaces } from 'node:os';
import { InvalidValueError, UnknownBusError, errorMessage } from '../errors.js';
import { checkListenFree } from '../bus/claims.js';
import type { Bus } from '../bus/model.js';
import { checkTunnel, formatAddress, type Tunnel } from '../bus/tunnel.js';
import { planSpan, SPAN_TUNNEL, type Span, type SpanNodes, type SpanPlan } from '../bus/span.js';
import type { BusCore } from './core.js';
import { retireIfUnused } from './topology.js';

/** Adds a tunnel to a bus, or changes the settings of the one of that name. */
export function addTunnel(core: BusCore, busName: string, tunnel: Tunnel): Promise<Bus> {
  checkTunnel(tunnel);
  return core.onNamedBus(busName, (stored) => {
    if (stored === undefined) throw new UnknownBusError(busName, 'name');
    refuseSpanTunnel(stored, tunnel.name);
    checkListenFree(core.buses.values(), stored.id, tunnel);
    const bus = core.prune(stored);
    const next = withTunnel(bus, tunnel.name, tunnel);
    core.commit(bus, next);
    return next;
  });
}

/** The span's own tunnel is the daemon's to keep: no request adds, changes or removes it by hand. */
function refuseSpanTunnel(bus: Bus, name: string): void {
  if (bus.span !== undefined && name === SPAN_TUNNEL)
    throw new InvalidValueError(
      'tunnel name',
      name,
      `another name: "${SPAN_TUNNEL}" is the tunnel the span of bus ${bus.name} keeps itself`,
    );
}

/** `bus` with its tunnel `name` replaced by `tunnel`, or removed when `tunnel` is undefined. */
function withTunnel(bus: Bus, name: string, tunnel: Tunnel | undefined): Bus {
  const tunnels = [...(bus.tunnels ?? []).filter((t) => t.name !== name), ...(tunnel === undefined ? [] : [tunnel])];
  const { tunnels: _dropped, ...rest } = bus;
  return tunnels.length === 0 ? rest : { ...rest, tunnels };
}

/**
 * Makes a spanned bus's tunnel what the nodes call for: the hub's server or a spoke's client (bus/span.ts), changed
 * when the hub or the nodes change, gone while no hub is known. `nodes` undefined (the orchestrator did not answer)
 * changes nothing: a tunnel is not torn down for a missed answer. Returns the plan, or undefined for a bus without
 * a span (or gone).
 */
export function keepSpan(core: BusCore, busId: string, nodes: SpanNodes | undefined): Promise<SpanPlan | undefined> {
  return core.onBus(busId, () => {
    const stored = core.buses.get(busId);
    if (stored?.span === undefined || nodes === undefined) return undefined;
    const plan = planSpan(stored.id, stored.span, nodes);
    if (plan === undefined) core.spanPlans.delete(busId);
    else core.spanPlans.set(busId, plan);
    const wanted = plan?.tunnel;
    const current = stored.tunnels?.find((tunnel) => tunnel.name === SPAN_TUNNEL);
    if (JSON.stringify(current) === JSON.stringify(wanted)) return plan;
    if (wanted !== undefined) checkListenFree(core.buses.values(), stored.id, wanted);
    const bus = core.prune(stored);
    core.commit(bus, withTunnel(bus, SPAN_TUNNEL, wanted));
    return plan;
  });
}

/** Removes a tunnel from a bus with its pair; false if the bus had none of that name. */
export async function removeTunnel(core: BusCore, busName: string, name: string): Promise<boolean> {
  const removed = await core.onNamedBus(busName, (stored) => {
    if (stored?.tunnels?.some((tunnel) => tunnel.name === name) !== true) return undefined;
    refuseSpanTunnel(stored, name);
    const bus = core.prune(stored);
    core.commit(bus, withTunnel(bus, name, undefined));
    return bus.id;
  });
  if (removed !== undefined) await retireIfUnused(core, removed);
  return removed !== undefined;
}

/** A spanned bus whose plan changed in a round, with its hub written out. */
export interface SpanChange {
  readonly bus: string;
  readonly plan?: SpanPlan;
  readonly hub?: string;
}

/** Where the nodes of spans come from: the swarm orchestrator (asked once a round), and this host's addresses. */
export interface SpanSources {
  readonly swarm?: () => Promise<SpanNodes | undefined>;
  readonly localAddresses?: () => readonly string[];
}

/** This host's IP addresses: a span of nodes named in configuration finds itself among them. */
export function hostAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((addresses) => addresses ?? [])
    .map((address) => address.address);
}

/**
 * One round of keeping every spanned bus's tunnel: the orchestrator asked once for all swarm spans, each bus kept
 * on its own (a bus that fails is logged and the others still kept). Returns the buses whose plan changed.
 */
export async function keepSpans(core: BusCore, sources: SpanSources): Promise<SpanChange[]> {
  const spanned = [...core.buses.values()].filter((bus): bus is typeof bus & { span: Span } => bus.span !== undefined);
  for (const id of core.spanPlans.keys()) if (core.buses.get(id)?.span === undefined) core.spanPlans.delete(id);
  if (spanned.length === 0) return [];
  const swarm = spanned.some((bus) => bus.span.mode === 'swarm')
    ? await (sources.swarm?.() ?? Promise.resolve(undefined)).catch((error: unknown) => {
        core.log.debug('the swarm did not say which nodes there are', { err: errorMessage(error) });
        return undefined;
      })
    : undefined;
  const local: SpanNodes = { self: (sources.localAddresses ?? hostAddresses)(), managers: [] };
  const changed: SpanChange[] = [];
  for (const bus of spanned) {
    const before = JSON.stringify(core.spanPlans.get(bus.id));
    try {
      const plan = await keepSpan(core, bus.id, bus.span.mode === 'swarm' ? swarm : local);
      if (JSON.stringify(core.spanPlans.get(bus.id)) !== before)
        changed.push({ bus: bus.name, ...(plan === undefined ? {} : { plan, hub: formatAddress(plan.hub.host, plan.hub.port) }) });
    } catch (error) {
      core.log.error('keeping the span of a bus failed', { bus: bus.name, err: errorMessage(error) });
    }
  }
  return changed;
}
