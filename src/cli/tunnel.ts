// `cantainer tunnel add|rm|ls`: CAN over IP in cannelloni's format, each tunnel a member of a bus run by the daemon.
import { Option, type Command } from 'commander';
import { DEFAULT_CONTROL_SOCKET, type TunnelEntry, type TunnelRequest } from '../control/protocol.js';
import { tunnelFromFlags } from '../bus/tunnel.js';
import { CONTROL_SOCKET_OPTION, callDaemon, collect, controlSocketPath, listCommand } from './client.js';
import type { CliIo } from './output.js';

interface AddOptions {
  udp?: boolean;
  listen?: string;
  peer?: string;
  tcpServer?: string;
  tcpClient?: string;
  timeoutUs?: string;
  mtu?: string;
  allow?: string[];
  name?: string;
  json?: boolean;
  controlSocket?: string;
}

/** The request for `tunnel add`: exactly one of --udp, --tcp-server, --tcp-client, with the flags that go with it. */
export function tunnelRequest(bus: string, options: AddOptions): TunnelRequest {
  return { bus, ...tunnelFromFlags(options) };
}

function address(entry: TunnelEntry): string {
  if (entry.transport === 'udp') return `${entry.listen ?? ''} <-> ${entry.peer ?? ''}`;
  return entry.transport === 'tcp-server' ? (entry.listen ?? '') : `-> ${entry.peer ?? ''}`;
}

function dropped(entry: TunnelEntry): string {
  const causes = Object.entries(entry.counters?.dropped ?? {}).filter(([, n]) => n > 0);
  return causes.length === 0 ? '0' : causes.map(([cause, n]) => `${n} ${cause}`).join(', ');
}

export function registerTunnelCommands(program: Command, io: CliIo): void {
  const tunnel = program
    .command('tunnel')
    .description(
      'carry a bus to other hosts over IP, in the format of cannelloni 2.x (UDP, or TCP with many clients); each tunnel is a member of its bus, run by the daemon and kept across restarts',
    )
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  cantainer tunnel add powertrain --udp --listen 192.168.1.10:20000 --peer 192.168.1.20:20000',
        '  cantainer tunnel add powertrain --tcp-server 0.0.0.0:20000 --allow 10.0.0.0/8',
        '  cantainer tunnel add powertrain --tcp-client lab-host:20000',
        '  cannelloni -I vcan0 -R 192.168.1.10 -r 20000 -l 20000    (the far side, with cannelloni)',
        '  cantainer tunnel ls',
      ].join('\n'),
    );

  tunnel
    .command('add')
    .description('add a tunnel to bus BUS; adding one of the same name again changes its settings')
    .argument('<bus>', 'the bus (its network name)')
    .option('--udp', 'UDP datagrams (needs --listen and --peer)')
    .option('--listen <addr:port>', 'UDP: the address and port this side receives on (required; never implied)')
    .option('--peer <addr:port>', 'UDP: where datagrams go; without --allow, the only sender taken')
    .option(
      '--timeout-us <n>',
      'UDP: frames within this time of the last datagram wait at most this long for others to fill one; on a quiet link a frame goes at once (microseconds, default 1000; 0: never wait)',
    )
    .option('--mtu <n>', 'UDP: the link MTU that sizes datagrams (default 1500)')
    .option('--tcp-server <addr:port>', 'TCP: listen here and take many clients, each a member of the bus')
    .option('--tcp-client <host:port>', 'TCP: connect to a server (cannelloni -C s, or another cantainer), reconnecting by itself')
    .option('--allow <cidr>', 'who may connect (TCP server) or send (UDP): ADDR or ADDR/PREFIX; repeatable', collect)
    .addOption(new Option('--name <name>', "the tunnel's name (default: from its transport and port)"))
    .option('--json', 'print the tunnel as JSON')
    .option(...CONTROL_SOCKET_OPTION)
    .action(async (bus: string, options: AddOptions) => {
      const answer = await callDaemon(
        controlSocketPath(options.controlSocket, DEFAULT_CONTROL_SOCKET),
        'Tunnel.Add',
        tunnelRequest(bus, options),
      );
      const entry = answer.tunnel;
      io.out(
        options.json === true
          ? `${JSON.stringify(entry, null, 2)}\n`
          : `tunnel ${entry.name} on ${entry.bus}: ${entry.transport} ${address(entry)}, ${entry.state}${entry.detail === undefined ? '' : ` (${entry.detail})`}\n`,
      );
    });

  tunnel
    .command('rm')
    .description('remove tunnel NAME from bus BUS (its connections close, its pair goes)')
    .argument('<bus>', 'the bus (its network name)')
    .argument('<name>', 'the tunnel (cantainer tunnel ls shows the names)')
    .option(...CONTROL_SOCKET_OPTION)
    .action(async (bus: string, name: string, options: { controlSocket?: string }) => {
      await callDaemon(controlSocketPath(options.controlSocket, DEFAULT_CONTROL_SOCKET), 'Tunnel.Remove', { bus, name });
      io.out(`tunnel ${name} on ${bus} removed\n`);
    });

  listCommand(tunnel, io, {
    description:
      'list the tunnels: bus, name, transport, addresses, state, peers connected, frames in and out, drops by cause (--json: every counter)',
    method: 'Tunnel.List',
    head: ['BUS', 'NAME', 'TRANSPORT', 'ADDRESS', 'STATE', 'PEERS', 'IN', 'OUT', 'DROPPED', 'NOTE'],
    row: (entry) => [
      entry.bus,
      entry.name,
      entry.transport,
      address(entry),
      entry.state,
      entry.peers === undefined ? '-' : String(entry.peers.length),
      String(entry.counters?.framesIn ?? 0),
      String(entry.counters?.framesOut ?? 0),
      dropped(entry),
      entry.detail ?? '',
    ],
  });
}
