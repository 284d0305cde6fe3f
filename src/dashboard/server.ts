// The dashboard (`cantainer daemon --http-listen ADDR`): a read-only web page of the buses, served by the daemon
// with every asset it needs, and the data it shows: the topology (JSON and SVG), a live stream of counters and
// events, a live trace of one bus; /metrics on the same listener. Nothing here changes a bus: GET and HEAD only.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { knownBus } from '../control/buses.js';
import type { ControlContext } from '../control/api.js';
import { topologyOf } from '../control/topology.js';
import { socketFilters } from '../bus/model.js';
import { CantainerError, InvalidValueError, UnknownBusError } from '../errors.js';
import type { KernelPort } from '../kernel/port.js';
import type { Logger } from '../log.js';
import { renderSvg } from '../topology/svg.js';
import {
  answerText,
  formatHttpAddress,
  isLocalAddress,
  LOCAL_ADDRESS_ALLOWED,
  serveHttp,
  type HttpAddress,
  type HttpServer,
} from '../transport/http-server.js';
import { answerMetrics } from '../transport/metrics-server.js';
import { packageVersion } from '../version.js';
import { ASSETS, type Asset } from './assets.js';
import { Gate, readTokenFile } from './auth.js';
import { LiveFeed } from './live.js';
import { openEventStream } from './sse.js';
import { traceBus, type TraceTarget } from './trace.js';
import type { IdFilter } from '../can/idset.js';

export interface DashboardOptions {
  readonly address: HttpAddress;
  /** A file whose first line is the token every request must show; required on a non-local address. */
  readonly tokenFile?: string;
  readonly context: ControlContext;
  readonly kernel: KernelPort;
  /** The Prometheus metrics, served at /metrics when given. */
  readonly metrics?: () => string;
  readonly log: Logger;
  /** How often pages get the counters (default 1 s). */
  readonly everyMs?: number;
}

export interface DashboardServer extends HttpServer {
  readonly live: LiveFeed;
  /** Traces open now. */
  readonly traces: () => number;
}

/** Traces open at once, each a socket on a bus: more are refused. */
const MAX_TRACES = 16;
/** Pages fed at once: more are refused (each holds a connection and its unread updates). */
const MAX_PAGES = 64;
/** How long the names of a bus's containers are kept before the engine is asked again. */
const CONTAINER_NAMES_MS = 10_000;

const PAGE_HEADERS = {
  // Everything comes from the daemon itself: no inline script, no other origin.
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
} as const;

function answerAsset(request: IncomingMessage, response: ServerResponse, asset: Asset): void {
  if (request.headers['if-none-match'] === asset.etag) {
    response.writeHead(304, { ETag: asset.etag }).end();
    return;
  }
  response.writeHead(200, {
    'Content-Type': asset.type,
    'Content-Length': Buffer.byteLength(asset.body),
    ETag: asset.etag,
    'Cache-Control': 'no-cache',
    ...PAGE_HEADERS,
  });
  response.end(request.method === 'HEAD' ? undefined : asset.body);
}

function answerBody(request: IncomingMessage, response: ServerResponse, type: string, body: string): void {
  response.writeHead(200, {
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    ...PAGE_HEADERS,
  });
  response.end(request.method === 'HEAD' ? undefined : body);
}

/** The names of a bus's containers, asked of the engine at most every 10 s per bus (pages read every second). */
function cachedContainers(lookup: NonNullable<ControlContext['memberContainers']>): NonNullable<ControlContext['memberContainers']> {
  const cache = new Map<string, { at: number; names: ReturnType<typeof lookup> }>();
  return (busId) => {
    const hit = cache.get(busId);
    if (hit !== undefined && Date.now() - hit.at < CONTAINER_NAMES_MS) return hit.names;
    const names = lookup(busId);
    cache.set(busId, { at: Date.now(), names });
    names.catch(() => cache.delete(busId));
    return names;
  };
}

