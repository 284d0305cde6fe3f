// `cantainer daemon`: runs the bus service and the Docker plugin socket in the foreground until SIGTERM or SIGINT.
import { createLogger, LOG_LEVELS, type LogLevel } from '../log.js';
import { InvalidValueError, errorMessage } from '../errors.js';
import { DEFAULT_PLUGIN_SOCKET, DEFAULT_STATE_DIR } from '../daemon/defaults.js';
import { DEFAULT_CONTROL_SOCKET } from '../control/protocol.js';
import { DEFAULT_DOCKER_SOCKET } from '../docker/names.js';
import { parseMetricsAddress, type MetricsAddress } from '../transport/metrics-server.js';
import { formatHttpAddress, isLocalAddress, LOCAL_ADDRESS_ALLOWED, parseHttpAddress, type HttpAddress } from '../transport/http-server.js';
import { serveJsonLate } from '../transport/json-server.js';
import { parseBody, STATIC_ANSWERS } from '../docker/protocol.js';
import type { DriverContext } from '../docker/driver.js';

export interface DaemonCliOptions {
  readonly socket: string;
  readonly stateDir: string;
  readonly logLevel: string;
  readonly netnsDir: string;
  readonly controlSocket: string;
  readonly dockerSocket: string;
  /** Where to serve Prometheus metrics (see parseMetricsAddress); off when absent. */
  readonly metricsListen?: string;
  /** Where to serve the dashboard (and /metrics again); off when absent. */
  readonly httpListen?: string;
  /** A file whose first line is the token the dashboard asks for; required with a non-local --http-listen. */
  readonly httpToken?: string;
  /** How often every bus is read back from the kernel in full and repaired, in seconds (default 30). */
  readonly verifyEvery?: string;
  /** Where the host sees --netns-dir, when this daemon sees the host's files under another path (a managed plugin). */
  readonly hostNetnsDir?: string;
}

export const DAEMON_DEFAULTS = {
  socket: DEFAULT_PLUGIN_SOCKET,
  stateDir: DEFAULT_STATE_DIR,
  logLevel: 'info',
  netnsDir: '/run/cantainer/netns',
  controlSocket: DEFAULT_CONTROL_SOCKET,
  dockerSocket: DEFAULT_DOCKER_SOCKET,
} as const;

/** systemd socket activation (sd_listen_fds): the first inherited fd is 3, when LISTEN_PID names this process. */
export function inheritedSocket(env: Readonly<Record<string, string | undefined>>, pid: number): number | undefined {
  if (env.LISTEN_PID !== String(pid)) return undefined;
  const count = Number(env.LISTEN_FDS ?? '0');
  return Number.isInteger(count) && count >= 1 ? 3 : undefined;
}

