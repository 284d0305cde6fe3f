// What the daemon's Prometheus endpoint says (`--metrics-listen`, served by transport/metrics-server.ts): per bus
// what the kernel's can-gw counters say, members, gateways and uplinks; per socket and method request counts and
// latencies; what the reconciler did.
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { BusService } from '../service/buses.js';
import type { TunnelCounters } from '../tunnel/counters.js';
import type { TunnelHost, TunnelView } from '../tunnel/host.js';
import { Counter, formatMetrics, Histogram, type MetricFamily, type Sample } from '../metrics/exposition.js';

/** Requests as the sockets answered them: counts by status and latencies, per socket and method. */
export class RequestMetrics {
  readonly #count = new Counter();
  readonly #latency = new Histogram();

  /** A recorder for one socket, for serveJson's onRequest. */
  recorder(socket: string): (method: string, status: number, seconds: number) => void {
    return (method, status, seconds) => {
      this.#count.inc({ socket, method, code: String(status) });
      this.#latency.observe({ socket, method }, seconds);
    };
  }

  families(): MetricFamily[] {
    return [
      {
        name: 'cantainer_requests_total',
        help: 'Requests answered, by socket (plugin or control), method and HTTP status.',
        type: 'counter',
        samples: this.#count.samples(),
      },
      {
        name: 'cantainer_request_duration_seconds',
        help: 'Time from a request to its answer, by socket and method.',
        type: 'histogram',
        samples: this.#latency.samples(),
      },
    ];
  }
}

export interface MetricsSources {
  readonly service: BusService;
  readonly requests: RequestMetrics;
  readonly version: string;
  readonly log: Logger;
  readonly tunnels?: TunnelHost;
}

function busFamilies(service: BusService, log: Logger): MetricFamily[] {
  const members: Sample[] = [];
  const gateways: Sample[] = [];
  const wired: Sample[] = [];
  const frames: Sample[] = [];
  const forwarded: Sample[] = [];
  const dropped: Sample[] = [];
  const deleted: Sample[] = [];
  const load: Sample[] = [];
  const lost: Sample[] = [];
  const gatewayViews = service.gateways();
  for (const bus of service.list()) {
    const labels = { bus: bus.name };
    const timing = service.timing(bus.id);
    if (timing !== undefined) {
      load.push({ labels, value: timing.load });
      for (const [reason, value] of Object.entries(timing.dropped)) lost.push({ labels: { ...labels, reason }, value });
    }
    members.push({ labels, value: bus.members.length });
    gateways.push({
      labels,
      value: gatewayViews.filter(
        ({ gateway, status }) => status.state === 'wired' && (gateway.source === bus.name || gateway.destination === bus.name),
      ).length,
    });
    try {
      const seen = service.observe(bus.id);
      wired.push({ labels, value: seen.rules.length > 0 ? 1 : 0 });
      frames.push({ labels, value: seen.frames });
      forwarded.push({ labels, value: seen.forwarded });
      dropped.push({ labels, value: seen.dropped });
      deleted.push({ labels, value: seen.deleted });
    } catch (error) {
      // A bus whose namespace cannot be read has no counters this time; the others still do.
      wired.push({ labels, value: 0 });
      log.debug('metrics: reading a bus failed', { bus: bus.name, err: errorMessage(error) });
    }
  }
  const uplinks = service
    .uplinks()
    .map((view): Sample => ({ labels: { bus: view.bus, interface: view.uplink.interface }, value: view.state === 'up' ? 1 : 0 }));
  return [
    { name: 'cantainer_buses', help: 'Buses this daemon keeps.', type: 'gauge', samples: [{ value: members.length }] },
    { name: 'cantainer_bus_members', help: 'Members (containers) of a bus.', type: 'gauge', samples: members },
    { name: 'cantainer_bus_gateways', help: 'Gateways wired between a bus and another.', type: 'gauge', samples: gateways },
    {
      name: 'cantainer_bus_wired',
      help: '1 when the kernel holds the rules of a bus, 0 when its namespace could not be read or holds none.',
      type: 'gauge',
      samples: wired,
    },
    {
      name: 'cantainer_bus_frames_total',
      help: 'Frames carried by a bus, each counted once (can-gw counter of the rules into its monitor).',
      type: 'counter',
      samples: frames,
    },
    {
      name: 'cantainer_bus_frames_forwarded_total',
      help: 'Frames forwarded by the can-gw rules of a bus, one per frame and destination.',
      type: 'counter',
      samples: forwarded,
    },
    {
      name: 'cantainer_bus_frames_dropped_total',
      help: 'Frames the can-gw rules of a bus could not send (a destination down, no memory).',
      type: 'counter',
      samples: dropped,
    },
    {
      name: 'cantainer_bus_frames_deleted_total',
      help: 'Frames the can-gw rules of a bus discarded: at the hop limit (how every frame ends at each end it reaches, so this grows with the traffic) or by a length check.',
      type: 'counter',
      samples: deleted,
    },
    {
      name: 'cantainer_bus_load_ratio',
      help: "The share of a timed bus's time that frames took over the last 5 seconds, 0 to 1 (timed buses only).",
      type: 'gauge',
      samples: load,
    },
    {
      name: 'cantainer_bus_lost_frames_total',
      help: "Frames lost in a bus's arbiter (timed buses, faults), by reason: bus-full (the sender had more waiting than its queue holds: no bus time), fault (a drop fault), unwired (their sender or way on went away).",
      type: 'counter',
      samples: lost,
    },
    {
      name: 'cantainer_uplink_up',
      help: '1 when the interface of an uplink is there and wired, 0 when it is gone or not CAN.',
      type: 'gauge',
      samples: uplinks,
    },
  ];
}