export async function serveDashboard(options: DashboardOptions): Promise<DashboardServer> {
  const { log, kernel } = options;
  if (options.tokenFile === undefined && !isLocalAddress(options.address))
    throw new InvalidValueError('--http-listen', formatHttpAddress(options.address), LOCAL_ADDRESS_ALLOWED);
  const gate = new Gate(options.tokenFile === undefined ? undefined : readTokenFile(options.tokenFile, log));
  const lookup = options.context.memberContainers;
  const context: ControlContext = { ...options.context, ...(lookup === undefined ? {} : { memberContainers: cachedContainers(lookup) }) };
  const live = new LiveFeed(
    { topology: () => topologyOf(context), onEvent: (listener) => context.buses.onEvent(listener) },
    log,
    options.everyMs,
  );
  let traces = 0;

  const trace = (request: IncomingMessage, response: ServerResponse): void => {
    const query = new URL(request.url ?? '/', 'http://dashboard').searchParams;
    let target: TraceTarget;
    let filters: IdFilter[] | undefined;
    try {
      const bus = knownBus(context, query.get('bus') ?? '');
      target = { id: bus.id, name: bus.name, fd: bus.fd };
      const filter = query.get('filter') ?? '';
      filters = socketFilters(
        'filter',
        filter.split(/[\s,]+/u).filter((part) => part !== ''),
      );
    } catch (error) {
      if (error instanceof CantainerError) {
        answerText(response, error instanceof UnknownBusError ? 404 : 400, `${error.message}\n`);
        return;
      }
      throw error;
    }
    if (traces >= MAX_TRACES) {
      answerText(response, 503, `${MAX_TRACES} traces are open: close one first\n`);
      return;
    }
    const stream = openEventStream(response, request.method === 'HEAD');
    traces += 1;
    stream.onClose(() => (traces -= 1));
    stream.send('start', { bus: target.name, fd: target.fd });
    try {
      traceBus(kernel, target, filters, stream);
    } catch (error) {
      stream.send('end', { text: `the trace of ${target.name} could not start: ${(error as Error).message}` });
      stream.close();
    }
  };

  const server = await serveHttp(
    options.address,
    '--http-listen',
    async (request, response, path) => {
      if (!gate.admit(request, response, path)) return;
      const head = request.method === 'HEAD';
      if (path === '/' || path === '/index.html') {
        const page = ASSETS['index.html'];
        if (page !== undefined) answerAsset(request, response, page);
        else answerText(response, 500, 'the dashboard was not built: npm run build\n');
        return;
      }
      if (path.startsWith('/assets/')) {
        const asset = ASSETS[path.slice('/assets/'.length)];
        if (asset === undefined) answerText(response, 404, 'no such asset\n');
        else answerAsset(request, response, asset);
        return;
      }
      switch (path) {
        case '/api/topology':
          answerBody(request, response, 'application/json; charset=utf-8', `${JSON.stringify(await topologyOf(context))}\n`);
          return;
        case '/api/topology.svg':
          answerBody(request, response, 'image/svg+xml; charset=utf-8', renderSvg(await topologyOf(context)));
          return;
        case '/api/live': {
          if (live.clients >= MAX_PAGES) {
            answerText(response, 503, `${MAX_PAGES} pages are open: close one first\n`);
            return;
          }
          const stream = openEventStream(response, head);
          stream.send('hello', { version: packageVersion(), ...(context.started === undefined ? {} : { startedAt: context.started.at }) });
          live.add(stream);
          return;
        }
        case '/api/trace':
          trace(request, response);
          return;
        case '/metrics':
          if (options.metrics === undefined) answerText(response, 404, 'metrics are not collected here\n');
          else answerMetrics(response, head, options.metrics, log);
          return;
        default:
          answerText(response, 404, 'not found: the dashboard is at /\n');
      }
    },
    log,
  );
  return {
    address: server.address,
    live,
    traces: () => traces,
    close: async () => {
      live.close();
      await server.close();
    },
  };
}
