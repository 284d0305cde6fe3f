// The `daemon` command: its options and defaults, in one place for the whole command line and for the daemon's own
// start (src/cli/daemon-main.ts), which loads nothing of the other commands. Every option can also come from the
// environment (CANTAINER_LOG_LEVEL=debug): where a flag is not at hand, as in a managed plugin's settings or a
// container's environment; a flag given wins.
import { Option, type Command } from 'commander';
import { CONTROL_SOCKET_ENV } from '../control/protocol.js';
import { LOG_LEVELS, writeToStdio } from '../log.js';
import { DAEMON_DEFAULTS, runDaemon, type DaemonCliOptions } from './daemon.js';

export function registerDaemonCommand(program: Command, status: { code: number }): void {
  program
    .command('daemon')
    .description(
      'run the bus service in the foreground: the Docker network plugin socket, the state, the reconciler; stops on SIGTERM or SIGINT and leaves the buses running',
    )
    .addOption(new Option('--socket <path>', 'the Docker plugin socket to serve').default(DAEMON_DEFAULTS.socket).env('CANTAINER_SOCKET'))
    .addOption(
      new Option('--state-dir <dir>', 'where the desired state is kept').default(DAEMON_DEFAULTS.stateDir).env('CANTAINER_STATE_DIR'),
    )
    .addOption(
      new Option('--log-level <level>', `one of ${LOG_LEVELS.join(', ')}`).default(DAEMON_DEFAULTS.logLevel).env('CANTAINER_LOG_LEVEL'),
    )
    .addOption(
      new Option('--netns-dir <dir>', "where the buses' namespaces are pinned")
        .default(DAEMON_DEFAULTS.netnsDir)
        .env('CANTAINER_NETNS_DIR'),
    )
    .addOption(
      new Option('--control-socket <path>', 'the control socket of the cantainer commands (root only)')
        .default(DAEMON_DEFAULTS.controlSocket)
        .env(CONTROL_SOCKET_ENV),
    )
    .addOption(
      new Option('--docker-socket <path>', "Docker's API socket, asked for the names of networks")
        .default(DAEMON_DEFAULTS.dockerSocket)
        .env('CANTAINER_DOCKER_SOCKET'),
    )
    .addOption(
      new Option(
        '--metrics-listen <addr>',
        'serve Prometheus metrics at /metrics: PORT or :PORT (127.0.0.1 only), HOST:PORT, [IPv6]:PORT, or a unix socket (unix:/PATH); off by default',
      ).env('CANTAINER_METRICS_LISTEN'),
    )
    .addOption(
      new Option(
        '--http-listen <addr>',
        'serve the read-only web dashboard at / (and metrics at /metrics): PORT or :PORT (127.0.0.1 only), HOST:PORT, [IPv6]:PORT, or unix:/PATH; off by default',
      ).env('CANTAINER_HTTP_LISTEN'),
    )
    .addOption(
      new Option(
        '--http-token <file>',
        'a file whose first line (16 or more characters) every dashboard request must show: required when --http-listen is not a local address',
      ).env('CANTAINER_HTTP_TOKEN'),
    )
    .addOption(
      new Option(
        '--verify-every <seconds>',
        'how often every bus is read back from the kernel in full and what drifted put back (default 30)',
      ).env('CANTAINER_VERIFY_EVERY'),
    )
    .addOption(
      new Option(
        '--host-netns-dir <dir>',
        'where the host sees --netns-dir, when the daemon sees the host under another path (the managed plugin sets it): ls and inspect answer with it, so that dump and send open the buses from the host',
      ).env('CANTAINER_HOST_NETNS_DIR'),
    )
    .action(async (options: DaemonCliOptions) => {
      status.code = await runDaemon(options, writeToStdio);
    });
}
