// HTTP over a unix socket for plugin protocols: POST /<Method> with a JSON body, a JSON answer, `{"Err": ...}` on
// failure. Generic: it maps paths to handlers and errors to answers, and knows nothing of CAN. Bounded: bodies
// over a limit and clients that do not finish their request in time are cut off; no request can crash it.
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { listen } from './listen.js';
import { CantainerError, type ErrorCode, errorMessage, InvalidValueError } from '../errors.js';
import type { Logger } from '../log.js';

/** Ids a handler found in its request, for the request's log line. */
export interface RequestIds {
  network?: string;
  endpoint?: string;
}

export type JsonHandler<C> = (body: Readonly<Record<string, unknown>>, context: C, request: RequestIds) => Promise<object> | object;

/**
 * A handler's answer that is a stream: newline-delimited JSON objects written as they come, until the client goes
 * away. `start` gets a function to write one object and returns the function that stops the stream.
 */
export interface JsonStream {
  readonly [STREAM]: (write: (value: object) => void) => () => void;
}

export const STREAM = Symbol('stream');

function isStream(answer: object): answer is JsonStream {
  return STREAM in answer;
}

/** What a server answers with: a handler per path, and the context they are given. */
export interface JsonRoutes<C> {
  readonly handlers: Readonly<Record<string, JsonHandler<C>>>;
  readonly context: C;
}

/**
 * Routes known only later, for a server that must answer before its program has loaded (a daemon whose callers give
 * up on a socket that does not answer): `early` answers its paths at once, whatever the body; every other request
 * waits for `routes`, and is answered 503 with why if they never come.
 */
export interface LateRoutes<C> {
  readonly early: Readonly<Record<string, object>>;
  readonly routes: Promise<JsonRoutes<C>>;
}

export type JsonServerOptions<C> = (JsonRoutes<C> | LateRoutes<C>) & JsonServerSettings;

export interface JsonServerSettings {
  readonly socketPath: string;
  readonly log: Logger;
  /** Parses a request body (the protocol's own rules for empty bodies and types). */
  readonly parseBody: (text: string) => Readonly<Record<string, unknown>>;
  readonly maxBodyBytes?: number;
  /** Bytes a stream may hold for a client that does not read, before the client is dropped. */
  readonly maxStreamBytes?: number;
  /** A client must send its whole request within this time. */
  readonly requestTimeoutMs?: number;
  /** A listening socket inherited from a service manager, used instead of binding `socketPath`. */
  readonly listenFd?: number;
  /** The option that chose `socketPath`, named in the hint when the path is taken (default --socket). */
  readonly socketOption?: string;
  /** Answer errors with a status per kind (404 unknown, 409 conflict) and the error's `Code`. */
  readonly errorCodes?: boolean;
  /**
   * Told of every answered request: its method (`other` for paths that name none, so clients cannot grow the set),
   * the HTTP status and how long it took. Streams are told once, when they open.
   */
  readonly onRequest?: (method: string, status: number, seconds: number) => void;
}

export interface JsonServer {
  readonly socketPath: string;
  close(): Promise<void>;
}

export const MAX_BODY_BYTES = 1024 * 1024;
/** What a stream keeps for a client that stopped reading, at most: then the client is dropped, so memory stays flat. */
export const MAX_STREAM_BYTES = 1024 * 1024;
const CONTENT_TYPE = 'application/vnd.docker.plugins.v1.2+json';

/**
 * Every answer closes its connection. Docker's plugin client keeps idle connections without end and, when one fails
 * as the server closes it (an idle keep-alive timing out just as a request goes out on it), sends the request again
 * with its body already consumed: an empty CreateEndpoint. A connection used once cannot race so.
 */
function send(response: ServerResponse, status: number, body: object): void {
  const text = `${JSON.stringify(body)}\n`;
  response.writeHead(status, { 'Content-Type': CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text), Connection: 'close' });
  response.end(text);
}

/**
 * HTTP statuses of error codes, for clients that tell kinds of failure apart (the CLI). Only with `errorCodes`:
 * Docker's plugin client reads a 404 as "method not implemented", so plugin answers keep 400 and 500.
 */
const STATUS_OF_CODE: Readonly<Partial<Record<ErrorCode, number>>> = {
  EINVALIDVALUE: 400,
  ENOBUS: 404,
  ENOGATEWAY: 404,
  ENOUPLINK: 404,
  ECONFLICT: 409,
  ENONETNS: 400,
};

