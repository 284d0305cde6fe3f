// `cantainer gateway add|rm|ls`: gateways between buses, through the daemon's control socket.
import type { Command } from 'commander';
import { gatewayWords } from '../bus/gateway-spec.js';
import { DEFAULT_CONTROL_SOCKET, type GatewayEntry } from '../control/protocol.js';
import { CONTROL_SOCKET_OPTION, callDaemon, collect, controlSocketPath, listCommand } from './client.js';
import type { CliIo } from './output.js';

interface AddOptions {
  both?: boolean;
  accept?: string[];
  reject?: string[];
  set?: string[];
  and?: string[];
  or?: string[];
  xor?: string[];
  xorChecksum?: string;
  crc8?: string;
  wait?: boolean;
  json?: boolean;
  controlSocket?: string;
}

function arrow(entry: Pick<GatewayEntry, 'source' | 'destination' | 'both'>): string {
  return `${entry.source} ${entry.both ? '<->' : '->'} ${entry.destination}`;
}

function settings(entry: GatewayEntry): string {
  const words = gatewayWords({ ...entry, both: false }).slice(1);
  return words.length === 0 ? 'every frame' : words.join(' ');
}

function status(entry: GatewayEntry): string {
  return entry.detail === undefined ? entry.state : `${entry.state} (${entry.detail})`;
}

export function registerGatewayCommands(program: Command, io: CliIo): void {
  const gateway = program
    .command('gateway')
    .description('forward frames between buses (by their network names): one way or both, only some ids, edited on the way')
    .addHelpText(
      'after',
      '\nExamples:\n  cantainer gateway add powertrain body --both\n  cantainer gateway add tester engine --accept 7E0 --accept 7DF\n  cantainer gateway add body dash --accept 3A0/7F0 --set id=123\n  cantainer gateway ls',
    );

  gateway
    .command('add')
    .description('forward frames from bus SRC to bus DST; both buses must exist, unless --wait. Adding SRC DST again replaces its settings')
    .argument('<src>', 'the bus frames come from')
    .argument('<dst>', 'the bus frames go to')
    .option('--both', 'forward both ways, with the same filters and edits')
    .option(
      '--accept <id/mask>',
      'forward only these ids (hex as candump: 123, 123/7F0, 8 digits for extended: 18DAF110/1FFFFF00); repeatable',
      collect,
    )
    .option('--reject <id/mask>', 'never forward these ids, even when accepted; repeatable', collect)
    .option(
      '--set <field=value>',
      'set a field of forwarded frames: id=HEX, len=DECIMAL, data=HEXBYTES, flags=HEX (FD); repeatable',
      collect,
    )
    .option('--and <field=value>', 'AND a field with a value; repeatable', collect)
    .option('--or <field=value>', 'OR a field with a value; repeatable', collect)
    .option('--xor <field=value>', 'XOR a field with a value; repeatable', collect)
    .option('--xor-checksum <from:to:at[:init]>', 'after editing, write the XOR of data bytes FROM..TO at byte AT')
    .option(
      '--crc8 <from:to:at:poly[:init[:xor]]>',
      'after editing, write the CRC8 (polynomial POLY, hex) of data bytes FROM..TO at byte AT',
    )
    .option('--wait', 'a bus that does not exist yet is waited for: the gateway is kept, and wired when the bus is created')
    .option('--json', 'print the gateway as JSON')
    .option(...CONTROL_SOCKET_OPTION)
    .action(async (source: string, destination: string, options: AddOptions) => {
      const { json, controlSocket, ...flags } = options;
      const answer = await callDaemon(controlSocketPath(controlSocket, DEFAULT_CONTROL_SOCKET), 'Gateway.Add', {
        source,
        destination,
        ...flags,
      });
      io.out(
        json === true ? `${JSON.stringify(answer.gateway, null, 2)}\n` : `gateway ${arrow(answer.gateway)}: ${status(answer.gateway)}\n`,
      );
    });

  gateway
    .command('rm')
    .description('remove the gateway from SRC to DST (a both-ways one by either order); frames stop crossing at once')
    .argument('<src>', 'the bus frames come from')
    .argument('<dst>', 'the bus frames go to')
    .option(...CONTROL_SOCKET_OPTION)
    .action(async (source: string, destination: string, options: { controlSocket?: string }) => {
      const answer = await callDaemon(controlSocketPath(options.controlSocket, DEFAULT_CONTROL_SOCKET), 'Gateway.Remove', {
        source,
        destination,
      });
      io.out(`gateway ${answer.removed} removed${answer.both ? ': both ways' : ''}\n`);
    });

  listCommand(gateway, io, {
    description: 'list the gateways: direction, state (wired, waiting for a bus, refused), filters and edits',
    method: 'Gateway.List',
    head: ['GATEWAY', 'STATE', 'SETTINGS', 'DECLARED BY'],
    row: (entry) => [arrow(entry), status(entry), settings(entry), entry.declaredBy ?? '-'],
  });
}
