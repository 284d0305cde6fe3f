// What every cantainer command line shares: the program's root (version, help, how output and errors go) and how a
// parsed command runs, with the errors a user can act on said in one line.
import { Command, CommanderError } from 'commander';
import { CantainerError } from '../errors.js';
import { describeErrno, errnoNumber } from '../netlink/errno.js';
import { packageVersion } from '../version.js';
import type { CliIo } from './output.js';

/** The process's own standard output and error. */
export const processIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** The root command, without subcommands. */
export function newProgram(io: CliIo): Command {
  return (
    new Command('cantainer')
      .description('Virtual CAN buses for containers: SocketCAN networks wired with vxcan and can-gw.')
      .version(packageVersion(), '-V, --version', 'print the version')
      .helpOption('-h, --help', 'show help for a command')
      .configureOutput({ writeOut: io.out, writeErr: io.err })
      .exitOverride()
      .showHelpAfterError()
      // Taken out of the arguments before parsing (see runProgram), so that it works before or after any command.
      .option('--debug', 'print the stack trace of an error too')
  );
}

/**
 * Runs `program` on `argv` and returns the exit status instead of exiting, so that it can be tested in-process.
 * Commands report a non-zero status through `status`.
 */
export async function runProgram(program: Command, argv: readonly string[], io: CliIo, status: { code: number }): Promise<number> {
  const debug = argv.includes('--debug');
  const args = argv.filter((arg) => arg !== '--debug');
  if (args.length === 0) {
    io.out(program.helpInformation());
    return 0;
  }
  try {
    await program.parseAsync(args, { from: 'user' });
    return status.code;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    const said = operationalError(error);
    // A bug (anything else) keeps its stack trace: it is for a bug report, not for the user to fix.
    if (said === undefined) throw error;
    io.err(`cantainer: ${said.message}${said.hint === undefined ? '' : `\nhint: ${said.hint}`}\n`);
    if (debug && error instanceof Error && error.stack !== undefined) io.err(`${error.stack}\n`);
    return 1;
  }
}

/**
 * What an error the user can act on says, in one line and a hint: cantainer's own errors, and the system's (a file
 * that is missing or not readable, a permission). Undefined for anything else.
 */
function operationalError(error: unknown): { message: string; hint?: string } | undefined {
  if (error instanceof CantainerError) return { message: error.message, ...(error.hint === undefined ? {} : { hint: error.hint }) };
  if (!(error instanceof Error)) return undefined;
  const { code, syscall, path } = error as NodeJS.ErrnoException;
  if (typeof code !== 'string' || syscall === undefined) return undefined;
  const errno = errnoNumber(code);
  const what = errno === undefined ? code : `${describeErrno(errno).message.toLowerCase()} (${code})`;
  const hints: Readonly<Record<string, string>> = {
    ENOENT: 'check the path',
    EACCES: 'check its permissions, or run the command as root',
    EPERM: 'run the command as root',
    EISDIR: 'name a file, not a directory',
  };
  return {
    message: `cannot ${syscall}${path === undefined ? '' : ` ${path}`}: ${what}`,
    ...(hints[code] === undefined ? {} : { hint: hints[code] }),
  };
}