function errorAnswer(error: unknown, withCodes: boolean): { status: number; err: string; code?: string } {
  if (error instanceof CantainerError) {
    const err = `${error.message}${error.hint === undefined ? '' : ` (hint: ${error.hint})`}`;
    if (withCodes) return { status: STATUS_OF_CODE[error.code] ?? 500, err, code: error.code };
    return { status: error.code === 'EINVALIDVALUE' ? 400 : 500, err };
  }
  return { status: 500, err: `internal error: ${errorMessage(error)}` };
}

/** How deep a request body may nest: the protocols need a few levels; parsing 100000 takes the event loop for long. */
export const MAX_NESTING = 64;

/** Whether JSON text opens more than `limit` arrays or objects inside each other (strings skipped), in one pass. */
export function nestedDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i += 1;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth += 1;
      if (depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth -= 1;
  }
  return false;
}

/**
 * The body as text, or undefined once it grows over `max` bytes (what follows is read and dropped). A declared
 * Content-Length over `max` is undefined at once, before anything of the body is read.
 */
function readBody(request: IncomingMessage, max: number): Promise<string | undefined> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > max) {
    request.resume();
    return Promise.resolve(undefined);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    request.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size <= max) {
        chunks.push(chunk);
        return;
      }
      over = true;
      chunks.length = 0;
      resolve(undefined);
    });
    request.once('end', () => {
      if (!over) resolve(Buffer.concat(chunks).toString('utf8'));
    });
    request.once('error', reject);
    // A client cut off (request timeout) or gone before its body ended: settle, so nothing waits forever.
    request.once('close', () => {
      if (!request.complete && !over) reject(new Error('the client closed the connection before its request was complete'));
    });
  });
}

/**
 * Reads and drops the rest of a request's body, when it declares no more than `max` bytes. An answer given before
 * the body is read waits for this: the connection closes after every answer, and a client still writing to a closed
 * connection would lose its answer. A larger body is not waited for (answered at once, as a body over the limit is).
 */
function drain(request: IncomingMessage, max: number): Promise<void> {
  if (request.complete || Number(request.headers['content-length'] ?? 0) > max) return Promise.resolve();
  return new Promise((resolve) => {
    request.once('end', resolve);
    request.once('close', resolve);
    request.resume();
  });
}

