// Changes to the set of buses and gateways of a host: creating, naming and removing buses, adding and removing
// gateways. Each runs under the topology key with every bus it may touch (BusCore.topology), and wires all of them
// in one change that is undone as a whole when any part fails.
import { BusConflictError, UnknownBusError } from '../errors.js';
import { checkGateway, normaliseGateway, type Gateway } from '../bus/gateway.js';
import { gatewaysWithout, removableGateway, withGateway } from '../bus/gateway-set.js';
import { absorb, checkBus, unused, type Bus } from '../bus/model.js';
import { checkListenFree } from '../bus/claims.js';
import type { BusCore, GatewayView } from './core.js';

/**
 * Creates a bus with its initial members. Creating it again with the same settings wires it again and succeeds;
 * with different settings it is refused.
 */
export function createBus(core: BusCore, bus: Bus, options: { gateways?: readonly Gateway[] } = {}): Promise<Bus> {
  checkBus(bus);
  const declared = (options.gateways ?? []).map((gateway) => normaliseGateway({ ...gateway, declaredBy: bus.id }));
  for (const gateway of declared) checkGateway(gateway);
  const names = [bus.name, ...declared.flatMap((gateway) => [gateway.source, gateway.destination])];
  return core.topology(names, () => {
    const stored = core.buses.get(bus.id);
    if (stored !== undefined && stored.fd !== bus.fd) {
      throw new BusConflictError(
        `bus ${stored.name} exists already, with fd=${stored.fd}`,
        'remove it first, or create it with the same settings',
      );
    }
    const existing = stored === undefined ? undefined : core.prune(stored);
    const next = existing ?? bus;
    if (existing === undefined) for (const uplink of bus.uplinks ?? []) core.interfaces.check(core.buses.values(), bus, uplink);
    if (existing === undefined) for (const tunnel of bus.tunnels ?? []) checkListenFree(core.buses.values(), bus.id, tunnel);
    let gateways = core.gateways.filter((gateway) => gateway.declaredBy !== bus.id);
    for (const gateway of declared) gateways = withGateway(gateways, gateway, core.busName);
    core.changeTopology(new Map(core.buses).set(next.id, next), gateways, [next.name, ...names]);
    return next;
  });
}

/**
 * Gives a bus the name users know it by, once known (a front door may learn it only after creating the bus).
 * Gateways naming it are wired now; those it declares follow it.
 */
export function renameBus(core: BusCore, id: string, name: string, declared?: readonly Gateway[]): Promise<Bus> {
  const redeclared = declared?.map((gateway) => normaliseGateway({ ...gateway, declaredBy: id }));
  for (const gateway of redeclared ?? []) checkGateway(gateway);
  const names = [name, core.busName(id) ?? name, ...(redeclared ?? []).flatMap((gateway) => [gateway.source, gateway.destination])];
  return core.topology(names, () => {
    const stored = core.buses.get(id);
    if (stored === undefined) throw new UnknownBusError(id);
    // A transient bus of that name (made by members of another front door) becomes part of this one.
    const twin = [...core.buses.values()].find((other) => other.id !== id && other.name === name && other.transient === true);
    const bus = twin === undefined ? { ...stored, name } : absorb({ ...stored, name }, twin);
    checkBus(bus);
    const buses = new Map(core.buses).set(id, bus);
    if (twin !== undefined) {
      buses.delete(twin.id);
      // Its pairs go first: their ends in the members' namespaces carry the names the new pairs take.
      core.unwire(twin.id);
      core.log.info('a transient bus of the same name joined this bus', { bus: name, members: twin.members.length });
    }
    let gateways: Gateway[];
    if (redeclared === undefined) {
      gateways = core.gateways.map((gateway) =>
        gateway.declaredBy !== id
          ? gateway
          : {
              ...gateway,
              source: gateway.source === stored.name ? name : gateway.source,
              destination: gateway.destination === stored.name ? name : gateway.destination,
            },
      );
    } else {
      gateways = core.gateways.filter((gateway) => gateway.declaredBy !== id);
      for (const gateway of redeclared) gateways = withGateway(gateways, gateway, core.busName);
    }
    core.changeTopology(buses, gateways, [stored.name, ...names]);
    return bus;
  });
}

/** Removes a bus and everything wired for it; false if there was none. */
export function removeBus(core: BusCore, id: string): Promise<boolean> {
  return core.topology([core.busName(id) ?? id], () => {
    const existing = core.buses.get(id);
    // Removing the namespace of an unknown bus too: it may be a leftover of a lost state.
    if (existing === undefined) return core.unwire(id);
    core.drop(existing, gatewaysWithout(core.gateways, existing));
    return true;
  });
}

/**
 * Adds a gateway, or replaces the one from the same source to the same destination. It is wired at once when
 * both buses exist, and waits for a missing one otherwise. A gateway that would close a cycle is refused.
 */
export function addGateway(core: BusCore, input: Gateway): Promise<GatewayView> {
  const gateway = normaliseGateway(input);
  checkGateway(gateway);
  return core.topology([gateway.source, gateway.destination], () => {
    const [source, destination] = [core.byName(gateway.source), core.byName(gateway.destination)];
    // Both buses known: check the edits against their frame kinds now rather than leaving it refused.
    if (source !== undefined && destination !== undefined) checkGateway(gateway, source.fd && destination.fd);
    const next = withGateway(core.gateways, gateway, core.busName);
    core.changeTopology(core.buses, next, [gateway.source, gateway.destination]);
    const view = core.gatewayViews().find((candidate) => candidate.gateway === gateway);
    if (view === undefined) throw new Error('the gateway vanished while it was added');
    return view;
  });
}

/** Removes the gateway from `source` to `destination` (a both-ways one by either order); returns it, or undefined if none. */
export function removeGateway(core: BusCore, source: string, destination: string): Promise<Gateway | undefined> {
  return core.topology([source, destination], () => {
    const found = removableGateway(core.gateways, source, destination, core.busName);
    if (found === undefined) return undefined;
    core.changeTopology(
      core.buses,
      core.gateways.filter((gateway) => gateway !== found),
      [source, destination],
    );
    return found;
  });
}

/** Removes a transient bus with nothing left on it (true if it went). Hand-made gateways naming it wait for it. */
export async function retireIfUnused(core: BusCore, id: string): Promise<boolean> {
  const bus = core.buses.get(id);
  if (bus === undefined || !unused(bus)) return false;
  return core.topology([bus.name], () => {
    const current = core.buses.get(id);
    if (current === undefined || !unused(current)) return false;
    const buses = new Map(core.buses);
    buses.delete(id);
    core.changeTopology(buses, core.gateways, [current.name]);
    return true;
  });
}
