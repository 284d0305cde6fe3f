// A bus spanning two hosts: two network namespaces joined by a veth pair, each with its own cantainer daemon,
// state and namespace directory, a bus on each with two ECUs (vcan interfaces uplinked to it), and a tunnel between
// them. Every ECU on either host must receive each frame exactly once, in order, over UDP (declared by a network
// option) and over TCP (added with the CLI), and the bus must go on through a cut link and a far daemon killed and
// started again. UDP under netem loss reports what it lost and reordered.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { classicFrame, fdFrame, type CanFrame } from '../../src/can/frame.js';
import { formatCansend } from '../../src/can/text.js';
import { systemKernel, type CanSocketPort } from '../../src/kernel/index.js';
import { dockerRequests as d, post } from '../support/plugin-client.js';
import { sh, startCantainerDaemon, waitFor, type RunningDaemon } from '../support/lab.js';

interface Host {
  readonly name: string;
  readonly ns: string;
  readonly dir: string;
  readonly ip: string;
  daemon?: RunningDaemon;
}

const NETWORK = 'c'.repeat(64);
const BUS = NETWORK.slice(0, 12);
const A: Host = { name: 'A', ns: 'ct-host-a', dir: '/run/ct-host-a', ip: '10.77.0.1' };
const B: Host = { name: 'B', ns: 'ct-host-b', dir: '/run/ct-host-b', ip: '10.77.0.2' };
const kernel = systemKernel();

async function startDaemon(host: Host): Promise<void> {
  host.daemon = await startCantainerDaemon(
    [
      '--socket',
      `${host.dir}/plugin.sock`,
      '--control-socket',
      `${host.dir}/control.sock`,
      '--state-dir',
      `${host.dir}/state`,
      '--netns-dir',
      `${host.dir}/netns`,
      '--docker-socket',
      `${host.dir}/no-docker.sock`,
    ],
    `${host.dir}.log`,
    ['nsenter', `--net=/run/netns/${host.ns}`],
  );
}

function cli(host: Host, args: string): string {
  return sh(`node bin/cantainer ${args} --control-socket ${host.dir}/control.sock`);
}

interface TunnelEntry {
  readonly name: string;
  readonly state: string;
  readonly detail?: string;
  readonly peers?: string[];
  readonly counters: {
    framesIn: number;
    framesOut: number;
    packetsIn: number;
    packetsOut: number;
    packetsLost: number;
    reordered: number;
    connects: number;
    dropped: Record<string, number>;
  };
}

function tunnels(host: Host): TunnelEntry[] {
  return JSON.parse(cli(host, 'tunnel ls --json')) as TunnelEntry[];
}

function ecu(host: Host, ifname: string): CanSocketPort {
  return kernel.canSocket(ifname, { netns: { label: `${host.name}/${ifname}`, path: `/run/netns/${host.ns}` }, fd: true });
}

const texts = (frames: readonly CanFrame[]): string[] => frames.map(formatCansend);
const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

/** Sends `frames` from one ECU and returns what each of the four ECUs received (listening from before the send). */
async function exchange(from: [Host, string], frames: readonly CanFrame[], quietMs = 1500): Promise<Record<string, string[]>> {
  const listeners = Object.fromEntries(
    [A, B].flatMap((host) => ['ecu1', 'ecu2'].map((ifname) => [`${host.name}/${ifname}`, ecu(host, ifname)] as const)),
  );
  const sender = ecu(from[0], from[1]);
  try {
    for (const [i, frame] of frames.entries()) {
      sender.send(frame);
      // Paced a little, as ECUs send: a burst of hundreds at once overflows the kernel's receive backlog
      // (net.core.netdev_max_backlog) on a small machine whatever carries the bus.
      if (i % 25 === 24) await sleep(2);
    }
    const got = await Promise.all(
      Object.entries(listeners).map(async ([name, socket]) => [name, texts(await socket.receiveAll(quietMs))] as const),
    );
    return Object.fromEntries(got);
  } finally {
    sender.close();
    for (const socket of Object.values(listeners)) socket.close();
  }
}

/** Every ECU, the sender's own interface included (a vcan shows its sockets what is sent on it), gets each frame once. */
function everyone(frames: readonly CanFrame[]): Record<string, string[]> {
  const all = texts(frames);
  return { 'A/ecu1': all, 'A/ecu2': all, 'B/ecu1': all, 'B/ecu2': all };
}

