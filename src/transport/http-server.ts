// The daemon's HTTP listeners (`--metrics-listen`, `--http-listen`): where one listens (loopback unless another
// address is given; a unix socket as well) and a server that answers GET and HEAD only, never crashed by a request.
// What each path answers is its caller's business.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { isAbsolute } from 'node:path';
import { InvalidValueError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { listen, SocketPathError, type ListenTarget } from './listen.js';

export type HttpAddress =
  { readonly kind: 'tcp'; readonly host: string; readonly port: number } | { readonly kind: 'unix'; readonly path: string };

const ALLOWED = 'PORT or :PORT (on 127.0.0.1), HOST:PORT, [IPv6]:PORT, or a unix socket as unix:/PATH or /PATH';

/** Parses a listen option's text: a bare port listens on loopback only; other interfaces must be named. */
export function parseHttpAddress(option: string, text: string): HttpAddress {
  const fail = (): never => {
    throw new InvalidValueError(option, text, ALLOWED);
  };
  const unix = text.startsWith('unix:') ? text.slice('unix:'.length) : isAbsolute(text) ? text : undefined;
  if (unix !== undefined) return isAbsolute(unix) ? { kind: 'unix', path: unix } : fail();
  const match = /^(?:(?:\[(?<v6>[0-9a-fA-F:.]+)\]|(?<host>[^:[\]\s]*)):)?(?<port>\d{1,5})$/u.exec(text);
  const port = Number(match?.groups?.port);
  if (match === null || !Number.isInteger(port) || port > 65535) return fail();
  const host = match.groups?.v6 ?? match.groups?.host ?? '';
  return { kind: 'tcp', host: host === '' ? '127.0.0.1' : host, port };
}

export function formatHttpAddress(address: HttpAddress): string {
  return address.kind === 'unix'
    ? `unix:${address.path}`
    : `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
}

/** What a dashboard address without a token may be (`--http-listen` names another only with `--http-token`). */
export const LOCAL_ADDRESS_ALLOWED =
  'a local address (PORT, 127.0.0.1:PORT, [::1]:PORT, a unix socket); to listen on others, give --http-token FILE';

/** Whether only this host can reach the address: a unix socket, localhost, 127.0.0.0/8 or ::1. */
export function isLocalAddress(address: HttpAddress): boolean {
  if (address.kind === 'unix') return true;
  const host = address.host.toLowerCase();
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '::ffff:127.0.0.1';
}

/** Answers one request; anything it throws is answered 500 and logged. */
export type HttpHandler = (request: IncomingMessage, response: ServerResponse, path: string) => void | Promise<void>;

export interface HttpServer {
  /** Where it listens (the port chosen by the system when 0 was asked). */
  readonly address: HttpAddress;
  /** Stops listening and ends every open connection (live streams too). */
  close(): Promise<void>;
}

/** Answers a request with a short text. */
export function answerText(response: ServerResponse, status: number, text: string, headers: Readonly<Record<string, string>> = {}): void {
  if (response.headersSent) {
    response.end();
    return;
  }
  response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers }).end(text);
}

/**
 * Serves `handler` at `address`, GET and HEAD only (405 otherwise). A stale unix socket file is replaced; any other
 * file is refused. `option` names the setting that chose the address, for errors.
 */
export async function serveHttp(address: HttpAddress, option: string, handler: HttpHandler, log: Logger): Promise<HttpServer> {
  const server: Server = createServer((request, response) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      answerText(response, 405, 'read-only: GET and HEAD only\n', { Allow: 'GET, HEAD' });
      return;
    }
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    Promise.resolve()
      .then(() => handler(request, response, path))
      .catch((error: unknown) => {
        log.error('answering an HTTP request failed', { path, err: errorMessage(error) });
        answerText(response, 500, 'failed; see the daemon log\n');
      });
  });
  server.on('clientError', (_error, socket) => {
    socket.destroy();
  });
  const target: ListenTarget = address.kind === 'unix' ? { kind: 'unix', path: address.path, mode: 0o660 } : address;
  const listening = await listen(server, target, option).catch((error: unknown) => {
    const allowed =
      error instanceof SocketPathError
        ? error.reason === 'not-a-socket'
          ? `a path that is free or a stale socket; ${error.path} is another kind of file`
          : `a path no other server answers on; ${error.path} is in use`
        : `an address this host can listen on (${errorMessage(error)})`;
    throw new InvalidValueError(option, formatHttpAddress(address), allowed);
  });
  const actual: HttpAddress = address.kind === 'tcp' && listening.port !== undefined ? { ...address, port: listening.port } : address;
  return { address: actual, close: () => listening.close() };
}
