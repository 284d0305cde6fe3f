// The `cantainer` commands' side of the daemon's control socket: the option naming it, and the listing commands.
import type { Command } from 'commander';
import { callDaemon, controlSocketPath } from '../control/client.js';
import { CONTROL_SOCKET_ENV, DEFAULT_CONTROL_SOCKET, type ControlAnswer, type ControlMethod } from '../control/protocol.js';
import { table } from './output.js';

export { callDaemon, controlSocketPath, followDaemon } from '../control/client.js';

/** The option every command that talks to the daemon takes. */
export const CONTROL_SOCKET_OPTION = [
  '--control-socket <path>',
  `the daemon's control socket (default: $${CONTROL_SOCKET_ENV} or ${DEFAULT_CONTROL_SOCKET})`,
] as const;

/** Collects a repeatable option's values. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** The listing methods, and the key of each answer that holds the list. */
const LISTS = {
  'Bus.List': 'buses',
  'Gateway.List': 'gateways',
  'Uplink.List': 'uplinks',
  'Tunnel.List': 'tunnels',
  'Fault.List': 'faults',
} as const satisfies {
  [M in ControlMethod]?: keyof ControlAnswer<M>;
};

type ListMethod = keyof typeof LISTS;

/** An entry of the list `method` answers. */
type Listed<M extends ListMethod> = ControlAnswer<M> extends Readonly<Record<(typeof LISTS)[M], ReadonlyArray<infer E>>> ? E : never;

/**
 * A listing command (`ls`): asks the daemon for `method`, prints the list it answers as a table, or as JSON with
 * --json.
 */
export function listCommand<M extends ListMethod>(
  parent: Command,
  io: { readonly out: (text: string) => void },
  spec: {
    readonly name?: string;
    readonly description: string;
    readonly method: M;
    readonly head: readonly string[];
    readonly row: (entry: Listed<M>) => string[];
  },
): Command {
  return parent
    .command(spec.name ?? 'ls')
    .description(spec.description)
    .option('--json', 'print the list as JSON')
    .option(...CONTROL_SOCKET_OPTION)
    .action(async (options: { json?: boolean; controlSocket?: string }) => {
      const answer: ControlAnswer<ListMethod> = await callDaemon(
        controlSocketPath(options.controlSocket, DEFAULT_CONTROL_SOCKET),
        spec.method,
        {},
      );
      // The answer of `method` holds its list under LISTS[method] (checked against the protocol above).
      const list = (answer as Record<string, unknown>)[LISTS[spec.method]] as ReadonlyArray<Listed<M>>;
      io.out(options.json === true ? `${JSON.stringify(list, null, 2)}\n` : table(spec.head, list.map(spec.row)));
    });
}
