// Section: CAN over IP. Two cantainer daemons on this machine, each with a bus of one ECU, joined by a tunnel on
// loopback (UDP, then TCP), carry the same floods and paced frames as the data plane section; the baseline is the
// same frames through one plain can-gw rule between two vxcan pairs (what the kernel does without any network).
// When a cannelloni 2.1.2 binary is there (CANNELLONI, or the lab cache; BENCHMARKS.md says how it is built), two
// cannelloni processes carry the same frames in the same run, each on a vxcan pair to its ECU, as the reference.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CURRENT_NETNS } from '../src/kernel/port.js';
import { systemKernel } from '../src/kernel/index.js';
import { CAN_LINK_MTU } from '../src/netlink/link.js';
import { stopChild } from '../test/support/child.js';
import { dockerRequests as d, post } from '../test/support/plugin-client.js';
import { figures, handMade, namespace, type PathFigures } from './dataplane.js';
import { joinMember, newId, startDaemonProcess, type DaemonProcess } from './daemon-process.js';

export interface TunnelResult {
  readonly transport: 'udp' | 'tcp';
  readonly fd: boolean;
  readonly ours: PathFigures;
  readonly baseline: PathFigures;
  /** What the receiving tunnel counted: frames in, datagrams (UDP) and drops by cause. */
  readonly counters: Readonly<Record<string, unknown>>;
  /** What the sending tunnel counted (a TCP server counts the clients it disconnected as slow). */
  readonly senderCounters?: Readonly<Record<string, unknown>>;
  /** The same frames between two cannelloni 2.1.2 processes, when a binary was there. */
  readonly cannelloni?: PathFigures;
}

/** Where the cannelloni binary is looked for: CANNELLONI, else where the lab's build step puts it. */
export const CANNELLONI = process.env.CANNELLONI ?? join(homedir(), '.cache', 'cantainer-lab', 'cannelloni-src', 'build', 'cannelloni');

const host = systemKernel();

/**
 * Two cannelloni processes on this machine's loopback, each on a vxcan pair whose other end is an ECU's can0 (the
 * sender's frames reach cannelloni A, cannelloni B's frames reach the receiver). Its buffer timeout is set to
 * cantainer's default (1000 us; cannelloni's own is 100 ms), so that both wait alike to fill a datagram.
 */
async function cannelloniPair(
  transport: 'udp' | 'tcp',
  fd: boolean,
): Promise<{ sender: string; receiver: string; stop: () => Promise<void> }> {
  const mtu = fd ? CAN_LINK_MTU.fd : CAN_LINK_MTU.classic;
  const [sender, receiver] = [namespace(`cs${fd ? 'fd' : ''}`), namespace(`cr${fd ? 'fd' : ''}`)];
  const route = host.route(CURRENT_NETNS);
  try {
    for (const [name, far] of [
      ['cna', sender],
      ['cnb', receiver],
    ] as const) {
      if (route.findLink(name) !== undefined) route.deleteLink(name);
      route.createVxcanPair({ name, mtu, peer: { name: 'can0', netns: { label: far, path: far }, mtu } });
      route.setLinkUp(name, true);
      const there = host.route({ label: far, path: far });
      there.setLinkUp('can0', true);
      there.close();
    }
  } finally {
    route.close();
  }
  const common = ['-t', '1000'];
  const args =
    transport === 'udp'
      ? [
          ['-I', 'cna', '-l', '22000', '-L', '127.0.0.1', '-R', '127.0.0.1', '-r', '22001', ...common],
          ['-I', 'cnb', '-l', '22001', '-L', '127.0.0.1', '-R', '127.0.0.1', '-r', '22000', ...common],
        ]
      : [
          ['-C', 's', '-I', 'cna', '-l', '22002', '-L', '127.0.0.1', ...common],
          ['-C', 'c', '-I', 'cnb', '-R', '127.0.0.1', '-r', '22002', ...common],
        ];
  const children: ChildProcess[] = args.map((list) => spawn(CANNELLONI, list, { stdio: 'ignore' }));
  // cannelloni says nothing when it is ready: give the client time to connect.
  await new Promise((resolve) => setTimeout(resolve, 3000));
  for (const child of children) if (child.exitCode !== null) throw new Error(`cannelloni exited with ${child.exitCode}`);
  return {
    sender,
    receiver,
    stop: async () => {
      for (const child of children) await stopChild(child, 'SIGTERM');
      const cleanup = host.route(CURRENT_NETNS);
      try {
        for (const name of ['cna', 'cnb']) if (cleanup.findLink(name) !== undefined) cleanup.deleteLink(name);
      } finally {
        cleanup.close();
      }
    },
  };
}

interface Side {
  readonly daemon: DaemonProcess;
  readonly network: string;
  readonly ecu: string;
}

async function tunnels(
  side: Side,
): Promise<Array<{ state: string; detail?: string; peers?: string[]; counters: Record<string, unknown> }>> {
  const answer = await post(side.daemon.control, '/Tunnel.List', {});
  return (answer.body as { tunnels: Array<{ state: string; detail?: string; peers?: string[]; counters: Record<string, unknown> }> })
    .tunnels;
}

