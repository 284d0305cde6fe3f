// What every control handler is given: the bus service and the daemon's other parts it may ask.
import type { BusService } from '../service/buses.js';
import type { TunnelHost } from '../tunnel/host.js';
import type { JsonHandler, JsonStream, RequestIds } from '../transport/json-server.js';
import type { ControlAnswer, ControlMethod, ControlStream } from './protocol.js';

export interface ControlContext {
  readonly buses: BusService;
  /** The tunnels this daemon runs (absent where the daemon runs none: a tunnel request is then refused). */
  readonly tunnels?: TunnelHost;
  /** What the daemon found at start (a state file it could not read is set aside and reported here). */
  readonly started?: { readonly at: string; readonly stateProblem?: string; readonly stateFile: string };
  /** The containers of a bus's members (by member id) when the front door that made the bus can tell. */
  /** Asks, once, for the names of buses the daemon knows by id only so far (Docker names networks after creating them). */
  readonly learnBusNames?: () => Promise<void>;
  readonly memberContainers?: (busId: string) => Promise<ReadonlyMap<string, { readonly container: string; readonly netnsPath?: string }>>;
  /**
   * Where the host sees the buses' namespace pins, when the daemon sees them elsewhere (a managed plugin sees the
   * host's /run under /host/run): the paths answered are the host's, for the commands that open them.
   */
  readonly hostNetnsDir?: string;
}

/** The body of a control request as it came: handlers read and check each field (control/body.ts). */
export type RequestBody = Readonly<Record<string, unknown>>;

/** The handler of one method: parses its body, asks the service, answers as the protocol says. */
export type ControlHandler<M extends ControlMethod> = (
  body: RequestBody,
  context: ControlContext,
  request: RequestIds,
) => ControlAnswer<M> | Promise<ControlAnswer<M>>;

export type ControlHandlers<M extends ControlMethod> = { readonly [K in M]: ControlHandler<K> };

/** The handler of a streaming method. */
export type StreamHandler = (body: RequestBody, context: ControlContext) => JsonStream;

/** The handlers as the transport takes them: by path. */
export function endpoints(
  handlers: Readonly<Partial<Record<ControlMethod, JsonHandler<ControlContext>>>> & Readonly<Partial<Record<ControlStream, StreamHandler>>>,
): Readonly<Record<string, JsonHandler<ControlContext>>> {
  return Object.fromEntries(Object.entries(handlers).map(([method, handler]) => [`/${method}`, handler]));
}
