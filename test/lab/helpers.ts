// Helpers for the real-kernel suite, which runs as root inside the lab VM (see lab/suite.ts).
import { execFileSync } from 'node:child_process';

if (process.env.CANTAINER_IN_LAB !== '1') {
  throw new Error('the real-kernel suite runs inside the lab VM: use `npm test` (lab/suite.ts), not node --test directly');
}

/** Runs a shell command, returning its standard output; throws with its standard error when it fails. */
export function sh(command: string, timeoutMs = 30_000): string {
  return execFileSync('sh', ['-c', command], { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Polls a condition every 10 ms until it holds or the deadline passes. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Starts dockerd once per lab run (later calls find it running) and imports the busybox image with can-utils. */
export function ensureDockerWithImages(): void {
  sh('. lab/guest/docker.sh && lab_start_dockerd && { docker image inspect lab/canutils >/dev/null 2>&1 || lab_busybox_image lab/canutils /usr/bin/cansend /usr/bin/candump; }', 180_000);
}

export interface RunningDaemon {
  readonly logPath: string;
  stop(): Promise<void>;
}

/** Starts `cantainer daemon` from this checkout and waits until its plugin socket answers. */
export async function startCantainerDaemon(args: string[] = [], logPath = '/run/cantainer-daemon.log'): Promise<RunningDaemon> {
  const { spawn } = await import('node:child_process');
  const { openSync, existsSync } = await import('node:fs');
  const out = openSync(logPath, 'a');
  const child = spawn(process.execPath, ['bin/cantainer', 'daemon', '--log-level', 'debug', ...args], { stdio: ['ignore', out, out] });
  const socket = args.includes('--socket') ? (args[args.indexOf('--socket') + 1] ?? '') : '/run/docker/plugins/cantainer.sock';
  await waitFor(`the daemon's socket ${socket}`, () => existsSync(socket) || child.exitCode !== null, 20_000);
  if (child.exitCode !== null) throw new Error(`cantainer daemon exited with ${child.exitCode}: ${sh(`tail -20 ${logPath}`)}`);
  return {
    logPath,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) {
          resolve();
          return;
        }
        child.once('exit', () => { resolve(); });
        child.kill('SIGTERM');
      }),
  };
}
