// The timed buses of this host, by bus id: made, rewired and closed as the buses are wired (see service/core.ts),
// so that a member's frames are taken by the arbiter from the moment its join is answered.
import type { BusPlan } from '../bus/plan.js';
import type { KernelPort } from '../kernel/port.js';
import type { Logger } from '../log.js';
import { TimedBus, type TimedBusStats } from './timed-bus.js';

export class TimedBuses {
  readonly #kernel: KernelPort;
  readonly #log: Logger;
  readonly #buses = new Map<string, TimedBus>();

  constructor(kernel: KernelPort, log: Logger) {
    this.#kernel = kernel;
    this.#log = log;
  }

  /** Follows a bus's plan, just wired: an untimed plan closes the bus's arbiter if it had one. Throws as TimedBus.wire. */
  wire(plan: BusPlan): void {
    const timing = plan.timing;
    let bus = this.#buses.get(plan.busId);
    if (timing === undefined || bus?.differs(timing) === true) {
      this.remove(plan.busId);
      bus = undefined;
    }
    if (timing === undefined) return;
    if (bus === undefined) {
      bus = new TimedBus({
        kernel: this.#kernel,
        log: this.#log,
        namespace: plan.namespace,
        busName: plan.busName,
        fd: plan.mtu > 16,
        timing,
      });
      this.#buses.set(plan.busId, bus);
    }
    bus.wire(timing);
  }

  remove(busId: string): void {
    this.#buses.get(busId)?.close();
    this.#buses.delete(busId);
  }

  stats(busId: string): TimedBusStats | undefined {
    return this.#buses.get(busId)?.stats();
  }

  close(): void {
    for (const id of [...this.#buses.keys()]) this.remove(id);
  }
}
