// Tunnels as members of their bus: a tunnel's pair is wired like a member's end; the daemon's tunnel host runs
// the tunnel itself. No two tunnels of this host listen on the same transport, address and port.
import { UnknownBusError } from '../errors.js';
import { checkListenFree } from '../bus/claims.js';
import type { Bus } from '../bus/model.js';
import { checkTunnel, type Tunnel } from '../bus/tunnel.js';
import type { BusCore } from './core.js';
import { retireIfUnused } from './topology.js';

/** Adds a tunnel to a bus, or changes the settings of the one of that name. */
export function addTunnel(core: BusCore, busName: string, tunnel: Tunnel): Promise<Bus> {
  checkTunnel(tunnel);
  return core.onNamedBus(busName, (stored) => {
    if (stored === undefined) throw new UnknownBusError(busName, 'name');
    checkListenFree(core.buses.values(), stored.id, tunnel);
    const bus = core.prune(stored);
    const next = { ...bus, tunnels: [...(bus.tunnels ?? []).filter((t) => t.name !== tunnel.name), tunnel] };
    core.commit(bus, next);
    return next;
  });
}

/** Removes a tunnel from a bus with its pair; false if the bus had none of that name. */
export async function removeTunnel(core: BusCore, busName: string, name: string): Promise<boolean> {
  const removed = await core.onNamedBus(busName, (stored) => {
    if (stored?.tunnels?.some((tunnel) => tunnel.name === name) !== true) return undefined;
    const bus = core.prune(stored);
    const tunnels = (bus.tunnels ?? []).filter((tunnel) => tunnel.name !== name);
    const { tunnels: _dropped, ...rest } = bus;
    core.commit(bus, tunnels.length === 0 ? rest : { ...rest, tunnels });
    return bus.id;
  });
  if (removed !== undefined) await retireIfUnused(core, removed);
  return removed !== undefined;
}