/** Per tunnel: state, peers, frames, bytes and datagrams each way, drops by cause, sequence gaps and reordering. */
export function tunnelFamilies(views: readonly TunnelView[]): MetricFamily[] {
  const each = (pick: (view: TunnelView) => Array<{ labels?: Record<string, string>; value: number }>): Sample[] =>
    views.flatMap((view) =>
      pick(view).map((sample) => ({ labels: { bus: view.bus, tunnel: view.tunnel.name, ...sample.labels }, value: sample.value })),
    );
  const both = (inbound: (c: TunnelCounters) => number, outbound: (c: TunnelCounters) => number) => (view: TunnelView) => [
    { labels: { direction: 'in' }, value: inbound(view.counters) },
    { labels: { direction: 'out' }, value: outbound(view.counters) },
  ];
  return [
    {
      name: 'cantainer_tunnel_up',
      help: '1 when a tunnel runs (a client: also while it reconnects), 0 when it could not start.',
      type: 'gauge',
      samples: each((view) => [{ labels: { transport: view.tunnel.transport }, value: view.state === 'up' ? 1 : 0 }]),
    },
    {
      name: 'cantainer_tunnel_peers',
      help: 'TCP peers connected to a tunnel now (a server: its clients; a client: 1 when connected).',
      type: 'gauge',
      samples: each((view) => (view.peers === undefined ? [] : [{ value: view.peers.length }])),
    },
    {
      name: 'cantainer_tunnel_frames_total',
      help: 'Frames a tunnel put on its bus (in) and sent out from it (out).',
      type: 'counter',
      samples: each(
        both(
          (c) => c.framesIn,
          (c) => c.framesOut,
        ),
      ),
    },
    {
      name: 'cantainer_tunnel_bytes_total',
      help: 'Bytes a tunnel received and sent on the network, in cannelloni format.',
      type: 'counter',
      samples: each(
        both(
          (c) => c.bytesIn,
          (c) => c.bytesOut,
        ),
      ),
    },
    {
      name: 'cantainer_tunnel_packets_total',
      help: 'UDP datagrams a tunnel received and sent.',
      type: 'counter',
      samples: each((view) =>
        view.tunnel.transport === 'udp'
          ? both(
              (c) => c.packetsIn,
              (c) => c.packetsOut,
            )(view)
          : [],
      ),
    },
    {
      name: 'cantainer_tunnel_dropped_total',
      help: 'Frames, datagrams or connections a tunnel dropped, by cause.',
      type: 'counter',
      samples: each((view) => Object.entries(view.counters.dropped).map(([cause, value]) => ({ labels: { cause }, value }))),
    },
    {
      name: 'cantainer_tunnel_dropped_frames_total',
      help: 'Frames a tunnel dropped, by reason (queue-full: a TCP peer further behind than its queue holds, the oldest dropped).',
      type: 'counter',
      samples: each((view) => Object.entries(view.counters.droppedFrames).map(([reason, value]) => ({ labels: { reason }, value }))),
    },
    {
      name: 'cantainer_tunnel_packets_lost_total',
      help: 'UDP: datagrams missing from the sequence numbers received: lost (one that comes late is taken off again).',
      type: 'counter',
      samples: each((view) => (view.tunnel.transport === 'udp' ? [{ value: view.counters.packetsLost }] : [])),
    },
    {
      name: 'cantainer_tunnel_reordered_total',
      help: 'UDP: datagrams that came late, after a later one.',
      type: 'counter',
      samples: each((view) => (view.tunnel.transport === 'udp' ? [{ value: view.counters.reordered }] : [])),
    },
    {
      name: 'cantainer_tunnel_sequence_restarts_total',
      help: 'UDP: sequence numbers that started again from behind (a restarted or duplicating peer, or over 127 datagrams lost in a row).',
      type: 'counter',
      samples: each((view) => (view.tunnel.transport === 'udp' ? [{ value: view.counters.sequenceRestarts }] : [])),
    },
    {
      name: 'cantainer_tunnel_connects_total',
      help: 'TCP connections a tunnel made or accepted.',
      type: 'counter',
      samples: each((view) => (view.tunnel.transport === 'udp' ? [] : [{ value: view.counters.connects }])),
    },
  ];
}