export async function serveJson<C>(options: JsonServerOptions<C>): Promise<JsonServer> {
  const maxBody = options.maxBodyBytes ?? MAX_BODY_BYTES;
  const maxStream = options.maxStreamBytes ?? MAX_STREAM_BYTES;
  const { log } = options;
  const early = 'early' in options ? options.early : {};
  // Once known, the routes are used without waiting a turn of the event loop.
  let routes: JsonRoutes<C> | undefined = 'routes' in options ? undefined : options;
  let failed: string | undefined;
  const ready =
    'routes' in options
      ? options.routes.then(
          (known) => {
            routes = known;
          },
          (error: unknown) => {
            failed = errorMessage(error);
          },
        )
      : Promise.resolve();

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const started = performance.now();
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    const method = path.replace(/^\//u, '');
    const ids: RequestIds = {};
    if (routes === undefined && request.method === 'POST' && Object.hasOwn(early, path)) {
      await drain(request, maxBody);
      send(response, 200, early[path] ?? {});
      options.onRequest?.(method, 200, (performance.now() - started) / 1000);
      log.info('request', { method, status: 200, ms: Math.round((performance.now() - started) * 100) / 100, early: true });
      return;
    }
    if (routes === undefined) await ready;
    if (routes === undefined) {
      await drain(request, maxBody);
      send(response, 503, { Err: `the daemon could not start: ${failed ?? 'unknown error'}` });
      log.warn('request failed', { method, status: 503, err: failed });
      return;
    }
    const { handlers, context } = routes;
    const known = Object.hasOwn(handlers, path);
    const record = (status: number): void => {
      options.onRequest?.(known ? method : 'other', status, (performance.now() - started) / 1000);
    };
    const finish = (status: number, body: object, err?: string): void => {
      send(response, status, body);
      record(status);
      const fields = {
        method,
        status,
        ms: Math.round((performance.now() - started) * 100) / 100,
        network: ids.network,
        endpoint: ids.endpoint,
        err,
      };
      if (err === undefined) log.info('request', fields);
      else log.warn('request failed', fields);
    };
    if (request.method !== 'POST') {
      await drain(request, maxBody);
      finish(405, { Err: `method ${request.method ?? '?'} not allowed; plugin requests are POST` }, 'not POST');
      return;
    }
    const handler = known ? handlers[path] : undefined;
    if (handler === undefined) {
      await drain(request, maxBody);
      finish(404, { Err: `unknown method ${path}` }, 'unknown method');
      return;
    }
    let text: string | undefined;
    try {
      text = await readBody(request, maxBody);
    } catch (error) {
      log.warn('request abandoned', { method, err: errorMessage(error) });
      return;
    }
    if (text === undefined) {
      // Answered, then the connection is closed; the rest of the body is drained, never kept.
      response.setHeader('Connection', 'close');
      finish(413, { Err: `request body over ${maxBody} bytes` }, 'body too large');
      return;
    }
    try {
      if (nestedDeeperThan(text, MAX_NESTING))
        throw new InvalidValueError('body', `${text.slice(0, 40)}…`, `JSON nested at most ${MAX_NESTING} levels deep`);
      const body = options.parseBody(text);
      const answer = await handler(body, context, ids);
      if (isStream(answer)) {
        response.writeHead(200, { 'Content-Type': 'application/x-ndjson', Connection: 'close' });
        record(200);
        log.info('stream opened', { method });
        const stop = answer[STREAM]((value) => {
          if (response.destroyed) return;
          // write() queues whatever the client has not read: past the bound, the client is dropped instead.
          if (response.writableLength > maxStream) {
            log.warn('a stream client that stopped reading was dropped', { method, unsent: response.writableLength });
            response.destroy();
            return;
          }
          response.write(`${JSON.stringify(value)}\n`);
        });
        response.once('close', () => {
          stop();
          log.info('stream closed', { method, ms: Math.round(performance.now() - started) });
        });
        return;
      }
      finish(200, answer);
    } catch (error) {
      const { status, err, code } = errorAnswer(error, options.errorCodes === true);
      finish(status, code === undefined ? { Err: err } : { Err: err, Code: code }, err);
    }
  };

  const requestTimeout = options.requestTimeoutMs ?? 10_000;
  // Node checks request timeouts only every connectionsCheckingInterval (30 s by default).
  const server: Server = createServer(
    { requestTimeout, headersTimeout: requestTimeout, connectionsCheckingInterval: Math.max(50, Math.min(1000, requestTimeout / 4)) },
    (request, response) => {
      handle(request, response).catch((error: unknown) => {
        // Only a broken connection gets here (the handler catches its own errors): log it, keep serving.
        log.warn('connection failed', { err: errorMessage(error) });
        if (!response.headersSent) send(response, 500, { Err: 'internal error' });
      });
    },
  );
  // A request the HTTP parser cannot take (garbage, broken headers, too long) or that took too long is still answered,
  // with why, before the connection is closed: a client is never left with a closed connection and no reason.
  server.on('clientError', (error: Error & { code?: string }, socket) => {
    const code = error.code ?? 'unknown';
    if (code === 'ECONNRESET' || code === 'EPIPE' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = code === 'HPE_HEADER_OVERFLOW' ? 431 : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const reason =
      status === 431
        ? 'request headers too large'
        : status === 408
          ? `request not complete within ${requestTimeout} ms`
          : `malformed request (${code})`;
    const body = `${JSON.stringify({ Err: reason })}\n`;
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: ${CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
    log.warn('request failed', { status, err: reason });
    options.onRequest?.('other', status, 0);
  });

  const listening = await listen(
    server,
    options.listenFd === undefined ? { kind: 'unix', path: options.socketPath, mode: 0o600 } : { kind: 'fd', fd: options.listenFd },
    options.socketOption ?? '--socket',
  );
  return { socketPath: options.socketPath, close: () => listening.close() };
}

/** A server listening before its routes are known: `provide` them once loaded, or `fail` with why they never will be. */
export interface LateJsonServer<C> {
  readonly server: JsonServer;
  provide(routes: JsonRoutes<C>, onRequest?: JsonServerSettings['onRequest']): void;
  fail(error: unknown): void;
}

/** Listens at once, answers `early`'s paths at once, and holds every other request until the routes are provided. */
export async function serveJsonLate<C>(
  settings: Omit<JsonServerSettings, 'onRequest'> & { readonly early: Readonly<Record<string, object>> },
): Promise<LateJsonServer<C>> {
  let provide: (routes: JsonRoutes<C>) => void = () => undefined;
  let fail: (error: unknown) => void = () => undefined;
  const routes = new Promise<JsonRoutes<C>>((resolve, reject) => {
    provide = resolve;
    fail = reject;
  });
  let recorder: JsonServerSettings['onRequest'];
  const server = await serveJson<C>({
    ...settings,
    routes,
    onRequest: (method, status, seconds) => recorder?.(method, status, seconds),
  });
  return {
    server,
    provide: (known, onRequest) => {
      recorder = onRequest;
      provide(known);
    },
    fail,
  };
}
