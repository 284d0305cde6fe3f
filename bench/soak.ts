// The soak: thousands of member join/leave cycles (CreateEndpoint, Join, the engine's move of the end, Leave,
// DeleteEndpoint, as Docker sends them) against the daemon on the real kernel, with a gateway added and removed
// every tenth cycle. Resident memory, open descriptors and join latency are sampled throughout and compared between
// the first and the last tenth of the run: anything that leaks grows from one to the other.
import { readdirSync } from 'node:fs';
import { callDaemon } from '../src/control/client.js';
import { dockerRequests as d, post } from '../test/support/plugin-client.js';
import { joinMember, newId, startDaemonProcess } from './daemon-process.js';
import { spread, type Spread } from './stats.js';

/** One tenth of the run. */
export interface SoakWindow {
  readonly fromCycle: number;
  readonly toCycle: number;
  readonly joinMs: Spread;
  /** At the window's end. */
  readonly rssMiB: number;
  readonly fds: number;
}

export interface SoakResult {
  readonly cycles: number;
  readonly gatewayCycles: number;
  /** Members that stay on the bus throughout, so that each join wires a bus of this size. */
  readonly residents: number;
  readonly seconds: number;
  readonly windows: readonly SoakWindow[];
  /** The bus's kernel objects after the run, against before it: links and rules must be back where they were. */
  readonly linksBefore: number;
  readonly linksAfter: number;
}

function fdsOf(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

export async function measureSoak(cycles: number, log: (line: string) => void): Promise<SoakResult> {
  const daemon = await startDaemonProcess('/run/cantainer-bench/soak');
  const pid = daemon.child.pid ?? 0;
  try {
    const [network, other] = [newId(), newId()];
    for (const id of [network, other]) {
      const created = await post(daemon.plugin, '/NetworkDriver.CreateNetwork', d.createNetwork(id));
      if (created.status !== 200) throw new Error(`CreateNetwork: ${JSON.stringify(created.body)}`);
    }
    const residents = 4;
    for (let i = 0; i < residents; i++) await joinMember(daemon.plugin, network);
    const [source, destination] = [network.slice(0, 12), other.slice(0, 12)];
    const links = async (): Promise<number> => {
      const bus = await callDaemon(daemon.control, 'Bus.Inspect', { bus: source });
      return bus.members.length + bus.rules.length;
    };
    const linksBefore = await links();
    const windows: SoakWindow[] = [];
    const size = Math.max(1, Math.floor(cycles / 10));
    let joins: number[] = [];
    let gatewayCycles = 0;
    const started = performance.now();
    for (let cycle = 1; cycle <= cycles; cycle++) {
      const t = performance.now();
      const endpoint = await joinMember(daemon.plugin, network);
      joins.push(performance.now() - t);
      if ((await post(daemon.plugin, '/NetworkDriver.Leave', d.endpoint(network, endpoint))).status !== 200)
        throw new Error('Leave failed');
      if ((await post(daemon.plugin, '/NetworkDriver.DeleteEndpoint', d.endpoint(network, endpoint))).status !== 200)
        throw new Error('DeleteEndpoint failed');
      if (cycle % 10 === 0) {
        await callDaemon(daemon.control, 'Gateway.Add', { source, destination, both: true, accept: ['7DF'] });
        await callDaemon(daemon.control, 'Gateway.Remove', { source, destination });
        gatewayCycles += 1;
      }
      if (cycle % size === 0 || cycle === cycles) {
        const window = {
          fromCycle: windows.length === 0 ? 1 : (windows.at(-1)?.toCycle ?? 0) + 1,
          toCycle: cycle,
          joinMs: spread(joins),
          rssMiB: Math.round((daemon.rss() / 2 ** 20) * 10) / 10,
          fds: fdsOf(pid),
        };
        windows.push(window);
        joins = [];
        log(
          `soak: cycles ${window.fromCycle}-${window.toCycle}: join p50 ${window.joinMs.p50.toFixed(1)} ms, p99 ${window.joinMs.p99.toFixed(1)} ms, RSS ${window.rssMiB} MiB, ${window.fds} fds`,
        );
      }
    }
    return {
      cycles,
      gatewayCycles,
      residents,
      seconds: Math.round((performance.now() - started) / 1000),
      windows,
      linksBefore,
      linksAfter: await links(),
    };
  } finally {
    await daemon.stop();
  }
}
