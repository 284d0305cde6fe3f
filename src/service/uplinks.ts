// Uplinks: existing CAN interfaces of the host joined to buses, never moved or deleted, and wired again when they
// come back after going away.
import { UnknownBusError } from '../errors.js';
import { checkUplink, normaliseUplink, type Uplink } from '../bus/uplink.js';
import type { BusCore } from './core.js';
import { retireIfUnused } from './topology.js';
import type { UplinkView } from './uplink-interfaces.js';

/** Every uplink of every bus, with whether its interface is there. */
export function uplinkViews(core: BusCore): UplinkView[] {
  return [...core.buses.values()].flatMap((bus) => (bus.uplinks ?? []).map((uplink) => core.interfaces.view(bus, uplink)));
}

/**
 * Joins an existing CAN interface of the daemon's namespace to a bus, or changes the settings of its uplink. The
 * interface must exist, be CAN and belong to no other bus; it is never moved or deleted.
 */
export function addUplink(core: BusCore, busName: string, input: Uplink): Promise<UplinkView> {
  const uplink = normaliseUplink(input);
  checkUplink(uplink);
  return core.onNamedBus(busName, (stored) => {
    if (stored === undefined) throw new UnknownBusError(busName, 'name');
    core.interfaces.check(core.buses.values(), stored, uplink);
    const bus = core.prune(stored);
    const next = { ...bus, uplinks: [...(bus.uplinks ?? []).filter((u) => u.interface !== uplink.interface), uplink] };
    core.commit(bus, next);
    return core.interfaces.view(next, uplink);
  });
}

/** Detaches an interface from a bus: the rules and the pair go, the interface stays. False if it had no uplink. */
export async function removeUplink(core: BusCore, busName: string, iface: string): Promise<boolean> {
  const removed = await core.onNamedBus(busName, (stored) => {
    if (stored?.uplinks?.some((uplink) => uplink.interface === iface) !== true) return undefined;
    const bus = core.prune(stored);
    core.commit(bus, { ...bus, uplinks: (bus.uplinks ?? []).filter((uplink) => uplink.interface !== iface) });
    return bus.id;
  });
  if (removed !== undefined) await retireIfUnused(core, removed);
  return removed !== undefined;
}

/**
 * Rewires uplinks whose interface came or went since the last call (an adapter unplugged and plugged in again,
 * a vcan deleted and made again). Returns what changed, for the log and for events.
 */
export async function watchUplinks(core: BusCore): Promise<UplinkView[]> {
  const changed: UplinkView[] = [];
  for (const bus of [...core.buses.values()]) {
    if ((bus.uplinks ?? []).length === 0) continue;
    const views = await core.onBus(bus.id, () => {
      const current = core.buses.get(bus.id);
      if (current === undefined) return [];
      const moved = core.interfaces.moved(current);
      if (moved.length === 0) return [];
      core.rewire(current.id);
      const views = moved.map((uplink) => core.interfaces.view(current, uplink));
      core.announce(
        views.map((view) => ({
          time: core.now().toISOString(),
          type: view.state === 'up' ? 'uplink-up' : 'uplink-down',
          bus: view.bus,
          interface: view.uplink.interface,
          ...(view.detail === undefined ? {} : { detail: view.detail }),
        })),
      );
      return views;
    });
    changed.push(...views);
  }
  return changed;
}
