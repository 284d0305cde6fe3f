// Ending child processes the tests and benchmarks started, by their handle (never by name).
import type { ChildProcess } from 'node:child_process';

/** Sends `signal` to a child and resolves once it has exited (at once if it has already). */
export function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve();
      return;
    }
    child.once('exit', () => {
      resolve();
    });
    child.kill(signal);
  });
}
