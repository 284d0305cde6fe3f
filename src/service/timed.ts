// Timed buses in a transaction: once the reconciler has wired a bus, its arbiter takes the senders of the new plan
// before the change is answered, so that no frame of a member that just joined goes untimed or unread.
import type { Bus } from '../bus/model.js';
import { planBus, throughArbiter, type BusAttachments } from '../bus/plan.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { TimedBuses } from '../timing/buses.js';

/** What wiring a timed bus needs of the transaction core. */
export interface TimingContext {
  readonly timing: TimedBuses;
  readonly buses: ReadonlyMap<string, Bus>;
  readonly log: Logger;
  unwire(id: string): boolean;
  apply(bus: Bus): unknown;
}

/**
 * Gives the arbiters `bus` as just wired (a bus whose frames do not go through the daemon has none: see unwireTiming). When the arbiter cannot take it, the kernel is
 * put back as the stored bus has it (or the new bus removed), and the error goes on: the change is refused.
 */
export function wireTiming(core: TimingContext, bus: Bus, attachments: BusAttachments): void {
  try {
    if (throughArbiter(bus)) core.timing.wire(planBus(bus, attachments));
  } catch (error) {
    const stored = core.buses.get(bus.id);
    try {
      if (stored === undefined) core.unwire(bus.id);
      else if (stored !== bus) core.apply(stored);
    } catch (undoError) {
      core.log.warn('putting a timed bus back after a failed change failed too; retried on the next change', {
        bus: bus.name,
        error: errorMessage(undoError),
      });
    }
    throw error;
  }
}

/**
 * Before a bus is wired: a bus whose frames no longer go through the arbiter loses it first, so that no frame goes
 * both through it and through the kernel's rules once they lead straight from sender to receiver. Frames it held are
 * lost then (counted until it closes), never delivered twice.
 */
export function unwireTiming(core: Pick<TimingContext, 'timing'>, bus: Bus): void {
  if (!throughArbiter(bus)) core.timing.remove(bus.id);
}
