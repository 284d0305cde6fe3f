// The `daemon` command: its options and defaults, in one place for the whole command line and for the daemon's own
// start (src/cli/daemon-main.ts), which loads nothing of the other commands.
import type { Command } from 'commander';
import { LOG_LEVELS } from '../log.js';
import { DAEMON_DEFAULTS, runDaemon, type DaemonCliOptions } from './daemon.js';

export function registerDaemonCommand(program: Command, status: { code: number }): void {
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
}
