// Helpers for the real-kernel suite, which runs as root inside the lab VM (see lab/suite.ts).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

if (process.env.CANTAINER_IN_LAB !== '1') {
  throw new Error('the real-kernel suite runs inside the lab VM: use `npm test` (lab/suite.ts), not node --test directly');
}

/** Runs a shell command, returning its standard output; throws with its standard error when it fails. */
export function sh(command: string, timeoutMs = 30_000): string {
  return execFileSync('sh', ['-c', command], { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs a shell command that is expected to fail, returning its standard error. */
export function shFails(command: string, timeoutMs = 30_000): string {
  try {
    execFileSync('sh', ['-c', command], { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    return error instanceof Error && 'stderr' in error ? String(error.stderr) : String(error);
  }
  throw new Error(`expected \`${command}\` to fail`);
}

/** Polls a condition every 10 ms until it holds or the deadline passes. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Whether a CAN socket has registered a receiver on `ifname` (the CAN core lists them in /proc/net/can). */
export function hasCanReceiver(ifname: string, netns?: string): boolean {
  const list = netns === undefined ? readFileSync('/proc/net/can/rcvlist_all', 'utf8') : sh(`ip netns exec ${netns} cat /proc/net/can/rcvlist_all`);
  return list.split('\n').some((line) => line.trimStart().startsWith(`${ifname} `));
}

export interface Capture {
  readonly process: ChildProcess;
  /** Resolves with candump's log lines once it has printed `count` frames or exited. */
  readonly lines: Promise<string[]>;
}

/** Starts `candump -L -n count` on an interface (in a namespace, optionally) and waits until it is listening. */
export async function startCandump(ifname: string, count: number, netns?: string): Promise<Capture> {
  const args = ['-L', '-n', String(count), '-T', '10000', ifname];
  const child = netns === undefined ? spawn('candump', args) : spawn('ip', ['netns', 'exec', netns, 'candump', ...args]);
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const lines = new Promise<string[]>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', () => {
      resolve(out.split('\n').filter((line) => line.length > 0));
    });
  });
  await waitFor(`candump on ${ifname}`, () => hasCanReceiver(ifname, netns));
  return { process: child, lines };
}

/** The frame part of a candump -L line: "(1700000000.123456) vcan0 123#DEADBEEF" gives "vcan0 123#DEADBEEF". */
export function frameOf(line: string): string {
  return line.replace(/^\(\d+\.\d+\)\s+/u, '');
}
