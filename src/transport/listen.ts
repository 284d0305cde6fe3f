// Where every server of the daemon listens: one function for the plugin, control and metrics sockets. A unix
// socket path is taken only when free or stale (a crashed daemon's: nothing answers on it), never from a live
// server and never over another kind of file; its mode is set once it exists; it goes when the server closes.
import { createConnection } from 'node:net';
import { chmodSync, existsSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import type { Server } from 'node:http';
import { dirname } from 'node:path';
import { CantainerError } from '../errors.js';

export type ListenTarget =
  | { readonly kind: 'unix'; readonly path: string; readonly mode: number }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  /** A listening socket inherited from a service manager (systemd socket activation). */
  | { readonly kind: 'fd'; readonly fd: number };

/** A unix socket path that cannot be taken: another kind of file is there, or a live server answers on it. */
export class SocketPathError extends CantainerError {
  readonly path: string;
  readonly reason: 'not-a-socket' | 'in-use';

  constructor(path: string, reason: 'not-a-socket' | 'in-use', hint: string) {
    super('ESOCKET', reason === 'not-a-socket' ? `${path} exists and is not a socket` : `another daemon is serving ${path}`, { hint });
    this.path = path;
    this.reason = reason;
  }
}

/** Whether a server answers on the unix socket at `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const probe = createConnection(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => {
      resolve(false);
    });
  });
}

/** Removes a stale socket file at `path`; refuses a live one and any other kind of file. `option` names the flag to change. */
async function clearStaleSocket(path: string, option: string): Promise<void> {
  if (!existsSync(path)) return;
  if (!lstatSync(path).isSocket()) throw new SocketPathError(path, 'not-a-socket', `remove it, or choose another path with ${option}`);
  if (await answers(path)) throw new SocketPathError(path, 'in-use', `stop it first, or choose another path with ${option}`);
  unlinkSync(path);
}

export interface Listening {
  /** The TCP port bound (the one the system chose when 0 was asked), for TCP targets. */
  readonly port?: number;
  /** Stops listening, ends open connections and removes the socket file this call made. */
  close(): Promise<void>;
}

/**
 * Makes `server` listen on `target`. `option` names the setting that chose the path, for the hint of a path that
 * cannot be taken.
 */
export async function listen(server: Server, target: ListenTarget, option: string): Promise<Listening> {
  if (target.kind === 'unix') {
    mkdirSync(dirname(target.path), { recursive: true, mode: 0o755 });
    await clearStaleSocket(target.path, option);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const done = (): void => {
      server.off('error', reject);
      resolve();
    };
    if (target.kind === 'unix') server.listen(target.path, done);
    else if (target.kind === 'tcp') server.listen(target.port, target.host, done);
    else server.listen({ fd: target.fd }, done);
  });
  // Whoever can talk to the socket can do what its server does: the mode is the access control.
  if (target.kind === 'unix') chmodSync(target.path, target.mode);
  const bound = server.address();
  return {
    ...(target.kind === 'tcp' && typeof bound === 'object' && bound !== null ? { port: bound.port } : {}),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
        if (target.kind === 'unix' && existsSync(target.path)) unlinkSync(target.path);
      }),
  };
}
