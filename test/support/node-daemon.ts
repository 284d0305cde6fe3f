// A daemon on the in-memory kernel standing for one host (or node), its sockets and state named after it in a
// test's directory: for tests with several daemons joined by tunnels.
import { join } from 'node:path';
import { silentLogger } from '../../src/log.js';
import { startDaemon, type Daemon, type DaemonOptions } from '../../src/daemon/daemon.js';
import { FakeKernel } from './fake-kernel.js';

export interface NodeDaemon {
  readonly name: string;
  readonly kernel: FakeKernel;
  /** The Docker plugin socket. */
  readonly plugin: string;
  readonly control: string;
  readonly daemon: Daemon;
}

/** Starts the daemon of host `name` in `dir`; `kernel` to start it again on the same host's kernel. */
export async function startNodeDaemon(
  dir: string,
  name: string,
  options: Partial<Omit<DaemonOptions, 'kernel' | 'socketPath' | 'controlSocketPath' | 'stateDir'>> = {},
  kernel = new FakeKernel(),
): Promise<NodeDaemon> {
  const plugin = join(dir, `${name}-plugin.sock`);
  const control = join(dir, `${name}-control.sock`);
  const daemon = await startDaemon({
    log: silentLogger,
    ...options,
    kernel,
    socketPath: plugin,
    controlSocketPath: control,
    stateDir: join(dir, `${name}-state`),
  });
  return { name, kernel, plugin, control, daemon };
}
