// Helpers for the real-kernel suite, which runs as root inside the lab VM (see lab/suite.ts).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { systemKernel, type CanSocketPort } from '../../src/kernel/index.js';
import { classicFrame, type CanFrame } from '../../src/can/frame.js';
import { formatCansend } from '../../src/can/text.js';
import { stopChild } from './child.js';

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
  sh(
    '. lab/guest/docker.sh && lab_start_dockerd && { docker image inspect lab/canutils >/dev/null 2>&1 || lab_busybox_image lab/canutils /usr/bin/cansend /usr/bin/candump /usr/bin/cangen /usr/bin/isotpsend /usr/bin/isotprecv; }',
    180_000,
  );
}

export interface RunningDaemon {
  readonly logPath: string;
  readonly pid: number;
  /** SIGTERM, and wait for the exit. */
  stop(): Promise<void>;
  /** SIGKILL, and wait for the exit: a crash. */
  kill(): Promise<void>;
}

/** npm run test:full: the full-size fuzz, soak and flood counts instead of those that keep CI short. */
export const FULL_SIZE = process.env.CANTAINER_FULL === '1';

/** The count a test uses: `ci` in npm test, `full` in npm run test:full. */
export function scaled(ci: number, full: number): number {
  return FULL_SIZE ? full : ci;
}

/** Open file descriptors and resident memory (KiB) of a process. */
export function processUsage(pid: number): { fds: number; rssKiB: number } {
  const fds = Number(sh(`ls /proc/${pid}/fd | wc -l`).trim());
  const rss = /VmRSS:\s+(\d+)/u.exec(sh(`cat /proc/${pid}/status`))?.[1];
  return { fds, rssKiB: Number(rss ?? 0) };
}

/**
 * How the suites run cantainer: `node bin/cantainer` from this checkout, or the self-contained executable that
 * CANTAINER_EXECUTABLE names (built by `npm run package`), so that the same suites prove it.
 */
export function cantainerCommand(): readonly string[] {
  const executable = process.env.CANTAINER_EXECUTABLE;
  return executable === undefined || executable === '' ? [process.execPath, 'bin/cantainer'] : [executable];
}

/** Starts `cantainer daemon` from this checkout and waits until it serves (its log says so). */
export async function startCantainerDaemon(
  args: string[] = [],
  logPath = '/run/cantainer-daemon.log',
  wrapper: readonly string[] = [],
): Promise<RunningDaemon> {
  const { spawn } = await import('node:child_process');
  const { openSync, existsSync, readFileSync } = await import('node:fs');
  // A killed daemon leaves its socket file: wait for the new one's "serving" line instead.
  const serving = (): number =>
    existsSync(logPath) ? readFileSync(logPath, 'utf8').split('"msg":"serving the Docker network plugin"').length - 1 : 0;
  const before = serving();
  const out = openSync(logPath, 'a');
  // A wrapper that execs its command (nsenter --net=...) keeps the pid, so the stop and kill below reach the daemon.
  const command = [...wrapper, ...cantainerCommand(), 'daemon', '--log-level', 'debug', ...args];
  const child = spawn(command[0] ?? process.execPath, command.slice(1), { stdio: ['ignore', out, out] });
  await waitFor('the daemon to serve', () => serving() > before || child.exitCode !== null, 30_000);
  if (child.exitCode !== null) throw new Error(`cantainer daemon exited with ${child.exitCode}: ${sh(`tail -20 ${logPath}`)}`);
  return { logPath, pid: child.pid ?? 0, stop: () => stopChild(child, 'SIGTERM'), kill: () => stopChild(child, 'SIGKILL') };
}

const hostKernel = systemKernel();

/** A raw CAN socket (FD-capable unless told otherwise) on an interface inside a running container. */
export function containerSocket(container: string, ifname: string, fd = true): CanSocketPort {
  const pid = sh(`docker inspect -f '{{.State.Pid}}' ${container}`).trim();
  return processSocket(Number(pid), container, ifname, fd);
}

/** A raw CAN socket on an interface in the network namespace of a process (a container's, whichever engine runs it). */
export function processSocket(pid: number, label: string, ifname: string, fd = true): CanSocketPort {
  return hostKernel.canSocket(ifname, { netns: { label, path: `/proc/${pid}/ns/net` }, fd });
}

/** Sends frames (cansend syntax) from inside a container with can-utils' cansend, in one docker exec. */
export function cansend(container: string, ifname: string, frames: string[]): void {
  sh(`docker exec ${container} sh -c '${frames.map((frame) => `cansend ${ifname} ${frame}`).join(' && ')}'`, 60_000);
}

/** Podman with fixed global flags: runs it, expects it to fail, and opens CAN sockets in its containers. */
export function podmanWith(flags: readonly string[]): {
  readonly run: (args: string[], timeoutMs?: number) => string;
  readonly fails: (args: string[]) => string;
  readonly socket: (container: string, ifname: string) => CanSocketPort;
} {
  const run = (args: string[], timeoutMs = 120_000): string =>
    execFileSync('podman', [...flags, ...args], { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  const fails = (args: string[]): string => {
    try {
      run(args);
    } catch (error) {
      return String((error as { stderr?: unknown }).stderr ?? error);
    }
    throw new Error(`podman ${args.join(' ')} succeeded`);
  };
  const socket = (container: string, ifname: string): CanSocketPort => {
    const pid = run(['inspect', '-f', '{{.State.Pid}}', container]).trim();
    return hostKernel.canSocket(ifname, { netns: { label: `${container}/${ifname}`, path: `/proc/${pid}/ns/net` }, fd: true });
  };
  return { run, fails, socket };
}

/** Sends frames from one socket; returns what each listener received (within 1 s of quiet), in order; closes them all. */
export async function exchangeFrames(
  sender: CanSocketPort,
  listeners: Readonly<Record<string, CanSocketPort>>,
  frames: readonly CanFrame[],
): Promise<Record<string, string[]>> {
  try {
    for (const frame of frames) sender.send(frame);
    const got = await Promise.all(
      Object.entries(listeners).map(async ([name, socket]) => [name, (await socket.receiveAll(1000)).map(formatCansend)] as const),
    );
    return Object.fromEntries(got);
  } finally {
    sender.close();
    for (const socket of Object.values(listeners)) socket.close();
  }
}

/**
 * The Docker end-to-end check: 20 frames sent in `sender` (a running container on a bus, interface can0) arrive in
 * every listener exactly once and in order.
 */
export async function assertBusCarriesFrames(sender: string, listeners: readonly string[]): Promise<void> {
  const frames = Array.from({ length: 20 }, (_, i) => classicFrame({ id: 0x100 + i, data: [i, 0xca, 0xfe] }));
  const got = await exchangeFrames(
    containerSocket(sender, 'can0', false),
    Object.fromEntries(listeners.map((name) => [name, containerSocket(name, 'can0', false)])),
    frames,
  );
  const expected = frames.map(formatCansend);
  assert.deepEqual(got, Object.fromEntries(listeners.map((name) => [name, expected])));
}
