// The daemon: the bus service (state, reconciler) behind the Docker plugin socket. Started by `cantainer daemon`,
// and by tests with the in-memory kernel. At start it wires every bus of the state again, so a restart, a crash or
// a reboot needs no user action; on SIGTERM it stops serving and leaves the buses running in the kernel.
import { CURRENT_NETNS, type KernelPort } from '../kernel/port.js';
import type { Logger } from '../log.js';
import { BusService, DEFAULT_TAKEOVER_GRACE_MS, type SpanSources, type StartReport } from '../service/buses.js';
import { STATE_FILE, StateStore } from '../state/store.js';
import { join } from 'node:path';
import { ENDPOINTS, type DriverContext } from '../docker/driver.js';
import { dockerApiLookup, dockerMemberLookup, NetworkNamer, type NetworkLookup } from '../docker/names.js';
import { dockerSwarmNodes } from '../docker/swarm.js';
import { parseBody } from '../docker/protocol.js';
import { CONTROL_ENDPOINTS, type ControlContext } from '../control/api.js';
import { serveJson, type JsonServer, type LateJsonServer } from '../transport/json-server.js';
import { collectMetrics, RequestMetrics } from './metrics.js';
import { formatMetricsAddress, serveMetrics, type MetricsAddress, type MetricsServer } from '../transport/metrics-server.js';
import { packageVersion } from '../version.js';
import { TunnelHost } from '../tunnel/host.js';
import { errorMessage } from '../errors.js';
import { serveDashboard, type DashboardServer } from '../dashboard/server.js';
import type { HttpAddress } from '../transport/http-server.js';

export interface DaemonOptions {
  readonly kernel: KernelPort;
  readonly socketPath: string;
  readonly stateDir: string;
  readonly log: Logger;
  readonly listenFd?: number;
  /**
   * The plugin socket, already listening and answering what needs nothing loaded (`cantainer daemon` opens it first
   * thing); the driver's routes are given to it once the buses are wired. Else the socket is opened here.
   */
  readonly pluginServer?: LateJsonServer<DriverContext>;
  /** How to ask Docker for network names (its API socket); buses are known by network id without it. */
  readonly dockerSocketPath?: string;
  /** Or a lookup of its own (tests). */
  readonly networkLookup?: NetworkLookup;
  /** The control socket of the `cantainer` commands; none when absent. */
  readonly controlSocketPath?: string;
  readonly maxBodyBytes?: number;
  readonly requestTimeoutMs?: number;
  /**
   * How long a member's end may wait in the daemon's namespace for the engine to take it (default 10 min). An
   * engine starting twenty containers at once on a slow machine takes more than a minute to get to the last.
   */
  readonly takeoverGraceMs?: number;
  /** How often every bus is read back from the kernel in full and repaired (default 30 s). */
  readonly verifyEveryMs?: number;
  /** Where to serve Prometheus metrics; none when absent. */
  readonly metricsAddress?: MetricsAddress;
  /** Where to serve the dashboard (and /metrics); none when absent. */
  readonly httpAddress?: HttpAddress;
  /** The dashboard's token file (required on a non-local address). */
  readonly httpTokenFile?: string;
  /** How often open dashboards get the counters (default 1 s). */
  readonly dashboardEveryMs?: number;
  /** How often spanned buses are kept to their hub (default 3 s). */
  readonly spanEveryMs?: number;
  /** Where the host sees the namespace pins, when not where this daemon does (see ControlContext). */
  readonly hostNetnsDir?: string;
  /** Where the nodes of spans come from (default: Docker's swarm through its API socket, and this host's addresses). */
  readonly spanSources?: SpanSources;
}

export interface Daemon {
  readonly service: BusService;
  readonly server: JsonServer;
  readonly control: JsonServer | undefined;
  readonly metrics: MetricsServer | undefined;
  readonly dashboard: DashboardServer | undefined;
  readonly tunnels: TunnelHost;
  readonly report: StartReport;
  close(): Promise<void>;
}

