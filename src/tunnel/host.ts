// The tunnels running in this daemon, made to match the buses' desired state: `sync` starts the tunnels the buses
// name, stops those they no longer name (or whose settings changed) and attaches each to its pair on the bus once
// the pair is there. The pair itself is the reconciler's, like any member's; this is only the traffic.
import type { Bus } from '../bus/model.js';
import { busNamespace } from '../bus/plan.js';
import { tunnelPortName, type Tunnel } from '../bus/tunnel.js';
import type { KernelPort } from '../kernel/port.js';
import type { Logger } from '../log.js';
import { BusSide, type TunnelCarrier } from './bus-side.js';
import { newCounters, type TunnelCounters } from './counters.js';
import { RateLimitedLog } from './warnings.js';
import { TcpClientCarrier, TcpServerCarrier, type StreamLimits } from './tcp.js';
import { UdpCarrier } from './udp.js';
import { errorMessage } from '../errors.js';

export type TunnelState = 'up' | 'failed';

export interface TunnelView {
  readonly busId: string;
  readonly bus: string;
  readonly tunnel: Tunnel;
  /** up: carrying frames (or, for a client, trying to reach its server); failed: could not start (detail says why). */
  readonly state: TunnelState;
  readonly detail?: string;
  /** TCP: the peers connected now. */
  readonly peers?: readonly string[];
  readonly counters: TunnelCounters;
}

interface Running {
  readonly busId: string;
  busName: string;
  readonly tunnel: Tunnel;
  /** The settings it was started with: a change restarts it. */
  readonly signature: string;
  readonly counters: TunnelCounters;
  readonly side: BusSide;
  readonly carrier: TunnelCarrier | undefined;
  readonly failure?: string;
}

const keyOf = (busId: string, name: string): string => `${busId}\0${name}`;

/**
 * Room for frames of the bus waiting for the tunnel (the kernel counts about 1 KiB per FD frame): tens of thousands,
 * so that a burst faster than the tunnel waits rather than being lost. Kernel memory, taken only while frames wait.
 */
const BUS_SIDE_BUFFER_BYTES = 32 * 1024 * 1024;

export class TunnelHost {
  readonly #kernel: KernelPort;
  readonly #log: Logger;
  readonly #warnings: RateLimitedLog;
  readonly #running = new Map<string, Running>();
  #syncing: Promise<unknown> = Promise.resolve();
  #closed = false;

  readonly #streamLimits: StreamLimits | undefined;

  constructor(options: { readonly kernel: KernelPort; readonly log: Logger; readonly streamLimits?: StreamLimits }) {
    this.#kernel = options.kernel;
    this.#log = options.log;
    this.#streamLimits = options.streamLimits;
    this.#warnings = new RateLimitedLog(options.log);
  }

  /**
   * Makes the running tunnels those of `buses`; one sync at a time. Returns the tunnels that could not start, by
   * bus id and name, with why (they are tried again on the next sync).
   */
  sync(buses: readonly Bus[]): Promise<ReadonlyMap<string, string>> {
    const next = this.#syncing.then(() => this.#sync(buses));
    this.#syncing = next.catch(() => undefined);
    return next;
  }

  async #sync(buses: readonly Bus[]): Promise<Map<string, string>> {
    const failures = new Map<string, string>();
    if (this.#closed) return failures;
    const wanted = new Map<string, { bus: Bus; tunnel: Tunnel }>();
    for (const bus of buses) for (const tunnel of bus.tunnels ?? []) wanted.set(keyOf(bus.id, tunnel.name), { bus, tunnel });
    for (const [key, running] of this.#running) {
      const want = wanted.get(key);
      if (want === undefined || signature(want.bus, want.tunnel) !== running.signature || running.failure !== undefined)
        this.#stop(key, running, want === undefined ? 'removed' : running.failure === undefined ? 'changed' : 'retried');
    }
    for (const [key, { bus, tunnel }] of wanted) {
      let running = this.#running.get(key);
      if (running === undefined) {
        running = await this.#start(bus, tunnel);
        this.#running.set(key, running);
        if (running.failure !== undefined) failures.set(key, running.failure);
      }
      running.busName = bus.name;
      if (running.carrier !== undefined && !running.side.attached) this.#attach(bus, running);
    }
    return failures;
  }