async function side(name: string, fd: boolean, tunnel: string): Promise<Side> {
  const daemon = await startDaemonProcess(`/run/cantainer-bench/tunnel-${name}`);
  const network = newId();
  const created = await post(
    daemon.plugin,
    '/NetworkDriver.CreateNetwork',
    d.createNetwork(network, { fd: String(fd), 'tunnel.bench': tunnel }),
  );
  if (created.status !== 200) throw new Error(`CreateNetwork: ${JSON.stringify(created.body)}`);
  const ecu = namespace(`tun-${name}${fd ? '-fd' : ''}`);
  await joinMember(daemon.plugin, network, { path: ecu, name: 'can0' });
  return { daemon, network, ecu };
}

async function ready(sides: readonly Side[], transport: 'udp' | 'tcp'): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const all = await Promise.all(sides.map(tunnels));
    if (
      all.every((list) => list[0]?.state === 'up' && list[0].detail === undefined && (transport === 'udp' || list[0].peers?.length === 1))
    )
      return;
    if (Date.now() > deadline) throw new Error(`tunnels not ready: ${JSON.stringify(all)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function measureTunnel(frames: number, rounds: number, log: (line: string) => void): Promise<TunnelResult[]> {
  const results: TunnelResult[] = [];
  for (const transport of ['udp', 'tcp'] as const) {
    for (const fd of [false, true]) {
      const [a, b] =
        transport === 'udp'
          ? [
              await side('a', fd, '--udp --listen 127.0.0.1:21000 --peer 127.0.0.1:21001'),
              await side('b', fd, '--udp --listen 127.0.0.1:21001 --peer 127.0.0.1:21000'),
            ]
          : [await side('a', fd, '--tcp-server 127.0.0.1:21002'), await side('b', fd, '--tcp-client 127.0.0.1:21002')];
      try {
        await ready([a, b], transport);
        const ours: PathFigures[] = [];
        const baseline: PathFigures[] = [];
        const hand = handMade(fd);
        for (let round = 0; round < rounds; round++) {
          baseline.push(await figures(hand.sender, hand.receiver, fd, frames));
          ours.push(await figures(a.ecu, b.ecu, fd, frames));
        }
        hand.remove();
        const pick = (all: PathFigures[]): PathFigures => {
          const sorted = [...all].sort((x, y) => x.fps - y.fps);
          const chosen = sorted[Math.floor(sorted.length / 2)];
          if (chosen === undefined) throw new Error('no rounds');
          return {
            ...chosen,
            lost: all.reduce((sum, f) => sum + f.lost, 0),
            duplicates: all.reduce((sum, f) => sum + f.duplicates, 0),
            outOfOrder: all.reduce((sum, f) => sum + f.outOfOrder, 0),
            sent: all.reduce((sum, f) => sum + f.sent, 0),
            received: all.reduce((sum, f) => sum + f.received, 0),
          };
        };
        const counters = (await tunnels(b))[0]?.counters ?? {};
        const senderCounters = (await tunnels(a))[0]?.counters ?? {};
        let reference: PathFigures | undefined;
        if (existsSync(CANNELLONI)) {
          const pair = await cannelloniPair(transport, fd);
          try {
            const theirs: PathFigures[] = [];
            for (let round = 0; round < rounds; round++) theirs.push(await figures(pair.sender, pair.receiver, fd, frames));
            reference = pick(theirs);
          } finally {
            await pair.stop();
          }
        } else log(`tunnel: no cannelloni at ${CANNELLONI}: the reference is left out`);
        const result: TunnelResult = {
          transport,
          fd,
          ours: pick(ours),
          baseline: pick(baseline),
          counters,
          senderCounters,
          ...(reference === undefined ? {} : { cannelloni: reference }),
        };
        log(
          `tunnel ${transport} ${fd ? 'FD' : 'classic'}: ${result.ours.fps.toFixed(0)} fps vs ${result.baseline.fps.toFixed(0)} (${((100 * result.ours.fps) / result.baseline.fps).toFixed(0)}%), lost ${result.ours.lost}/${result.ours.sent}, duplicates ${result.ours.duplicates}, out of order ${result.ours.outOfOrder}; latency p50 ${result.ours.latencyUs.p50.toFixed(0)} us p99 ${result.ours.latencyUs.p99.toFixed(0)} us (baseline ${result.baseline.latencyUs.p50.toFixed(0)}/${result.baseline.latencyUs.p99.toFixed(0)}); receiver ${JSON.stringify(counters)}; sender ${JSON.stringify(senderCounters)}${reference === undefined ? '' : `; cannelloni ${reference.fps.toFixed(0)} fps, lost ${reference.lost}/${reference.sent}, latency p50 ${reference.latencyUs.p50.toFixed(0)} us p99 ${reference.latencyUs.p99.toFixed(0)} us`}`,
        );
        results.push(result);
      } finally {
        for (const s of [a, b]) {
          await post(s.daemon.plugin, '/NetworkDriver.DeleteNetwork', d.network(s.network)).catch(() => undefined);
          await s.daemon.stop();
          rmSync(s.daemon.dir, { recursive: true, force: true });
        }
      }
    }
  }
  return results;
}
