// Server-sent events: one long response per client, each message an event name and a JSON value. A client that
// reads too slowly is dropped rather than buffered without end.
import type { ServerResponse } from 'node:http';

/** Bytes a client may leave unread before it is disconnected (a tab in the background on a busy bus). */
const MAX_UNREAD_BYTES = 4 * 1024 * 1024;

export interface EventStream {
  /** Sends one event; false once the stream is closed. */
  send(event: string, data: unknown): boolean;
  /** Ends the stream. */
  close(): void;
  /** Runs `listener` once, when the stream ends (either side). */
  onClose(listener: () => void): void;
  readonly closed: boolean;
}

export function openEventStream(response: ServerResponse, head: boolean): EventStream {
  response.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    'X-Accel-Buffering': 'no',
    Connection: 'keep-alive',
  });
  const listeners: Array<() => void> = [];
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    response.end();
    for (const listener of listeners.splice(0)) listener();
  };
  response.on('close', close);
  if (head) close();
  // A comment now and then keeps proxies from closing a quiet stream.
  const keepAlive = setInterval(() => {
    if (!closed) response.write(': keep-alive\n\n');
  }, 15_000);
  keepAlive.unref();
  listeners.push(() => {
    clearInterval(keepAlive);
  });
  response.write('retry: 2000\n\n');
  return {
    send: (event, data) => {
      if (closed) return false;
      if (response.writableLength > MAX_UNREAD_BYTES) {
        close();
        return false;
      }
      response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      return true;
    },
    close,
    onClose: (listener) => {
      if (closed) listener();
      else listeners.push(listener);
    },
    get closed() {
      return closed;
    },
  };
}
