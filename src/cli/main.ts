// The command-line front door: parses arguments and calls into the layers below; no logic of its own.
import { Command, CommanderError } from 'commander';
import { CantainerError } from '../errors.js';
import { describeErrno, errnoNumber } from '../netlink/errno.js';
import { packageVersion } from '../version.js';
import { decodeCommand } from './decode.js';
import { DAEMON_DEFAULTS, runDaemon, type DaemonCliOptions } from './daemon.js';
import { LOG_LEVELS } from '../log.js';
import { formatPreflight, preflight } from '../kernel/preflight.js';
import { registerGatewayCommands } from './gateway.js';
import { registerUplinkCommands } from './uplink.js';
import { registerTunnelCommands } from './tunnel.js';
import { registerBusCommands } from './buses.js';
import { registerDoctorCommands } from './doctor.js';
import type { CliIo } from './output.js';

export type { CliIo } from './output.js';

const defaultIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/**
 * Commands report a non-zero exit status through `status` (parseAsync only tells success from a thrown error).
 * `only: 'daemon'` leaves the other commands out: the daemon's start (which service managers and Docker wait for)
 * does not build a few dozen commands it never runs.
 */
export function buildProgram(io: CliIo, status: { code: number } = { code: 0 }, only?: 'daemon'): Command {
  const program = new Command('cantainer')
    .description('Virtual CAN buses for containers: SocketCAN networks wired with vxcan and can-gw.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for a command')
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride()
    .showHelpAfterError()
    // Taken out of the arguments before parsing (see main), so that it works before or after any command.
    .option('--debug', 'print the stack trace of an error too');

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

  program
    .command('daemon')
    .description(
      'run the bus service in the foreground: the Docker network plugin socket, the state, the reconciler; stops on SIGTERM or SIGINT and leaves the buses running',
    )
    .option('--socket <path>', 'the Docker plugin socket to serve', DAEMON_DEFAULTS.socket)
    .option('--state-dir <dir>', 'where the desired state is kept', DAEMON_DEFAULTS.stateDir)
    .option('--log-level <level>', `one of ${LOG_LEVELS.join(', ')}`, DAEMON_DEFAULTS.logLevel)
    .option('--netns-dir <dir>', "where the buses' namespaces are pinned", DAEMON_DEFAULTS.netnsDir)
    .option('--control-socket <path>', 'the control socket of the cantainer commands (root only)', DAEMON_DEFAULTS.controlSocket)
    .option('--docker-socket <path>', "Docker's API socket, asked for the names of networks", DAEMON_DEFAULTS.dockerSocket)
    .option(
      '--metrics-listen <addr>',
      'serve Prometheus metrics at /metrics: PORT or :PORT (127.0.0.1 only), HOST:PORT, [IPv6]:PORT, or a unix socket (unix:/PATH); off by default',
    )
    .option('--verify-every <seconds>', 'how often every bus is read back from the kernel in full and what drifted put back (default 30)')
    .action(async (options: DaemonCliOptions) => {
      status.code = await runDaemon(options, (line) => process.stderr.write(line));
    });

  if (only === 'daemon') return program;
  registerBusCommands(program, io, status);
  registerDoctorCommands(program, io, status);
  registerGatewayCommands(program, io);
  registerUplinkCommands(program, io);
  registerTunnelCommands(program, io);

  return program;
}

/** Runs the CLI and returns the exit status instead of exiting, so that it can be tested in-process. */
export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  const status = { code: 0 };
  const debug = argv.includes('--debug');
  const args = argv.filter((arg) => arg !== '--debug');
  const program = buildProgram(io, status, args[0] === 'daemon' ? 'daemon' : undefined);
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
