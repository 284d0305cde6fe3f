// One executable, three programs: which one runs is decided by how it was called, as a runtime or a user calls it.
// Each loads only its own modules (dynamic imports), so the plugins start without the daemon's code.
import { basename, dirname } from 'node:path';

export type EntryRole = 'cli' | 'cni' | 'netavark';

/**
 * The CNI plugin when a runtime sets CNI_COMMAND (a plain copy in /opt/cni/bin works); the netavark plugin when
 * called as `cantainer-netavark`, or from a directory named `netavark` (netavark runs the plugin named after its
 * driver from such a directory: /usr/libexec/netavark/cantainer); else the command line.
 */
export function entryRole(invokedAs: string, env: Readonly<Record<string, string | undefined>>): EntryRole {
  if (env.CNI_COMMAND !== undefined) return 'cni';
  if (basename(invokedAs) === 'cantainer-netavark' || basename(dirname(invokedAs)) === 'netavark') return 'netavark';
  return 'cli';
}

/** Runs the program `entryRole` picks; resolves to its exit status. */
export async function runEntry(invokedAs: string, argv: readonly string[]): Promise<number> {
  switch (entryRole(invokedAs, process.env)) {
    case 'cni': {
      const { cniMain } = await import('../cni/main.js');
      return cniMain();
    }
    case 'netavark': {
      const { netavarkMain } = await import('../netavark/main.js');
      return netavarkMain(argv);
    }
    case 'cli': {
      if (argv.filter((arg) => arg !== '--debug')[0] === 'daemon') {
        const { daemonMain } = await import('./daemon-main.js');
        return daemonMain(argv);
      }
      const { main } = await import('./main.js');
      return main(argv);
    }
  }
}