const STARTED = Date.now() / 1000 - process.uptime();

/** Every metric, read now. */
export function collectMetrics(sources: MetricsSources): string {
  const stats = sources.service.reconcileStats();
  const usage = process.cpuUsage();
  return formatMetrics([
    {
      name: 'cantainer_info',
      help: 'The version of the daemon.',
      type: 'gauge',
      samples: [{ labels: { version: sources.version }, value: 1 }],
    },
    ...busFamilies(sources.service, sources.log),
    ...(sources.tunnels === undefined ? [] : tunnelFamilies(sources.tunnels.views())),
    ...sources.requests.families(),
    {
      name: 'cantainer_reconcile_runs_total',
      help: 'Times the reconciler compared a bus with the kernel and made them match.',
      type: 'counter',
      samples: [{ value: stats.runs }],
    },
    {
      name: 'cantainer_reconcile_failures_total',
      help: 'Reconciler runs that failed (and undid their own changes).',
      type: 'counter',
      samples: [{ value: stats.failures }],
    },
    {
      name: 'cantainer_kernel_changes_total',
      help: 'Interfaces, namespaces and rules the reconciler created, changed or removed.',
      type: 'counter',
      samples: [{ value: stats.changes }],
    },
    {
      name: 'cantainer_drift_corrections_total',
      help: 'Changes that put back what had drifted from the state: at start, by cantainer repair, or by the check of every bus against the kernel every 30 s.',
      type: 'counter',
      samples: [{ value: stats.driftCorrections }],
    },
    {
      name: 'process_resident_memory_bytes',
      help: 'Resident memory size in bytes.',
      type: 'gauge',
      samples: [{ value: process.memoryUsage.rss() }],
    },
    {
      name: 'process_cpu_seconds_total',
      help: 'User and system CPU time spent in seconds.',
      type: 'counter',
      samples: [{ value: (usage.user + usage.system) / 1e6 }],
    },
    {
      name: 'process_start_time_seconds',
      help: 'Start time of the process since the Unix epoch in seconds.',
      type: 'gauge',
      samples: [{ value: Math.round(STARTED * 1000) / 1000 }],
    },
  ]);
}
