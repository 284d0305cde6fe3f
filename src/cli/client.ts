// The `cantainer` commands' side of the daemon's control socket: the option naming it, and the listing commands.
import type { Command } from 'commander';
import { callDaemon, CONTROL_SOCKET_ENV, controlSocketPath, DEFAULT_CONTROL_SOCKET } from '../control/client.js';
import { table } from './output.js';

export { callDaemon, CONTROL_SOCKET_ENV, controlSocketPath, followDaemon } from '../control/client.js';

/** The option every command that talks to the daemon takes. */
export const CONTROL_SOCKET_OPTION = [
  '--control-socket <path>',
  `the daemon's control socket (default: $${CONTROL_SOCKET_ENV} or ${DEFAULT_CONTROL_SOCKET})`,
] as const;

/** Collects a repeatable option's values. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/**
 * A listing command (`ls`): asks the daemon for `method`, prints the list under `key` as a table, or as JSON with
 * --json.
 */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- T types the caller's rows against the entries it lists
export function listCommand<T>(
  parent: Command,
  io: { readonly out: (text: string) => void },
  spec: {
    readonly name?: string;
    readonly description: string;
    readonly method: string;
    readonly key: string;
    readonly head: readonly string[];
    readonly row: (entry: T) => string[];
  },
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
