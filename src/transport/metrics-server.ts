// The HTTP side of the Prometheus endpoint (`--metrics-listen`): where it listens (loopback unless another address
// is given; a unix socket as well), and GET /metrics answered with what the collector returns. What the metrics
// say is the daemon's business (daemon/metrics.ts).
import { createServer, type Server } from 'node:http';
import { isAbsolute } from 'node:path';
import { InvalidValueError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { CONTENT_TYPE } from '../metrics/exposition.js';
import { listen, SocketPathError, type ListenTarget } from './listen.js';

export type MetricsAddress =
  { readonly kind: 'tcp'; readonly host: string; readonly port: number } | { readonly kind: 'unix'; readonly path: string };

const ALLOWED = 'PORT or :PORT (on 127.0.0.1), HOST:PORT, [IPv6]:PORT, or a unix socket as unix:/PATH or /PATH';

/** Parses `--metrics-listen`: a bare port listens on loopback only; other interfaces must be named. */
export function parseMetricsAddress(text: string): MetricsAddress {
  const fail = (): never => {
    throw new InvalidValueError('--metrics-listen', text, ALLOWED);
  };
  const unix = text.startsWith('unix:') ? text.slice('unix:'.length) : isAbsolute(text) ? text : undefined;
  if (unix !== undefined) return isAbsolute(unix) ? { kind: 'unix', path: unix } : fail();
  const match = /^(?:(?:\[(?<v6>[0-9a-fA-F:.]+)\]|(?<host>[^:[\]\s]*)):)?(?<port>\d{1,5})$/u.exec(text);
  const port = Number(match?.groups?.port);
  if (match === null || !Number.isInteger(port) || port > 65535) return fail();
  const host = match.groups?.v6 ?? match.groups?.host ?? '';
  return { kind: 'tcp', host: host === '' ? '127.0.0.1' : host, port };
}

export function formatMetricsAddress(address: MetricsAddress): string {
  return address.kind === 'unix'
    ? `unix:${address.path}`
    : `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
}

export interface MetricsServer {
  /** Where it listens (the port chosen by the system when 0 was asked). */
  readonly address: MetricsAddress;
  close(): Promise<void>;
}

/** Serves GET /metrics at `address`. A stale unix socket file is replaced; any other file is refused. */
export async function serveMetrics(address: MetricsAddress, collect: () => string, log: Logger): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    if (path !== '/metrics') {
      response.writeHead(404, { 'Content-Type': 'text/plain' }).end('metrics are at /metrics\n');
      return;
    }
    let text: string;
    try {
      text = collect();
    } catch (error) {
      log.error('collecting metrics failed', { err: errorMessage(error) });
      response.writeHead(500, { 'Content-Type': 'text/plain' }).end('collecting metrics failed\n');
      return;
    }
    response.writeHead(200, { 'Content-Type': CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text) });
    response.end(request.method === 'HEAD' ? undefined : text);
  });
  server.on('clientError', (_error, socket) => {
    socket.destroy();
  });
  const target: ListenTarget = address.kind === 'unix' ? { kind: 'unix', path: address.path, mode: 0o660 } : address;
  const listening = await listen(server, target, '--metrics-listen').catch((error: unknown) => {
    const allowed =
      error instanceof SocketPathError
        ? error.reason === 'not-a-socket'
          ? `a path that is free or a stale socket; ${error.path} is another kind of file`
          : `a path no other server answers on; ${error.path} is in use`
        : `an address this host can listen on (${errorMessage(error)})`;
    throw new InvalidValueError('--metrics-listen', formatMetricsAddress(address), allowed);
  });
  const actual: MetricsAddress = address.kind === 'tcp' && listening.port !== undefined ? { ...address, port: listening.port } : address;
  return { address: actual, close: () => listening.close() };
}