  async #start(bus: Bus, tunnel: Tunnel): Promise<Running> {
    const counters = newCounters();
    const fields = { bus: bus.name, tunnel: tunnel.name };
    const side = new BusSide({ fd: bus.fd, counters, warnings: this.#warnings, fields });
    const context = {
      bus: side,
      counters,
      warnings: this.#warnings,
      fields,
      ...(this.#streamLimits === undefined ? {} : { limits: this.#streamLimits }),
    };
    const carrier =
      tunnel.transport === 'udp'
        ? new UdpCarrier(tunnel, side, counters, this.#warnings, fields)
        : tunnel.transport === 'tcp-server'
          ? new TcpServerCarrier(tunnel, context)
          : new TcpClientCarrier(tunnel, context);
    const base = { busId: bus.id, busName: bus.name, tunnel, signature: signature(bus, tunnel), counters, side };
    try {
      await carrier.start();
    } catch (error) {
      carrier.close();
      const failure = errorMessage(error);
      this.#warnings.warn(`start-${bus.id}-${tunnel.name}`, 'a tunnel could not start; tried again on the next change or check', {
        ...fields,
        error: failure,
      });
      return { ...base, carrier: undefined, failure };
    }
    this.#log.info('tunnel started', { ...fields, transport: tunnel.transport, listen: tunnel.listen, peer: tunnel.peer });
    return { ...base, carrier };
  }

  #attach(bus: Bus, running: Running): void {
    const carrier = running.carrier;
    if (carrier === undefined) return;
    try {
      const socket = this.#kernel.canSocket(tunnelPortName(bus.id, running.tunnel.name), {
        netns: this.#kernel.owned(busNamespace(bus.id)),
        fd: bus.fd,
        receiveBufferBytes: BUS_SIDE_BUFFER_BYTES,
      });
      running.side.attach(socket, (frames) => {
        carrier.send(frames);
      });
    } catch (error) {
      // The pair is not there (the bus is being wired or repaired): the next sync tries again.
      this.#log.debug('a tunnel is not attached to its bus yet', {
        bus: bus.name,
        tunnel: running.tunnel.name,
        error: errorMessage(error),
      });
    }
  }

  #stop(key: string, running: Running, why: string): void {
    running.carrier?.close();
    running.side.detach();
    this.#running.delete(key);
    if (running.failure === undefined) this.#log.info('tunnel stopped', { bus: running.busName, tunnel: running.tunnel.name, why });
  }

  /** Every tunnel with its state and counters. */
  views(): TunnelView[] {
    return [...this.#running.values()].map((running) => {
      const peers = running.carrier?.peers();
      const detail = running.failure ?? (running.side.attached ? undefined : 'waiting for its interface on the bus');
      return {
        busId: running.busId,
        bus: running.busName,
        tunnel: running.tunnel,
        state: running.failure === undefined ? 'up' : 'failed',
        ...(detail === undefined ? {} : { detail }),
        ...(peers === undefined ? {} : { peers }),
        counters: running.counters,
      };
    });
  }

  /** The view of one tunnel, if it runs (or failed to start). */
  view(busId: string, name: string): TunnelView | undefined {
    return this.views().find((view) => view.busId === busId && view.tunnel.name === name);
  }

  /** Stops every tunnel (the daemon is stopping; the buses stay). */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#syncing;
    for (const [key, running] of this.#running) this.#stop(key, running, 'daemon stopping');
  }
}

function signature(bus: Bus, tunnel: Tunnel): string {
  return JSON.stringify({ fd: bus.fd, tunnel });
}
