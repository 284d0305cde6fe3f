// What every control handler is given: the bus service and the daemon's other parts it may ask.
import type { BusService } from '../service/buses.js';
import type { TunnelHost } from '../tunnel/host.js';
import type { JsonHandler } from '../transport/json-server.js';

export interface ControlContext {
  readonly buses: BusService;
  /** The tunnels this daemon runs (absent where the daemon runs none: a tunnel request is then refused). */
  readonly tunnels?: TunnelHost;
  /** What the daemon found at start (a state file it could not read is set aside and reported here). */
  readonly started?: { readonly at: string; readonly stateProblem?: string; readonly stateFile: string };
  /** The containers of a bus's members (by member id) when the front door that made the bus can tell. */
  readonly memberContainers?: (busId: string) => Promise<ReadonlyMap<string, { readonly container: string; readonly netnsPath?: string }>>;
}

export type ControlHandler = JsonHandler<ControlContext>;
