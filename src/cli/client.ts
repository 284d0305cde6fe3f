// The `cantainer` commands' side of the daemon's control socket: one JSON request, one JSON answer, a clear error
// when the daemon cannot be reached, and the daemon's own error (with its code) when it refuses.
import { request } from 'node:http';
import { CantainerError } from '../errors.js';
import type { Command } from 'commander';
import { DEFAULT_CONTROL_SOCKET } from '../control/api.js';
import { table } from './output.js';

export const CONTROL_SOCKET_ENV = 'CANTAINER_CONTROL_SOCKET';

/** The option every command that talks to the daemon takes. */
export const CONTROL_SOCKET_OPTION = ['--control-socket <path>', `the daemon's control socket (default: $${CONTROL_SOCKET_ENV} or ${DEFAULT_CONTROL_SOCKET})`] as const;

/** Collects a repeatable option's values. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Where the commands find the daemon: --control-socket, else $CANTAINER_CONTROL_SOCKET, else the default. */
export function controlSocketPath(flag: string | undefined, fallback: string, env: Readonly<Record<string, string | undefined>> = process.env): string {
  return flag ?? env[CONTROL_SOCKET_ENV] ?? fallback;
}

function unreachable(path: string, code: string): CantainerError {
  const hint =
    code === 'EACCES'
      ? 'the control socket is root only: run the command as root'
      : 'start the daemon (systemctl start cantainer, or cantainer daemon), or name its socket with --control-socket';
  return new CantainerError('ENODAEMON', `cannot reach the cantainer daemon at ${path} (${code})`, { hint });
}

export async function callDaemon<T extends object>(socketPath: string, method: string, body: object = {}, timeoutMs = 60_000): Promise<T> {
  const payload = JSON.stringify(body);
  return new Promise<T>((resolve, reject) => {
    const req = request(
      { socketPath, path: `/${method}`, method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) }, timeout: timeoutMs },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let answer: unknown;
          try {
            answer = JSON.parse(text);
          } catch {
            reject(new CantainerError('EDAEMON', `the daemon answered ${method} with something that is not JSON: ${text.slice(0, 200)}`));
            return;
          }
          const record = (typeof answer === 'object' && answer !== null ? answer : {}) as { Err?: unknown; Code?: unknown };
          if (response.statusCode !== 200) {
            // The daemon's message carries its hint already.
            reject(new CantainerError(typeof record.Code === 'string' ? record.Code : 'EDAEMON', typeof record.Err === 'string' ? record.Err : `the daemon answered ${response.statusCode ?? '?'}`));
            return;
          }
          resolve(answer as T);
        });
      },
    );
    req.on('timeout', () => {
      req.destroy(new CantainerError('ETIMEDOUT', `the daemon did not answer ${method} within ${timeoutMs / 1000} s`, { hint: 'its log says what it is doing: journalctl -u cantainer' }));
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      reject(error instanceof CantainerError ? error : unreachable(socketPath, error.code ?? error.message));
    });
    req.end(payload);
  });
}

/**
 * Follows a stream of the daemon (newline-delimited JSON) and calls `onValue` with each object until `onValue`
 * returns false, the daemon ends the stream, or `stop` is called. Resolves when it is over.
 */
export function followDaemon(socketPath: string, method: string, onValue: (value: Record<string, unknown>) => boolean): { done: Promise<void>; stop: () => void } {
  let stopRequest: () => void = () => undefined;
  const done = new Promise<void>((resolve, reject) => {
    const req = request({ socketPath, path: `/${method}`, method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': 2 } }, (response) => {
      if (response.statusCode !== 200) {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          reject(new CantainerError('EDAEMON', `the daemon answered ${method} with ${response.statusCode ?? '?'}: ${text.slice(0, 200)}`));
        });
        return;
      }
      let pending = '';
      response.on('data', (chunk: Buffer) => {
        pending += chunk.toString('utf8');
        for (let at = pending.indexOf('\n'); at >= 0; at = pending.indexOf('\n')) {
          const line = pending.slice(0, at);
          pending = pending.slice(at + 1);
          if (line.trim() === '') continue;
          if (!onValue(JSON.parse(line) as Record<string, unknown>)) {
            req.destroy();
            resolve();
            return;
          }
        }
      });
      response.on('end', resolve);
      response.on('close', resolve);
    });
    stopRequest = () => {
      req.destroy();
      resolve();
    };
    req.on('error', (error: NodeJS.ErrnoException) => {
      reject(error instanceof CantainerError ? error : unreachable(socketPath, error.code ?? error.message));
    });
    req.end('{}');
  });
  return { done, stop: () => { stopRequest(); } };
}

/**
 * A listing command (`ls`): asks the daemon for `method`, prints the list under `key` as a table, or as JSON with
 * --json.
 */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- T types the caller's rows against the entries it lists
export function listCommand<T>(
  parent: Command,
  io: { readonly out: (text: string) => void },
  spec: { readonly name?: string; readonly description: string; readonly method: string; readonly key: string; readonly head: readonly string[]; readonly row: (entry: T) => string[] },
): Command {
  return parent
    .command(spec.name ?? 'ls')
    .description(spec.description)
    .option('--json', 'print the list as JSON')
    .option(...CONTROL_SOCKET_OPTION)
    .action(async (options: { json?: boolean; controlSocket?: string }) => {
      const answer = await callDaemon<Record<string, T[]>>(controlSocketPath(options.controlSocket, DEFAULT_CONTROL_SOCKET), spec.method);
      const list = answer[spec.key] ?? [];
      io.out(options.json === true ? `${JSON.stringify(list, null, 2)}\n` : table(spec.head, list.map(spec.row)));
    });
}
