// What every open dashboard is pushed: the topology with its counters every second (one reading of the kernel for
// all pages, and none while no page is open), at once when a bus changes, and the buses' events as they happen,
// after the last ones a page missed.
import type { Topology } from '../control/protocol.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { BusEvent } from '../service/events.js';
import type { EventStream } from './sse.js';

export interface LiveSource {
  topology(): Promise<Topology>;
  onEvent(listener: (event: BusEvent) => void): () => void;
}

/** A topology as pushed: when it was read, and a key that changes when anything but a counter changes. */
export interface TopologyUpdate {
  /** Milliseconds since the epoch. */
  readonly time: number;
  readonly shape: string;
  readonly topology: Topology;
}

/** What a picture shows besides counters: when it changes, pages draw the picture again. */
export function topologyShape(topology: Topology): string {
  return JSON.stringify({
    buses: topology.buses.map((bus) => ({
      ...bus,
      frames: undefined,
      dropped: undefined,
      load: undefined,
      members: bus.members.map((member) => ({ ...member, frames: undefined })),
      uplinks: bus.uplinks.map((uplink) => ({ ...uplink, frames: undefined })),
      tunnels: bus.tunnels.map((tunnel) => ({ ...tunnel, framesIn: undefined, framesOut: undefined })),
    })),
    gateways: topology.gateways.map((gateway) => ({ ...gateway, frames: undefined, framesBack: undefined })),
  });
}

const BACKLOG = 50;

export class LiveFeed {
  readonly #source: LiveSource;
  readonly #log: Logger;
  readonly #everyMs: number;
  readonly #clients = new Set<EventStream>();
  readonly #backlog: BusEvent[] = [];
  readonly #stopEvents: () => void;
  #timer: NodeJS.Timeout | undefined;
  #soon: NodeJS.Timeout | undefined;
  #reading = false;
  #again = false;
  #latest: TopologyUpdate | undefined;

  constructor(source: LiveSource, log: Logger, everyMs = 1_000) {
    this.#source = source;
    this.#log = log;
    this.#everyMs = everyMs;
    this.#stopEvents = source.onEvent((event) => {
      this.#backlog.push(event);
      if (this.#backlog.length > BACKLOG) this.#backlog.shift();
      for (const client of this.#clients) client.send('bus-event', event);
      // A change is shown within a tenth of a second, not at the next tick.
      if (this.#clients.size > 0 && this.#soon === undefined)
        this.#soon = setTimeout(() => {
          this.#soon = undefined;
          this.#read();
        }, 100);
    });
  }

  get clients(): number {
    return this.#clients.size;
  }

  add(client: EventStream): void {
    this.#clients.add(client);
    client.onClose(() => {
      this.#clients.delete(client);
      if (this.#clients.size === 0) this.#stop();
    });
    for (const event of this.#backlog) client.send('bus-event', event);
    if (this.#latest !== undefined && Date.now() - this.#latest.time < this.#everyMs) client.send('topology', this.#latest);
    else this.#read();
    this.#timer ??= setInterval(() => {
      this.#read();
    }, this.#everyMs);
  }

  /** Reads the topology and pushes it; a read asked for while one runs runs once after it. */
  #read(): void {
    if (this.#reading) {
      this.#again = true;
      return;
    }
    this.#reading = true;
    this.#source
      .topology()
      .then((topology) => {
        this.#latest = { time: Date.now(), shape: topologyShape(topology), topology };
        for (const client of this.#clients) client.send('topology', this.#latest);
      })
      .catch((error: unknown) => {
        this.#log.error('reading the topology for the dashboard failed', { err: errorMessage(error) });
      })
      .finally(() => {
        this.#reading = false;
        if (this.#again && this.#clients.size > 0) {
          this.#again = false;
          this.#read();
        }
      });
  }

  #stop(): void {
    clearInterval(this.#timer);
    clearTimeout(this.#soon);
    this.#timer = undefined;
    this.#soon = undefined;
  }

  close(): void {
    this.#stop();
    this.#stopEvents();
    for (const client of [...this.#clients]) client.close();
  }
}
