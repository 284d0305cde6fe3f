// Docker tells a network driver a network's id, never its name; users name buses by the network's name. The name
// is asked from Docker's API once the network exists (after CreateNetwork has returned, so with retries), and
// again at start for buses still known by id only. In a compose project, a gateway option may name another network
// of the project by its key in the file; it is then qualified the way compose names networks (project_key).
import { request } from 'node:http';
import type { Logger } from '../log.js';
import type { Bus } from '../bus/model.js';
import type { Gateway } from '../bus/gateway.js';
import type { BusService } from '../service/buses.js';
import { errorMessage } from '../errors.js';

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';
const COMPOSE_PROJECT = 'com.docker.compose.project';

export interface DockerNetwork {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** A network by id or name; undefined when Docker has none. Throws when Docker cannot be asked. */
export type NetworkLookup = (idOrName: string) => Promise<DockerNetwork | undefined>;

/** GET a path of Docker's API over its unix socket: the JSON body, or undefined for 404. */
export function dockerApiGet(socketPath: string, path: string, timeoutMs = 5_000): Promise<Record<string, unknown> | undefined> {
  return new Promise((resolve, reject) => {
    // A connection of its own (no kept-alive one that Docker may have closed meanwhile: EPIPE, ECONNRESET).
    const req = request({ socketPath, path, method: 'GET', timeout: timeoutMs, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        if (response.statusCode === 404) {
          resolve(undefined);
          return;
        }
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
          if (response.statusCode !== 200)
            throw new Error(
              `Docker answered ${response.statusCode ?? '?'} to ${path}: ${typeof body.message === 'string' ? body.message : ''}`,
            );
          resolve(body);
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`Docker's API did not answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

const stringsOf = (value: unknown): Record<string, string> =>
  typeof value === 'object' && value !== null
    ? Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string'))
    : {};

/** Looks networks up through Docker's API socket (GET /networks/{id or name}). */
export function dockerApiLookup(socketPath: string, timeoutMs = 5_000): NetworkLookup {
  return async (idOrName) => {
    const body = await dockerApiGet(socketPath, `/networks/${encodeURIComponent(idOrName)}`, timeoutMs);
    if (body === undefined) return undefined;
    if (typeof body.Name !== 'string') throw new Error('Docker answered a network without a name');
    return { name: body.Name, labels: stringsOf(body.Labels) };
  };
}

/** A member's container: its name, and its network namespace (to find the interface name there). */
export interface MemberContainer {
  readonly container: string;
  readonly netnsPath?: string;
}

/** The containers of a network's endpoints, by endpoint id (members of Docker buses are endpoints). */
export function dockerMemberLookup(socketPath: string): (networkId: string) => Promise<Map<string, MemberContainer>> {
  return async (networkId) => {
    const result = new Map<string, MemberContainer>();
    const network = await dockerApiGet(socketPath, `/networks/${encodeURIComponent(networkId)}`);
    const containers = typeof network?.Containers === 'object' && network.Containers !== null ? Object.entries(network.Containers) : [];
    for (const [containerId, raw] of containers) {
      const entry = raw as { Name?: unknown; EndpointID?: unknown };
      if (typeof entry.EndpointID !== 'string' || typeof entry.Name !== 'string') continue;
      const details = await dockerApiGet(socketPath, `/containers/${encodeURIComponent(containerId)}/json`).catch(() => undefined);
      const pid = (details?.State as { Pid?: unknown } | undefined)?.Pid;
      result.set(entry.EndpointID, {
        container: entry.Name,
        ...(typeof pid === 'number' && pid > 0 ? { netnsPath: `/proc/${pid}/ns/net` } : {}),
      });
    }
    return result;
  };
}

/** A Docker bus is first named by the start of its network id, until Docker tells its name. */
export function provisionalName(networkId: string): string {
  return networkId.slice(0, 12);
}

export function isUnnamed(bus: Bus): boolean {
  return bus.annotations?.origin === 'docker' && bus.name === provisionalName(bus.id);
}

const RETRY_DELAYS_MS = [50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000];

export class NetworkNamer {
  readonly #buses: BusService;
  readonly #lookup: NetworkLookup;
  readonly #log: Logger;
  readonly #delays: readonly number[];
  readonly #pending = new Set<string>();

  constructor(buses: BusService, lookup: NetworkLookup, log: Logger, delays: readonly number[] = RETRY_DELAYS_MS) {
    this.#buses = buses;
    this.#lookup = lookup;
    this.#log = log;
    this.#delays = delays;
  }

  /** Learns the name of every Docker bus still known by id only. */
  learnAll(): Promise<void> {
    return Promise.all(
      this.#buses
        .list()
        .filter(isUnnamed)
        .map((bus) => this.learn(bus.id)),
    ).then(() => undefined);
  }

  /**
   * Asks Docker once for the name of every bus still known by id only, without waiting for retries: a request naming
   * a bus right after `docker network create` finds it. A network Docker does not know yet stays unnamed.
   */
  async askOnce(): Promise<void> {
    await Promise.all(
      this.#buses
        .list()
        .filter(isUnnamed)
        .map(async (bus) => {
          const network = await this.#lookup(bus.id).catch(() => undefined);
          const still = this.#buses.get(bus.id);
          if (network !== undefined && still !== undefined && isUnnamed(still)) await this.#name(bus.id, network);
        }),
    );
  }

  /** Learns a bus's name in the background, retrying while Docker does not know the network yet. */
  learn(busId: string): Promise<void> {
    if (this.#pending.has(busId)) return Promise.resolve();
    this.#pending.add(busId);
    return this.#attempt(busId, 0).finally(() => this.#pending.delete(busId));
  }

  async #attempt(busId: string, attempt: number): Promise<void> {
    for (let i = attempt; ; i++) {
      const bus = this.#buses.get(busId);
      if (bus === undefined || !isUnnamed(bus)) return;
      let problem: string;
      try {
        const network = await this.#lookup(busId);
        if (network !== undefined) {
          await this.#name(busId, network);
          return;
        }
        problem = 'Docker does not know the network yet';
      } catch (error) {
        problem = errorMessage(error);
      }
      const delay = this.#delays[i];
      if (delay === undefined) {
        this.#log.warn('the name of a network could not be learnt from Docker: the bus is known by its id, and gateways naming it wait', {
          network: busId,
          err: problem,
        });
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  async #name(busId: string, network: DockerNetwork): Promise<void> {
    await this.#buses.renameBus(busId, network.name, await this.#qualified(busId, network));
    this.#log.info('bus named after its network', { bus: network.name, network: busId });
  }

  /** The gateways the bus declares, with names of the same compose project written as compose names them. */
  async #qualified(busId: string, network: DockerNetwork): Promise<Gateway[]> {
    const project = network.labels[COMPOSE_PROJECT];
    const declared = this.#buses
      .gateways()
      .map((view) => view.gateway)
      .filter((gateway) => gateway.declaredBy === busId);
    const qualify = async (name: string, own: boolean): Promise<string> => {
      if (own) return network.name;
      if (project === undefined || this.#buses.byName(name) !== undefined) return name;
      const known = await this.#lookup(name).catch(() => undefined);
      return known === undefined ? `${project}_${name}` : name;
    };
    const ownName = provisionalName(busId);
    return Promise.all(
      declared.map(async (gateway) => ({
        ...gateway,
        source: await qualify(gateway.source, gateway.source === ownName),
        destination: await qualify(gateway.destination, gateway.destination === ownName),
      })),
    );
  }
}
