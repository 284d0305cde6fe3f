// The command-line front door: parses arguments and calls into the layers below; no logic of its own.
import type { Command } from 'commander';
import { decodeCommand } from './decode.js';
import { registerDaemonCommand } from './daemon-command.js';
import { newProgram, processIo, runProgram } from './program.js';
import { formatPreflight, preflight } from '../kernel/preflight.js';
import { registerGatewayCommands } from './gateway.js';
import { registerUplinkCommands } from './uplink.js';
import { registerTunnelCommands } from './tunnel.js';
import { registerFaultCommands } from './fault.js';
import { registerTopologyCommand } from './topology.js';
import { registerBusCommands } from './buses.js';
import { registerDoctorCommands } from './doctor.js';
import type { CliIo } from './output.js';

export type { CliIo } from './output.js';

/** Commands report a non-zero exit status through `status` (parseAsync only tells success from a thrown error). */
export function buildProgram(io: CliIo, status: { code: number } = { code: 0 }): Command {
  const program = newProgram(io);

  program
    .command('decode')
    .description('decode netlink bytes (hex or strace \\x escapes) into JSON: messages, links, can-gw rules, errors')
    .argument('<hex>', 'the bytes of one netlink datagram')
    .action((hex: string) => {
      io.out(`${decodeCommand(hex)}\n`);
    });

  program
    .command('preflight')
    .description(
      'check this kernel for the CAN modules cantainer needs (vcan, vxcan, can-gw, can-raw; can-isotp optional) and the can-gw hop limit; prints the command that fixes what is missing',
    )
    .option('--json', 'print the report as JSON')
    .action((options: { json?: boolean }) => {
      const report = preflight();
      io.out(options.json === true ? `${JSON.stringify(report, null, 2)}\n` : formatPreflight(report));
      if (!report.ok) status.code = 1;
    });

  registerDaemonCommand(program, status);
  registerBusCommands(program, io, status);
  registerDoctorCommands(program, io, status);
  registerGatewayCommands(program, io);
  registerUplinkCommands(program, io);
  registerTunnelCommands(program, io);
  registerFaultCommands(program, io);
  registerTopologyCommand(program, io);

  return program;
}

/** Runs the CLI and returns the exit status instead of exiting, so that it can be tested in-process. */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const status = { code: 0 };
  return runProgram(buildProgram(io, status), argv, io, status);
}