function logStart(log: Logger, report: StartReport): void {
  if (report.problem) log.error(report.problem.message, { hint: report.problem.hint, code: report.problem.code });
  for (const { bus, changes } of report.repaired) log.warn('bus repaired: the kernel had drifted from the state', { bus, changes });
  for (const { bus, error } of report.failed)
    log.error('bus could not be wired; retried at the next start and on its next request', { bus, err: error });
  for (const namespace of report.swept) log.info('removed a namespace that belongs to no bus', { namespace });
}

/**
 * Runs `task` every `ms` in the background, never two at once (a slow run delays the next rather than piling up),
 * logging its failures; returns the function that stops it.
 */
function every(ms: number, what: string, log: Logger, task: () => Promise<void>): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    task()
      .catch((error: unknown) => {
        log.error(`${what} failed`, { err: errorMessage(error) });
      })
      .finally(() => {
        running = false;
      });
  }, ms);
  timer.unref();
  return () => {
    clearInterval(timer);
  };
}

export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const { kernel, log } = options;
  const graceMs = options.takeoverGraceMs ?? DEFAULT_TAKEOVER_GRACE_MS;
  const service = new BusService({ kernel, store: new StateStore(options.stateDir), log, takeoverGraceMs: graceMs });
  const report = service.start();
  logStart(log, report);
  const tunnels = new TunnelHost({ kernel, log });
  await tunnels.sync(service.list());
  // Buses change through either door (a network created with tunnels, a tunnel added by hand): tunnels follow.
  const stopFollowing = service.onEvent(() => {
    void tunnels.sync(service.list());
  });
  const lookup = options.networkLookup ?? (options.dockerSocketPath === undefined ? undefined : dockerApiLookup(options.dockerSocketPath));
  const namer = lookup === undefined ? undefined : new NetworkNamer(service, lookup, log);
  const context: DriverContext = {
    buses: service,
    log,
    ...(namer === undefined ? {} : { namer }),
    hostLinkExists: (name) => {
      const route = kernel.route(CURRENT_NETNS);
      try {
        return route.findLink(name) !== undefined;
      } finally {
        route.close();
      }
    },
  };
  const requests = new RequestMetrics();
  const server =
    options.pluginServer === undefined
      ? await serveJson({
          onRequest: requests.recorder('plugin'),
          socketPath: options.socketPath,
          handlers: ENDPOINTS,
          context,
          log,
          parseBody,
          ...(options.listenFd === undefined ? {} : { listenFd: options.listenFd }),
          ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
          ...(options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs }),
        })
      : options.pluginServer.server;
  const started = {
    at: new Date().toISOString(),
    stateFile: join(options.stateDir, STATE_FILE),
    ...(report.problem === undefined
      ? {}
      : { stateProblem: `${report.problem.message}${report.problem.hint === undefined ? '' : ` (${report.problem.hint})`}` }),
  };
  const controlContext: ControlContext = {
    buses: service,
    tunnels,
    started,
    ...(options.dockerSocketPath === undefined ? {} : { memberContainers: dockerMemberLookup(options.dockerSocketPath) }),
    ...(namer === undefined ? {} : { learnBusNames: () => namer.askOnce() }),
    ...(options.hostNetnsDir === undefined ? {} : { hostNetnsDir: options.hostNetnsDir }),
  };
  const control =
    options.controlSocketPath === undefined
      ? undefined
      : await serveJson({
          socketPath: options.controlSocketPath,
          socketOption: '--control-socket',
          handlers: CONTROL_ENDPOINTS,
          context: controlContext,
          log,
          parseBody,
          errorCodes: true,
          onRequest: requests.recorder('control'),
        }).catch(async (error: unknown) => {
          await Promise.all([server.close(), tunnels.close()]);
          throw error;
        });
  const version = packageVersion();
  const collect = (): string => collectMetrics({ service, requests, version, log, tunnels });
  const metrics =
    options.metricsAddress === undefined
      ? undefined
      : await serveMetrics(options.metricsAddress, collect, log).catch(async (error: unknown) => {
          await Promise.all([server.close(), control?.close(), tunnels.close()]);
          throw error;
        });
  const dashboard =
    options.httpAddress === undefined
      ? undefined
      : await serveDashboard({
          address: options.httpAddress,
          context: controlContext,
          kernel,
          metrics: collect,
          log,
          ...(options.httpTokenFile === undefined ? {} : { tokenFile: options.httpTokenFile }),
          ...(options.dashboardEveryMs === undefined ? {} : { everyMs: options.dashboardEveryMs }),
        }).catch(async (error: unknown) => {
          await Promise.all([server.close(), control?.close(), metrics?.close(), tunnels.close()]);
          throw error;
        });
  options.pluginServer?.provide({ handlers: ENDPOINTS, context }, requests.recorder('plugin'));
  log.info('serving the Docker network plugin', {
    socket: options.socketPath,
    control: options.controlSocketPath,
    metrics: metrics === undefined ? undefined : formatMetricsAddress(metrics.address),
    dashboard: dashboard === undefined ? undefined : formatMetricsAddress(dashboard.address),
    state: options.stateDir,
    buses: report.buses,
  });
  void namer?.learnAll();
  const spanSources: SpanSources =
    options.spanSources ?? (options.dockerSocketPath === undefined ? {} : { swarm: dockerSwarmNodes(options.dockerSocketPath) });
  // A tunnel changed here is a saved change: the event that announces it makes the tunnels follow.
  const keepSpans = async (): Promise<void> => {
    for (const { bus, plan, hub } of await service.keepSpans(spanSources))
      log.info(plan === undefined ? 'span: no hub known' : `span: this node is ${plan.role === 'hub' ? 'the hub' : 'a spoke'}`, {
        bus,
        hub,
        nodes: plan?.tunnel?.transport === 'tcp-server' ? plan.tunnel.allow.join(',') : undefined,
      });
  };
  // Not awaited: the orchestrator may be the one waiting for this daemon to answer.
  void keepSpans().catch((error: unknown) => {
    log.error('keeping spans failed', { err: errorMessage(error) });
  });
  const periodic = [
    // A spanned bus follows its nodes: the hub's list of who may connect, a spoke's hub.
    every(options.spanEveryMs ?? 3_000, 'keeping spans', log, keepSpans),
    // Uplink interfaces come and go (adapters unplugged, vcans deleted): their rules follow within a second.
    every(1_000, 'rewiring uplinks', log, async () => {
      for (const view of await service.watchUplinks())
        log.info(view.state === 'up' ? 'uplink up' : 'uplink down', {
          bus: view.bus,
          interface: view.uplink.interface,
          detail: view.detail,
        });
    }),
    // Joins trust the rules they made; the whole kernel is read back now and then, and drift put back.
    every(options.verifyEveryMs ?? 30_000, 'verifying the buses against the kernel', log, async () => {
      for (const { bus, changes } of await service.verify())
        log.warn('bus repaired: the kernel had drifted from the state', {
          bus,
          changes: changes.length,
          first: `${changes[0]?.action ?? ''} ${changes[0]?.object ?? ''} ${changes[0]?.name ?? ''}`,
        });
    }),
    // A tunnel whose pair was made again (a repair, a restart of the bus) is attached to the new one; one that could
    // not start (its address was taken) is tried again.
    every(2_000, 'checking tunnels', log, async () => {
      await tunnels.sync(service.list());
    }),
    // Faults whose time is up end, and their bus is wired as it was (within a second of their end).
    every(1_000, 'ending faults', log, async () => {
      const ended = await service.expireFaults();
      if (ended > 0) log.info('faults ended', { faults: ended });
    }),
    // Ends handed to the engine but never taken (a start that failed after CreateEndpoint) are removed now and then.
    every(Math.max(1_000, graceMs / 2), 'sweeping orphaned members', log, async () => {
      const dropped = await service.sweepOrphans();
      if (dropped > 0) log.info('removed members whose end was never taken over', { members: dropped });
    }),
  ];
  return {
    service,
    server,
    control,
    metrics,
    dashboard,
    tunnels,
    report,
    close: async () => {
      for (const stop of periodic) stop();
      stopFollowing();
      await Promise.all([server.close(), control?.close(), metrics?.close(), dashboard?.close(), tunnels.close()]);
      service.close();
    },
  };
}