const traffic = (n: number, base: number): CanFrame[] => [
  ...Array.from({ length: n }, (_, i) => classicFrame({ id: base + (i % 0x100), data: [i & 0xff, (i >> 8) & 0xff] })),
  fdFrame({ id: base + 0x1000, extended: true, brs: true, data: new Uint8Array(64).map((_, i) => i) }),
  classicFrame({ id: 0x7df, rtr: true, data: new Uint8Array(3) }),
];

describe('a bus spanning two hosts over cantainer tunnels', () => {
  before(async () => {
    for (const host of [A, B]) {
      sh(
        `ip netns del ${host.ns} 2>/dev/null; rm -rf ${host.dir} ${host.dir}.log; mkdir -p ${host.dir}; ip netns add ${host.ns}; ip -n ${host.ns} link set lo up`,
      );
      for (const ifname of ['ecu1', 'ecu2'])
        sh(`ip -n ${host.ns} link add ${ifname} type vcan && ip -n ${host.ns} link set ${ifname} mtu 72 up`);
    }
    sh(`ip link add vA netns ${A.ns} type veth peer name vB netns ${B.ns}`);
    sh(
      `ip -n ${A.ns} addr add ${A.ip}/24 dev vA && ip -n ${A.ns} link set vA up && ip -n ${B.ns} addr add ${B.ip}/24 dev vB && ip -n ${B.ns} link set vB up`,
    );
    for (const host of [A, B]) await startDaemon(host);
  });

  after(async () => {
    for (const host of [A, B]) await host.daemon?.stop();
    for (const host of [A, B]) sh(`ip netns del ${host.ns} 2>/dev/null || true`);
  });

  it('over UDP, declared as a network option: every ECU on either host gets each frame once, in order', async () => {
    for (const [host, peer] of [
      [A, B],
      [B, A],
    ] as const) {
      const generic = {
        fd: 'true',
        'uplink.e1': 'ecu1',
        'uplink.e2': 'ecu2',
        'tunnel.span': `--udp --listen ${host.ip}:20000 --peer ${peer.ip}:20000`,
      };
      const answer = await post(`${host.dir}/plugin.sock`, '/NetworkDriver.CreateNetwork', d.createNetwork(NETWORK, generic));
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
    }
    // Up and attached to its pair on the bus (a detail would say it waits for it).
    await waitFor(
      'both tunnels up',
      () =>
        [A, B].every(
          (host) =>
            tunnels(host)
              .map((t) => `${t.state} ${String(t.detail)}`)
              .join() === 'up undefined',
        ),
      10_000,
    );
    const fromA = traffic(200, 0x100);
    assert.deepEqual(await exchange([A, 'ecu1'], fromA), everyone(fromA));
    const fromB = traffic(50, 0x300);
    assert.deepEqual(await exchange([B, 'ecu2'], fromB), everyone(fromB));
    const [a, b] = [tunnels(A)[0]!, tunnels(B)[0]!];
    assert.equal(a.counters.framesOut, fromA.length);
    assert.equal(b.counters.framesIn, fromA.length);
    assert.equal(b.counters.framesOut, fromB.length);
    assert.equal(a.counters.framesIn, fromB.length);
    assert.deepEqual([a.counters.dropped, b.counters.dropped, b.counters.packetsLost, b.counters.reordered], [{}, {}, 0, 0]);
  });

  it('reports loss and reordering over UDP under netem loss and jitter, and delivers no frame twice', async () => {
    cli(A, `tunnel add ${BUS} --udp --listen ${A.ip}:20000 --peer ${B.ip}:20000 --timeout-us 0 --name span`);
    sh(`ip netns exec ${A.ns} tc qdisc add dev vA root netem loss 10% delay 2ms 2ms`);
    const before = tunnels(B)[0]!.counters;
    const sent = Array.from({ length: 1000 }, (_, i) => classicFrame({ id: 0x400, data: [i & 0xff, i >> 8] }));
    try {
      const listener = ecu(B, 'ecu1');
      const sender = ecu(A, 'ecu2');
      for (const [i, frame] of sent.entries()) {
        sender.send(frame);
        if (i % 50 === 49) await sleep(5);
      }
      sender.close();
      const got = await listener.receiveAll(1500);
      listener.close();
      const after = tunnels(B)[0]!.counters;
      const indexes = got.map((frame) => (frame.data[0] ?? 0) + 256 * (frame.data[1] ?? 0));
      const lost = sent.length - got.length;
      const late = indexes.filter((value, i) => i > 0 && value < (indexes[i - 1] ?? 0)).length;
      const packets = after.packetsIn - before.packetsIn;
      console.log(
        `BENCH_NOTE udp-netem sent=${sent.length} received=${got.length} lost=${lost} out-of-order=${late} datagrams=${packets} datagrams-lost=${after.packetsLost - before.packetsLost} reordered=${after.reordered - before.reordered}`,
      );
      assert.equal(new Set(indexes).size, indexes.length, 'no frame twice');
      assert.ok(lost > 0 && lost < 300, `${lost} of 1000 lost with 10% loss`);
      assert.equal(after.framesIn - before.framesIn, got.length, 'what the tunnel put on the bus is what the ECU got');
      assert.ok(packets > 0 && packets <= got.length, `${packets} datagrams for ${got.length} frames`);
      // A datagram lost is a gap in the sequence numbers: the frames lost came in some of them.
      const lostPackets = after.packetsLost - before.packetsLost;
      assert.ok(lostPackets > 0 && lostPackets <= lost, `${lostPackets} datagrams lost for ${lost} frames`);
    } finally {
      sh(`ip netns exec ${A.ns} tc qdisc del dev vA root`);
    }
  });

  it('over TCP, added with the CLI: a server and a client, every ECU gets each frame once, in order', async () => {
    cli(A, `tunnel rm ${BUS} span`);
    cli(B, `tunnel rm ${BUS} span`);
    assert.match(
      cli(A, `tunnel add ${BUS} --tcp-server ${A.ip}:20001 --allow ${B.ip}`),
      /tunnel tcp-server-20001 on [0-9a-c]+: tcp-server 10\.77\.0\.1:20001, up/u,
    );
    assert.match(
      cli(B, `tunnel add ${BUS} --tcp-client ${A.ip}:20001 --name to-a`),
      /tunnel to-a on [0-9a-c]+: tcp-client -> 10\.77\.0\.1:20001, up/u,
    );
    await waitFor('the client connected', () => tunnels(A)[0]?.peers?.length === 1 && tunnels(B)[0]?.peers?.length === 1, 10_000);
    const fromA = traffic(300, 0x100);
    assert.deepEqual(await exchange([A, 'ecu2'], fromA), everyone(fromA));
    const fromB = traffic(100, 0x500);
    assert.deepEqual(await exchange([B, 'ecu1'], fromB), everyone(fromB));
  });

  it('goes on through a cut link: the veth down and up again, frames sent during the cut arrive once TCP retransmits', async () => {
    const listener = ecu(B, 'ecu2');
    sh(`ip -n ${B.ns} link set vB down`);
    const during = traffic(20, 0x600);
    const sender = ecu(A, 'ecu1');
    for (const frame of during) sender.send(frame);
    sender.close();
    await sleep(1000);
    sh(`ip -n ${B.ns} link set vB up`);
    const got = await listener.receiveAll(5000);
    listener.close();
    assert.deepEqual(texts(got), texts(during));
    const after = traffic(10, 0x700);
    assert.deepEqual(await exchange([B, 'ecu2'], after), everyone(after));
  });

  it('goes on when the far daemon is killed and started again: the client reconnects by itself', async () => {
    await A.daemon?.kill();
    await waitFor('the client to notice', () => tunnels(B)[0]?.peers?.length === 0, 15_000);
    await startDaemon(A);
    await waitFor('the client back', () => tunnels(A)[0]?.peers?.length === 1 && tunnels(B)[0]?.peers?.length === 1, 15_000);
    assert.ok(tunnels(B)[0]!.counters.connects >= 2);
    const frames = traffic(50, 0x200);
    assert.deepEqual(await exchange([A, 'ecu1'], frames), everyone(frames));
    assert.deepEqual(await exchange([B, 'ecu1'], frames), everyone(frames));
  });

  it('leaves nothing when the networks are removed: no namespace, pair, listener or state entry', async () => {
    for (const host of [A, B]) {
      const answer = await post(`${host.dir}/plugin.sock`, '/NetworkDriver.DeleteNetwork', d.network(NETWORK));
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
    }
    for (const host of [A, B]) {
      assert.deepEqual(tunnels(host), []);
      assert.deepEqual(existsSync(`${host.dir}/netns`) ? readdirSync(`${host.dir}/netns`) : [], []);
      assert.equal(sh(`ip -n ${host.ns} -o link show type vxcan | wc -l`).trim(), '0');
      assert.doesNotMatch(sh(`ip netns exec ${host.ns} ss -Htuln`), /:2000[01]\b/u);
    }
  });
});