/** What the daemon's options mean, checked: the log level, the metrics and dashboard addresses, the verify period. */
export function daemonSettings(options: DaemonCliOptions): {
  readonly logLevel: LogLevel;
  readonly metricsAddress?: MetricsAddress;
  readonly httpAddress?: HttpAddress;
  readonly httpTokenFile?: string;
  readonly verifyEveryMs?: number;
} {
  if (!(LOG_LEVELS as readonly string[]).includes(options.logLevel))
    throw new InvalidValueError('--log-level', options.logLevel, LOG_LEVELS.join(', '));
  // Empty is off, as an environment variable left empty in a managed plugin's settings says.
  const metricsAddress =
    options.metricsListen === undefined || options.metricsListen === '' ? undefined : parseMetricsAddress(options.metricsListen);
  const httpAddress =
    options.httpListen === undefined || options.httpListen === '' ? undefined : parseHttpAddress('--http-listen', options.httpListen);
  const httpTokenFile = options.httpToken === undefined || options.httpToken === '' ? undefined : options.httpToken;
  if (httpTokenFile !== undefined && httpAddress === undefined)
    throw new InvalidValueError('--http-token', httpTokenFile, 'a token file for the dashboard, with --http-listen ADDR');
  // Whoever reaches the page sees the traffic of every bus: another host must show a token.
  if (httpAddress !== undefined && httpTokenFile === undefined && !isLocalAddress(httpAddress))
    throw new InvalidValueError('--http-listen', formatHttpAddress(httpAddress), LOCAL_ADDRESS_ALLOWED);
  const verifyEvery = options.verifyEvery === undefined ? undefined : Number(options.verifyEvery);
  if (verifyEvery !== undefined && (!/^\d+$/u.test(options.verifyEvery ?? '') || verifyEvery < 1 || verifyEvery > 86_400))
    throw new InvalidValueError('--verify-every', options.verifyEvery, 'a whole number of seconds, 1..86400');
  return {
    logLevel: options.logLevel as LogLevel,
    ...(metricsAddress === undefined ? {} : { metricsAddress }),
    ...(httpAddress === undefined ? {} : { httpAddress }),
    ...(httpTokenFile === undefined ? {} : { httpTokenFile }),
    ...(verifyEvery === undefined ? {} : { verifyEveryMs: verifyEvery * 1000 }),
  };
}

export async function runDaemon(options: DaemonCliOptions, writeLog: (line: string, at: LogLevel) => void): Promise<number> {
  const { logLevel, metricsAddress, httpAddress, httpTokenFile, verifyEveryMs } = daemonSettings(options);
  const log = createLogger(logLevel, writeLog);
  const listenFd = inheritedSocket(process.env, process.pid);
  if (listenFd !== undefined) log.info('serving a socket inherited from the service manager', { fd: listenFd });
  // The plugin socket answers first, before anything else is loaded: Docker (and a managed plugin's enable) waits for
  // Activate, and the rest of a start (modules, the kernel check, wiring every bus) may take seconds on a slow host.
  // Requests that need the buses wait until they are wired.
  const plugin = await serveJsonLate<DriverContext>({
    socketPath: options.socket,
    early: STATIC_ANSWERS,
    log,
    parseBody,
    ...(listenFd === undefined ? {} : { listenFd }),
  });
  let daemon: { close(): Promise<void> };
  try {
    // Loaded here, not at the top: the other commands never load the kernel, the service or the front doors.
    const [{ systemKernel }, { loadRequiredModules }, { startDaemon }] = await Promise.all([
      import('../kernel/index.js'),
      import('../kernel/preflight.js'),
      import('../daemon/daemon.js'),
    ]);
    const kernel = systemKernel({ netnsDir: options.netnsDir });
    const report = kernel.preflight();
    if (!report.ok)
      log.error('this kernel lacks CAN modules cantainer needs; requests will fail until fixed', { fix: report.fixes.join('; ') });
    try {
      const loaded = loadRequiredModules(report);
      if (loaded.length > 0) log.info('loaded kernel modules', { modules: loaded.join(',') });
    } catch (error) {
      log.error(errorMessage(error));
    }
    daemon = await startDaemon({
      kernel,
      socketPath: options.socket,
      pluginServer: plugin,
      controlSocketPath: options.controlSocket,
      dockerSocketPath: options.dockerSocket,
      stateDir: options.stateDir,
      log,
      ...(metricsAddress === undefined ? {} : { metricsAddress }),
      ...(httpAddress === undefined ? {} : { httpAddress }),
      ...(httpTokenFile === undefined ? {} : { httpTokenFile }),
      ...(verifyEveryMs === undefined ? {} : { verifyEveryMs }),
      ...(options.hostNetnsDir === undefined || options.hostNetnsDir === '' ? {} : { hostNetnsDir: options.hostNetnsDir }),
    });
  } catch (error) {
    plugin.fail(error);
    await plugin.server.close();
    throw error;
  }
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  log.info('stopping; the buses stay in the kernel', { signal });
  await daemon.close();
  return 0;
}
