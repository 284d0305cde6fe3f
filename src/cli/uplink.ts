// `cantainer uplink add|rm|ls`: existing CAN interfaces of the host (can0, a USB adapter, vcan0) joined to buses.
import type { Command } from 'commander';
import { InvalidValueError } from '../errors.js';
import { DEFAULT_CONTROL_SOCKET, type UplinkEntry } from '../control/protocol.js';
import { UPLINK_DIRECTIONS, type UplinkDirection } from '../bus/uplink.js';
import { CONTROL_SOCKET_OPTION, callDaemon, collect, controlSocketPath, listCommand } from './client.js';
import type { CliIo } from './output.js';

function filters(entry: UplinkEntry): string {
  const words = [...entry.accept.flatMap((f) => ['--accept', f]), ...entry.reject.flatMap((f) => ['--reject', f])];
  return words.length === 0 ? 'every frame' : words.join(' ');
}

/** `--direction`, checked here so that the request says what it asks. */
function uplinkDirection(text: string): UplinkDirection {
  const direction = UPLINK_DIRECTIONS.find((known) => known === text);
  if (direction === undefined) throw new InvalidValueError('--direction', text, UPLINK_DIRECTIONS.join(', '));
  return direction;
}

export function registerUplinkCommands(program: Command, io: CliIo): void {
  const uplink = program
    .command('uplink')
    .description(
      'join an existing CAN interface of this host (can0, a USB adapter, vcan0) to a bus; it is never moved or deleted, and is wired again when it comes back after going away',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  cantainer uplink add powertrain can0\n  cantainer uplink add body vcan0 --direction in --accept 3A0/7F0\n  cantainer uplink ls',
    );

  uplink
    .command('add')
    .description('join interface IFACE to bus BUS; adding it again changes its settings')
    .argument('<bus>', 'the bus (its network name)')
    .argument('<iface>', 'a CAN interface of this host')
    .option('--direction <both|in|out>', 'in: from the interface onto the bus only; out: from the bus to the interface only', 'both')
    .option('--accept <id/mask>', 'only these ids cross (hex as candump: 123, 123/7F0, 18DAF110/1FFFFF00); repeatable', collect)
    .option('--reject <id/mask>', 'these ids never cross; repeatable', collect)
    .option('--json', 'print the uplink as JSON')
    .option(...CONTROL_SOCKET_OPTION)
    .action(
      async (
        bus: string,
        iface: string,
        options: { direction: string; accept?: string[]; reject?: string[]; json?: boolean; controlSocket?: string },
      ) => {
        const answer = await callDaemon(controlSocketPath(options.controlSocket, DEFAULT_CONTROL_SOCKET), 'Uplink.Add', {
          bus,
          interface: iface,
          direction: uplinkDirection(options.direction),
          accept: options.accept ?? [],
          reject: options.reject ?? [],
        });
        const entry = answer.uplink;
        io.out(
          options.json === true
            ? `${JSON.stringify(entry, null, 2)}\n`
            : `uplink ${entry.interface} on ${entry.bus}: ${entry.state}${entry.detail === undefined ? '' : ` (${entry.detail})`}\n`,
        );
      },
    );

  uplink
    .command('rm')
    .description('detach interface IFACE from bus BUS (the interface stays as it is)')
    .argument('<bus>', 'the bus (its network name)')
    .argument('<iface>', 'the interface')
    .option(...CONTROL_SOCKET_OPTION)
    .action(async (bus: string, iface: string, options: { controlSocket?: string }) => {
      await callDaemon(controlSocketPath(options.controlSocket, DEFAULT_CONTROL_SOCKET), 'Uplink.Remove', { bus, interface: iface });
      io.out(`uplink ${iface} on ${bus} removed\n`);
    });

  listCommand(uplink, io, {
    description: 'list the uplinks: bus, interface, direction, state (up, or down while the interface is missing), filters',
    method: 'Uplink.List',
    head: ['BUS', 'INTERFACE', 'DIRECTION', 'STATE', 'FILTERS', 'NOTE'],
    row: (entry) => [entry.bus, entry.interface, entry.direction, entry.state, filters(entry), entry.detail ?? ''],
  });
}
