// The command-line front door: parses arguments and calls into the layers below; no logic of its own.
import { Command, CommanderError } from 'commander';
import { CantainerError } from '../errors.js';
import { packageVersion } from '../version.js';
import { decodeCommand } from './decode.js';

export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

const defaultIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

export function buildProgram(io: CliIo): Command {
  const program = new Command('cantainer')
    .description('Virtual CAN buses for containers: SocketCAN networks wired with vxcan and can-gw.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for a command')
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride()
    .showHelpAfterError();

  program
    .command('decode')
    .description('decode netlink bytes (hex or strace \\x escapes) into JSON: messages, links, can-gw rules, errors')
    .argument('<hex>', 'the bytes of one netlink datagram')
    .action((hex: string) => {
      io.out(`${decodeCommand(hex)}\n`);
    });

  return program;
}

/** Runs the CLI and returns the exit status instead of exiting, so that it can be tested in-process. */
export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  const program = buildProgram(io);
  if (argv.length === 0) {
    io.out(program.helpInformation());
    return 0;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    if (error instanceof CantainerError) {
      io.err(`cantainer: ${error.message}${error.hint ? `\nhint: ${error.hint}` : ''}\n`);
      return 1;
    }
    throw error;
  }
}
