// The client side of the daemon's control socket, for every front door that asks the daemon (the commands, the
// CNI and netavark plugins): one JSON request, one JSON answer, a clear error when the daemon cannot be reached,
// and the daemon's own error (with its code) when it refuses. Kept light: plugins load it on every call.
import { request } from 'node:http';
import { CantainerError, isErrorCode } from '../errors.js';
import {
  CONTROL_SOCKET_ENV,
  type ControlAnswer,
  type ControlMethod,
  type ControlRequest,
  type ControlStream,
  type ControlStreams,
} from './protocol.js';

/** Where the commands find the daemon: --control-socket, else $CANTAINER_CONTROL_SOCKET, else the default. */
export function controlSocketPath(
  flag: string | undefined,
  fallback: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  return flag ?? env[CONTROL_SOCKET_ENV] ?? fallback;
}

/** How to start the daemon, for every message that finds it down. */
export const START_DAEMON = 'systemctl start cantainer, or cantainer daemon';

/** Asks the daemon: method and body in, the answer out (a CantainerError when it refuses or cannot be reached). */
export type DaemonCall = <M extends ControlMethod>(
  socketPath: string,
  method: M,
  body: ControlRequest<M>,
  timeoutMs?: number,
) => Promise<ControlAnswer<M>>;

/** All of standard input (nothing from a terminal, so that a call by hand does not wait): what the plugins are given. */
export async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function unreachable(path: string, code: string): CantainerError {
  const hint =
    code === 'EACCES'
      ? 'the control socket is root only: run the command as root'
      : `start the daemon (${START_DAEMON}), or name its socket with --control-socket`;
  return new CantainerError('ENODAEMON', `cannot reach the cantainer daemon at ${path} (${code})`, { hint });
}

/**
 * Asks the daemon one method of the control protocol (control/protocol.ts): the body and the answer are typed by
 * the method.
 */
export const callDaemon: DaemonCall = async <M extends ControlMethod>(
  socketPath: string,
  method: M,
  body: ControlRequest<M>,
  timeoutMs = 60_000,
): Promise<ControlAnswer<M>> => {
  const payload = JSON.stringify(body);
  return new Promise<ControlAnswer<M>>((resolve, reject) => {
    const req = request(
      {
        socketPath,
        // A connection of its own: one kept alive from before a daemon restart would fail with EPIPE.
        agent: false,
        path: `/${method}`,
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) },
        timeout: timeoutMs,
      },
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
            reject(
              new CantainerError(
                isErrorCode(record.Code) ? record.Code : 'EDAEMON',
                typeof record.Err === 'string' ? record.Err : `the daemon answered ${response.statusCode ?? '?'}`,
              ),
            );
            return;
          }
          // The daemon and this client are one version: the answer is what the protocol says.
          resolve(answer as ControlAnswer<M>);
        });
      },
    );
    req.on('timeout', () => {
      req.destroy(
        new CantainerError('ETIMEDOUT', `the daemon did not answer ${method} within ${timeoutMs / 1000} s`, {
          hint: 'its log says what it is doing: journalctl -u cantainer',
        }),
      );
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      reject(error instanceof CantainerError ? error : unreachable(socketPath, error.code ?? error.message));
    });
    req.end(payload);
  });
};

/**
 * Follows a stream of the daemon (newline-delimited JSON) and calls `onValue` with each object until `onValue`
 * returns false, the daemon ends the stream, or `stop` is called. Resolves when it is over.
 */
export function followDaemon<S extends ControlStream>(
  socketPath: string,
  method: S,
  onValue: (value: ControlStreams[S]) => boolean,
): { done: Promise<void>; stop: () => void } {
  let stopRequest: () => void = () => undefined;
  const done = new Promise<void>((resolve, reject) => {
    const req = request(
      {
        socketPath,
        agent: false,
        path: `/${method}`,
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Content-Length': 2 },
      },
      (response) => {
        if (response.statusCode !== 200) {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            reject(
              new CantainerError('EDAEMON', `the daemon answered ${method} with ${response.statusCode ?? '?'}: ${text.slice(0, 200)}`),
            );
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
            if (!onValue(JSON.parse(line) as ControlStreams[S])) {
              req.destroy();
              resolve();
              return;
            }
          }
        });
        response.on('end', resolve);
        response.on('close', resolve);
      },
    );
    stopRequest = () => {
      req.destroy();
      resolve();
    };
    req.on('error', (error: NodeJS.ErrnoException) => {
      reject(error instanceof CantainerError ? error : unreachable(socketPath, error.code ?? error.message));
    });
    req.end('{}');
  });
  return {
    done,
    stop: () => {
      stopRequest();
    },
  };
}
