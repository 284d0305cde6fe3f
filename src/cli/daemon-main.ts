// `cantainer daemon` as the executable's entry runs it: a command line of that one command, so that the start
// Docker and service managers wait for loads none of the other commands' modules.
import type { Command } from 'commander';
import { registerDaemonCommand } from './daemon-command.js';
import type { CliIo } from './output.js';
import { newProgram, processIo, runProgram } from './program.js';

/** The program with the daemon command only. */
export function daemonProgram(io: CliIo, status: { code: number }): Command {
  const program = newProgram(io);
  registerDaemonCommand(program, status);
  return program;
}

export async function daemonMain(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const status = { code: 0 };
  return runProgram(daemonProgram(io, status), argv, io, status);
}
