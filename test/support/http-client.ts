// HTTP for tests of the daemon's listeners: one request and its whole answer, or a stream of server-sent events
// read until a condition holds.
import { request, type IncomingHttpHeaders } from 'node:http';

export interface HttpAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

export function httpGet(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers ?? {}, agent: false, timeout: 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer to ${path}`)));
    req.on('error', reject);
    req.end();
  });
}

export interface ServerEvent {
  readonly event: string;
  readonly data: unknown;
}

/**
 * Reads the event stream at `path` until `done` holds for the events so far (then resolves with them), or rejects
 * after `timeoutMs` saying what came.
 */
export function readEvents(
  port: number,
  path: string,
  done: (events: readonly ServerEvent[]) => boolean,
  options: { timeoutMs?: number; headers?: Record<string, string>; onEvent?: (event: ServerEvent) => void } = {},
): Promise<ServerEvent[]> {
  return new Promise((resolve, reject) => {
    const events: ServerEvent[] = [];
    let buffer = '';
    const req = request({ host: '127.0.0.1', port, path, headers: options.headers ?? {}, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        req.destroy();
        reject(new Error(`${path}: status ${res.statusCode ?? 0}`));
        return;
      }
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/mu.exec(block)?.[1];
          const data = /^data: (.*)$/mu.exec(block)?.[1];
          if (event === undefined || data === undefined) continue;
          const parsed = { event, data: JSON.parse(data) as unknown };
          events.push(parsed);
          options.onEvent?.(parsed);
        }
        if (done(events)) {
          clearTimeout(timer);
          req.destroy();
          resolve(events);
        }
      });
      res.on('end', () => {
        clearTimeout(timer);
        if (done(events)) resolve(events);
        else reject(new Error(`${path} ended after ${JSON.stringify(events.map((e) => e.event))}`));
      });
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`${path}: not done after ${options.timeoutMs ?? 5_000} ms; came: ${JSON.stringify(events).slice(0, 2000)}`));
    }, options.timeoutMs ?? 5_000);
    req.on('error', (error) => {
      clearTimeout(timer);
      if (!done(events)) reject(error);
    });
    req.end();
  });
}
