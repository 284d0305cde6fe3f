// The Prometheus endpoint (`--metrics-listen`, and /metrics on `--http-listen`): GET /metrics answered with what the
// collector returns. What the metrics say is the daemon's business (daemon/metrics.ts).
import type { ServerResponse } from 'node:http';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { CONTENT_TYPE } from '../metrics/exposition.js';
import { answerText, formatHttpAddress, parseHttpAddress, serveHttp, type HttpAddress, type HttpServer } from './http-server.js';

export type MetricsAddress = HttpAddress;
export type MetricsServer = HttpServer;

/** Parses `--metrics-listen`: a bare port listens on loopback only; other interfaces must be named. */
export function parseMetricsAddress(text: string): MetricsAddress {
  return parseHttpAddress('--metrics-listen', text);
}

export const formatMetricsAddress = formatHttpAddress;

/** Answers a GET or HEAD of /metrics with what `collect` says now. */
export function answerMetrics(response: ServerResponse, head: boolean, collect: () => string, log: Logger): void {
  let text: string;
  try {
    text = collect();
  } catch (error) {
    log.error('collecting metrics failed', { err: errorMessage(error) });
    answerText(response, 500, 'collecting metrics failed\n');
    return;
  }
  response.writeHead(200, { 'Content-Type': CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text) });
  response.end(head ? undefined : text);
}

/** Serves GET /metrics at `address`. A stale unix socket file is replaced; any other file is refused. */
export function serveMetrics(address: MetricsAddress, collect: () => string, log: Logger): Promise<MetricsServer> {
  return serveHttp(
    address,
    '--metrics-listen',
    (request, response, path) => {
      if (path !== '/metrics') answerText(response, 404, 'metrics are at /metrics\n');
      else answerMetrics(response, request.method === 'HEAD', collect, log);
    },
    log,
  );
}
