// Faults on demand: added to a bus (kept with it, so a restart keeps them), removed by hand, and ended when their
// time is up. Wiring follows from the bus (bus/plan.ts, timing/): a member cut off loses its rules, losses and delays
// go through the arbiter.
import { UnknownBusError, InvalidValueError } from '../errors.js';
import { checkBus, type Bus } from '../bus/model.js';
import { checkFault, nextFaultId, type Fault } from '../bus/fault.js';
import type { BusCore } from './core.js';

/** A fault as asked for: what it does, to whom, for how long (the service gives it its id and its end). */
export type FaultRequest = Omit<Fault, 'id' | 'until'> & { readonly forMs?: number };

/** Adds a fault to the bus named `busName`; returns it with its id. */
export function addFault(core: BusCore, busName: string, request: FaultRequest): Promise<Fault> {
  return core.onNamedBus(busName, (stored) => {
    if (stored === undefined) throw new UnknownBusError(busName, 'name');
    const bus = core.prune(stored);
    const { forMs, ...what } = request;
    const fault: Fault = {
      id: nextFaultId(bus.faults),
      ...what,
      ...(forMs === undefined ? {} : { until: new Date(core.now().getTime() + forMs).toISOString() }),
    };
    checkFault(fault, (key) => (key === 'id' || key === 'kind' || key === 'until' ? `fault ${key}` : `--${key}`));
    if (fault.member !== undefined && !bus.members.some((member) => member.id === fault.member))
      throw new InvalidValueError('--member', fault.member, `a member of bus ${bus.name}`);
    const next: Bus = { ...bus, faults: [...(bus.faults ?? []), fault] };
    checkBus(next);
    core.commit(bus, next);
    return fault;
  });
}

/** Removes faults of a bus by id (all of them when `ids` is empty); returns those removed. Unknown ids are refused. */
export function removeFaults(core: BusCore, busName: string, ids: readonly string[]): Promise<Fault[]> {
  return core.onNamedBus(busName, (stored) => {
    if (stored === undefined) throw new UnknownBusError(busName, 'name');
    const faults = stored.faults ?? [];
    const unknown = ids.filter((id) => !faults.some((fault) => fault.id === id));
    if (unknown.length > 0)
      throw new InvalidValueError(
        'fault',
        unknown.join(', '),
        faults.length === 0
          ? `none: bus ${stored.name} has no fault`
          : `a fault of bus ${stored.name}: ${faults.map((f) => f.id).join(', ')}`,
      );
    const removed = ids.length === 0 ? [...faults] : faults.filter((fault) => ids.includes(fault.id));
    if (removed.length > 0)
      core.commit(
        stored,
        withFaults(
          stored,
          faults.filter((fault) => !removed.includes(fault)),
        ),
      );
    return removed;
  });
}

/** Ends the faults whose time is up, on every bus; returns how many ended. Run now and then by the daemon. */
export async function expireFaults(core: BusCore): Promise<number> {
  let ended = 0;
  for (const bus of [...core.buses.values()]) {
    if (!(bus.faults ?? []).some((fault) => fault.until !== undefined)) continue;
    ended += await core.onBus(bus.id, () => {
      const stored = core.buses.get(bus.id);
      const now = core.now().getTime();
      const kept = (stored?.faults ?? []).filter((fault) => fault.until === undefined || Date.parse(fault.until) > now);
      if (stored === undefined || kept.length === (stored.faults ?? []).length) return 0;
      core.commit(stored, withFaults(stored, kept));
      return (stored.faults ?? []).length - kept.length;
    });
  }
  return ended;
}

/** Every fault of every bus, with its bus. */
export function faultViews(core: BusCore): Array<{ readonly bus: Bus; readonly fault: Fault }> {
  return [...core.buses.values()].flatMap((bus) => (bus.faults ?? []).map((fault) => ({ bus, fault })));
}

function withFaults(bus: Bus, faults: readonly Fault[]): Bus {
  const { faults: _gone, ...rest } = bus;
  return faults.length === 0 ? rest : { ...rest, faults };
}
