// The daemon: the bus service (state, reconciler) behind the Docker plugin socket. Started by `cantainer daemon`,
// and by tests with the in-memory kernel. At start it wires every bus of the state again, so a restart, a crash or
// a reboot needs no user action; on SIGTERM it stops serving and leaves the buses running in the kernel.
import { CURRENT_NETNS, type KernelPort } from '../kernel/port.js';
import type { Logger } from '../log.js';
import { BusService, type StartReport } from '../service/buses.js';
import { StateStore } from '../state/store.js';
import { ENDPOINTS, type DriverContext } from '../docker/driver.js';
import { parseBody } from '../docker/protocol.js';
import { servePlugin, type PluginServer } from './http.js';

export const DEFAULT_PLUGIN_SOCKET = '/run/docker/plugins/cantainer.sock';
export const DEFAULT_STATE_DIR = '/var/lib/cantainer';

export interface DaemonOptions {
  readonly kernel: KernelPort;
  readonly socketPath: string;
  readonly stateDir: string;
  readonly log: Logger;
  readonly listenFd?: number;
  readonly maxBodyBytes?: number;
  readonly requestTimeoutMs?: number;
}

export interface Daemon {
  readonly service: BusService;
  readonly server: PluginServer;
  readonly report: StartReport;
  close(): Promise<void>;
}

function logStart(log: Logger, report: StartReport): void {
  if (report.problem) log.error(report.problem.message, { hint: report.problem.hint, code: report.problem.code });
  for (const { bus, changes } of report.repaired) log.warn('bus repaired: the kernel had drifted from the state', { bus, changes });
  for (const { bus, error } of report.failed) log.error('bus could not be wired; retried at the next start and on its next request', { bus, err: error });
  for (const namespace of report.swept) log.info('removed a namespace that belongs to no bus', { namespace });
}

export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const { kernel, log } = options;
  const service = new BusService({ kernel, store: new StateStore(options.stateDir), log });
  const report = service.start();
  logStart(log, report);
  const context: DriverContext = {
    buses: service,
    log,
    hostLinkExists: (name) => {
      const route = kernel.route(CURRENT_NETNS);
      try {
        return route.findLink(name) !== undefined;
      } finally {
        route.close();
      }
    },
  };
  const server = await servePlugin({
    socketPath: options.socketPath,
    handlers: ENDPOINTS,
    context,
    log,
    parseBody,
    ...(options.listenFd === undefined ? {} : { listenFd: options.listenFd }),
    ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
    ...(options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs }),
  });
  log.info('serving the Docker network plugin', { socket: options.socketPath, state: options.stateDir, buses: report.buses });
  return { service, server, report, close: () => server.close() };
}
