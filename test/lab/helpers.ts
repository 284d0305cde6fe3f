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
