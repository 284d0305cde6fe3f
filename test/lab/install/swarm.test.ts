// One bus across a Docker Swarm (#24), as users run it: two engines, each as on its own host (lab/guest/swarm.sh:
// its own network namespace, address, /run, /var/lib and data), the managed plugin on each, a swarm of a manager and
// a worker, a swarm-scoped cantainer network spanning the swarm, and a service with replicas on both nodes. Every
// task hears every other task's frames exactly once and in order, whichever node it runs on. The span heals: a
// rolling update, the hub's plugin disabled and enabled (frames sent meanwhile are lost and counted, never
// delivered late or twice), the worker leaving the swarm and joining again. After `docker service rm` and
// `docker network rm`, nothing is left on either node.
//
// Docker passes a swarm-scoped network's driver options (-o) to no node when the driver is local-scoped, as every
// CAN driver is (a bus lives in one host's kernel): the options go in a configuration-only network on each node, and
// the swarm network takes them with --config-from, Docker's way for local drivers in a swarm (macvlan's too).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import { cantainerCommand, exchangeFrames, processSocket, sh, waitFor } from '../../support/lab.js';
import { classicFrame } from '../../../src/can/frame.js';
import { formatCansend } from '../../../src/can/text.js';
import type { BusDetail, BusEntry } from '../../../src/control/protocol.js';
import { figures, type PathFigures } from '../../../bench/dataplane.js';

const PLUGIN_DIR = resolve(process.env.CANTAINER_PKG_DIR ?? 'dist/pkg', 'plugin');
const DRIVER = 'cantainer:latest';
const NODES = [1, 2] as const;
type Node = (typeof NODES)[number];
const HUB_ADDRESS = '10.77.0.1';
const SPOKE_ADDRESS = '10.77.0.2';
const SERVICE = 'ecus';

const docker = (node: Node, args: string, timeoutMs = 120_000): string =>
  sh(`DOCKER_HOST=unix:///srv/node${node}/run/docker.sock docker ${args}`, timeoutMs);
/** The node's own cantainer command line: it reaches that node's plugin through the node's /run. */
const cli = (node: Node, args: string): string =>
  sh(`CANTAINER_CONTROL_SOCKET=/srv/node${node}/run/cantainer/control.sock ${cantainerCommand().join(' ')} ${args}`, 60_000);

/**
 * `docker swarm join`, which gives up waiting after a while and goes on joining in the background (an emulated
 * machine under load takes longer): then waits until the node says it is active.
 */
async function joinSwarm(node: Node, token: string): Promise<void> {
  try {
    docker(node, `swarm join --token ${token} ${HUB_ADDRESS}:2377`, 180_000);
  } catch (error) {
    if (!String((error as { stderr?: unknown }).stderr).includes('will continue in the background')) throw error;
  }
  await waitFor(`node ${node} to join the swarm`, () => docker(node, "info -f '{{.Swarm.LocalNodeState}}'").trim() === 'active', 180_000);
}

function buses(node: Node): BusEntry[] | undefined {
  try {
    return JSON.parse(cli(node, 'ls --json')) as BusEntry[];
  } catch {
    return undefined;
  }
}

function inspect(node: Node): BusDetail | undefined {
  try {
    return JSON.parse(cli(node, 'inspect --json powertrain')) as BusDetail;
  } catch (error) {
    // inspect exits 3 when it finds drift, with the detail printed all the same.
    const stdout = (error as { stdout?: unknown }).stdout;
    return typeof stdout === 'string' && stdout.startsWith('{') ? (JSON.parse(stdout) as BusDetail) : undefined;
  }
}

interface Task {
  readonly node: Node;
  readonly id: string;
  readonly pid: number;
}

/** The service's running containers on each node. */
function tasks(): Task[] {
  return NODES.flatMap((node) =>
    docker(node, `ps -q --filter label=com.docker.swarm.service.name=${SERVICE}`)
      .split('\n')
      .filter((id) => id !== '')
      .flatMap((id) => {
        // A container may go between the listing and the question (a task being replaced): it is not running.
        try {
          const pid = Number(docker(node, `inspect -f '{{.State.Pid}}' ${id}`).trim());
          return pid > 0 ? [{ node, id, pid }] : [];
        } catch {
          return [];
        }
      }),
  );
}

function perNode(list: readonly Task[]): Record<Node, number> {
  return { 1: list.filter((task) => task.node === 1).length, 2: list.filter((task) => task.node === 2).length };
}

/** Waits until the service runs `total` tasks, `onSpoke` of them on node 2 when stated. */
async function waitForTasks(total: number, onSpoke?: number, timeoutMs = 300_000): Promise<Task[]> {
  let seen: Task[] = [];
  await waitFor(
    `${total} tasks running${onSpoke === undefined ? '' : `, ${onSpoke} on node 2`}`,
    () => {
      seen = tasks();
      return seen.length === total && (onSpoke === undefined || perNode(seen)[2] === onSpoke);
    },
    timeoutMs,
  );
  return seen;
}

/** The peers of a node's span tunnel: the spoke's is the hub while connected; the hub's are the spokes connected. */
function spanPeers(node: Node): readonly string[] | undefined {
  return inspect(node)?.span?.tunnel?.peers;
}

/**
 * Each node's bus has exactly its tasks as members, and its span is wired: the spoke connected to the hub, the hub
 * with the spoke among its peers.
 */
async function waitForSpan(list: readonly Task[], timeoutMs = 120_000): Promise<void> {
  const counts = perNode(list);
  await waitFor(
    `the span wired with members ${JSON.stringify(counts)}`,
    () => {
      const hub = inspect(1);
      if (hub?.members.length !== counts[1] || hub.span?.role !== 'hub') return false;
      // A hub alone takes no one: it runs no server then.
      if (counts[2] === 0) return hub.span.tunnel === undefined && JSON.stringify(hub.span.nodes) === '[]';
      if (hub.span.tunnel?.state !== 'up') return false;
      const spoke = inspect(2);
      return (
        spoke?.members.length === counts[2] &&
        spoke.span?.role === 'spoke' &&
        (spoke.span.tunnel?.peers ?? []).some((peer) => peer.startsWith(`${HUB_ADDRESS}:`)) &&
        (hub.span.tunnel.peers ?? []).some((peer) => peer.startsWith(`${SPOKE_ADDRESS}:`))
      );
    },
    timeoutMs,
  );
}

/** 20 frames from one task reach every other task exactly once, in order, on whichever node. */
async function assertSpanCarries(list: readonly Task[], sender: Task, base: number): Promise<void> {
  const frames = Array.from({ length: 20 }, (_, i) => classicFrame({ id: base + i, data: [i, sender.node] }));
  const listeners = list.filter((task) => task !== sender);
  const got = await exchangeFrames(
    processSocket(sender.pid, sender.id, 'can0', false),
    Object.fromEntries(listeners.map((task) => [`node${task.node}/${task.id}`, processSocket(task.pid, task.id, 'can0', false)])),
    frames,
  );
  const expected = frames.map(formatCansend);
  assert.deepEqual(got, Object.fromEntries(listeners.map((task) => [`node${task.node}/${task.id}`, expected])));
}

/** From a task on each node in turn. */
async function assertEveryNodeHearsEveryNode(list: readonly Task[], base: number): Promise<void> {
  for (const node of NODES) {
    const sender = list.find((task) => task.node === node);
    if (sender !== undefined) await assertSpanCarries(list, sender, base + node * 0x40);
  }
}

/** Nothing of any bus on the node: no bus, no vxcan, no pinned namespace, no bus in its state. */
function assertNothingLeft(node: Node): void {
  assert.deepEqual(buses(node), []);
  assert.equal(sh(`ip netns exec node${node} ip -o link show type vxcan`), '');
  const pins = `/srv/node${node}/run/cantainer/netns`;
  assert.deepEqual(existsSync(pins) ? readdirSync(pins) : [], []);
  const state = JSON.parse(readFileSync(`/srv/node${node}/var-lib/cantainer/state.json`, 'utf8')) as { buses: unknown[] };
  assert.deepEqual(state.buses, []);
}

/** The pid of the cantainer daemon a node's plugin runs (the plugin shares the host's pids and the node's network). */
function pluginDaemonPid(node: Node): number {
  const holder = readFileSync(`/srv/node${node}/holder.pid`, 'utf8').trim();
  const network = readlinkSync(`/proc/${holder}/ns/net`);
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/u.test(name))) {
    try {
      const command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (
        command.some((arg) => arg.includes('cantainer')) &&
        command.includes('daemon') &&
        readlinkSync(`/proc/${entry}/ns/net`) === network
      )
        return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  throw new Error(`no cantainer daemon runs in node ${node}'s network`);
}

/** CPU seconds a process has used (user and system). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function describeFigures(what: string, f: PathFigures): string {
  return `${what}: ${Math.round(f.fps)} frames/s, ${f.received}/${f.sent} received, lost ${f.lost}, dup ${f.duplicates}, out of order ${f.outOfOrder}, latency p50 ${Math.round(f.latencyUs.p50)} µs p99 ${Math.round(f.latencyUs.p99)} µs`;
}

function report(): void {
  for (const node of NODES)
    for (const command of [
      `tail -40 /srv/node${node}/dockerd.log | cut -c1-400`,
      `DOCKER_HOST=unix:///srv/node${node}/run/docker.sock timeout 20 docker ps -a`,
      `DOCKER_HOST=unix:///srv/node${node}/run/docker.sock timeout 20 docker node ls`,
      `DOCKER_HOST=unix:///srv/node${node}/run/docker.sock timeout 20 docker service ps ${SERVICE}`,
    ])
      process.stdout.write(`node ${node}: ${command}\n${sh(`${command} 2>&1; true`, 60_000)}`);
}

describe('one bus across a Docker Swarm', () => {
  let passed = 0;
  const started = Date.now();
  const lap = (what: string): void => {
    process.stdout.write(`swarm: ${what} at ${Math.round((Date.now() - started) / 1000)} s\n`);
  };

  after(() => {
    if (passed < 6) report();
    sh(
      `. lab/guest/swarm.sh && for n in 2 1; do lab_node_docker $n swarm leave --force >/dev/null 2>&1; lab_node_stop $n; done; true`,
      300_000,
    );
  });

  it(
    'puts the tasks of a service on each node on one bus spanning the swarm: every task hears every other once, in order',
    { timeout: 900_000 },
    async () => {
      assert.ok(existsSync(`${PLUGIN_DIR}/config.json`), `the plugin was built: ${PLUGIN_DIR}`);
      // An image with can-utils, the same on both nodes (no registry: imported from one archive).
      sh(
        `. lab/guest/docker.sh && . lab/guest/swarm.sh && lab_node_start 1 && lab_node_start 2 &&
         root=$(mktemp -d) && mkdir -p $root/bin $root/tmp $root/proc $root/sys $root/dev $root/etc &&
         cp /bin/busybox $root/bin/ && ln -s busybox $root/bin/sh && ln -s busybox $root/bin/sleep &&
         tar -C $root -c . > /tmp/swarm-image.tar && rm -rf $root`,
        300_000,
      );
      for (const node of NODES) {
        docker(node, 'import /tmp/swarm-image.tar lab/ecu');
        docker(node, `plugin create cantainer ${PLUGIN_DIR}`, 300_000);
        docker(node, 'plugin enable cantainer', 180_000);
      }
      lap('plugins enabled on both nodes');
      docker(1, `swarm init --advertise-addr ${HUB_ADDRESS}`);
      const token = docker(1, 'swarm join-token -q worker').trim();
      await joinSwarm(2, token);
      for (const node of NODES) docker(node, 'network create --config-only --ipam-driver null -o span=swarm powertrain-span');
      docker(1, `network create -d ${DRIVER} --scope swarm --attachable --config-from powertrain-span powertrain`);
      docker(1, `service create --detach --name ${SERVICE} --network powertrain --replicas 4 --no-resolve-image lab/ecu sleep 3600`);
      const running = await waitForTasks(4, 2);
      await waitForSpan(running);
      lap('4 tasks running, 2 a node, the span wired');
      const hub = inspect(1);
      assert.deepEqual(hub?.span?.nodes, [SPOKE_ADDRESS], 'the hub takes the other node of the swarm only');
      assert.equal(hub.span.hub, inspect(2)?.span?.hub, 'both nodes agree on the hub');
      assert.match(hub.span.hub ?? '', new RegExp(`^${HUB_ADDRESS.replace(/\./gu, '\\.')}:\\d+$`, 'u'));
      await assertEveryNodeHearsEveryNode(running, 0x100);
      passed += 1;
    },
  );

  it(
    "measures what a hop costs: latency and rate within a node and across the span, and the hub daemon's CPU",
    { timeout: 900_000 },
    async () => {
      mkdirSync('/run/cantainer-bench/dataplane', { recursive: true });
      const running = tasks();
      const [a, b] = running.filter((task) => task.node === 2);
      const onHub = running.find((task) => task.node === 1);
      assert.ok(a !== undefined && b !== undefined && onHub !== undefined, 'two tasks on the spoke, one on the hub');
      const ns = (task: Task): string => `/proc/${task.pid}/ns/net`;
      const frames = 20_000;
      const local = await figures(ns(a), ns(b), false, frames);
      const hubPid = pluginDaemonPid(1);
      const cpuBefore = cpuSeconds(hubPid);
      const hop = await figures(ns(a), ns(onHub), false, frames);
      const hubCpu = cpuSeconds(hubPid) - cpuBefore;
      const lines = [
        describeFigures('swarm: within the spoke node (kernel only)', local),
        describeFigures('swarm: spoke to hub (one tunnel hop)', hop),
        `swarm: hub daemon CPU ${hubCpu.toFixed(2)} s for ${hop.received + 1000} frames in (${Math.round((hubCpu * 1e6) / (hop.received + 1000))} µs a frame)`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
      // Exactly once and in order across the hop, as within a node.
      for (const f of [local, hop]) assert.deepEqual([f.received, f.lost, f.duplicates, f.outOfOrder], [frames, 0, 0, 0]);
      passed += 1;
    },
  );

  it('keeps one bus through a rolling update: the replaced tasks leave it, the new ones hear everyone', { timeout: 600_000 }, async () => {
    docker(1, `service update --detach --force ${SERVICE}`);
    // Every task replaced: none of the old containers is left.
    const before = new Set(tasks().map((task) => task.id));
    await waitFor(
      'the rolling update to replace every task',
      () => {
        const now = tasks();
        return now.length === 4 && now.every((task) => !before.has(task.id));
      },
      400_000,
    );
    const running = tasks();
    await waitForSpan(running);
    lap(`rolling update done, tasks a node ${JSON.stringify(perNode(running))}`);
    await assertEveryNodeHearsEveryNode(running, 0x200);
    passed += 1;
  });

  it(
    "heals when the hub's plugin restarts: frames sent meanwhile are lost and counted, never delivered late or twice",
    {
      timeout: 600_000,
    },
    async () => {
      const running = tasks();
      const droppedBefore = inspect(2)?.span?.tunnel?.counters?.droppedFrames['not-connected'] ?? 0;
      docker(1, `plugin disable -f ${DRIVER}`, 120_000);
      await waitFor('the spoke to see the hub gone', () => spanPeers(2)?.length === 0, 60_000);
      // While the hub is away, each node's bus still carries its own members' frames (they are the kernel's).
      const spokeSender = running.find((task) => task.node === 2);
      assert.ok(spokeSender !== undefined, 'a task runs on the spoke');
      const outage = Array.from({ length: 10 }, (_, i) => classicFrame({ id: 0x300 + i, data: [i] }));
      const onSpoke = running.filter((task) => task !== spokeSender);
      const got = await exchangeFrames(
        processSocket(spokeSender.pid, spokeSender.id, 'can0', false),
        Object.fromEntries(onSpoke.map((task) => [task.id, processSocket(task.pid, task.id, 'can0', false)])),
        outage,
      );
      for (const task of onSpoke)
        assert.deepEqual(got[task.id], task.node === 2 ? outage.map(formatCansend) : [], `node ${task.node} during the outage`);
      await waitFor(
        'the spoke to count the 10 frames it could not send',
        () => (inspect(2)?.span?.tunnel?.counters?.droppedFrames['not-connected'] ?? 0) - droppedBefore === 10,
        30_000,
      );
      docker(1, `plugin enable ${DRIVER}`, 180_000);
      await waitForSpan(running);
      lap('hub plugin restarted, span healed');
      // After the heal: exactly the new frames, everywhere; the 10 sent during the outage never arrive.
      await assertEveryNodeHearsEveryNode(running, 0x400);
      assert.equal(inspect(2)?.span?.tunnel?.counters?.connects, 2, 'the spoke connected again, once');
      passed += 1;
    },
  );

  it(
    'heals when the worker leaves the swarm and joins again: its bus goes with it, and comes back spanned',
    { timeout: 900_000 },
    async () => {
      docker(2, 'swarm leave', 180_000);
      // The worker's tasks end with it and the swarm runs them on the manager; the worker keeps no bus.
      const alone = await waitForTasks(4, 0, 400_000);
      await waitFor('the worker to remove its bus', () => JSON.stringify(buses(2)) === '[]', 120_000);
      assertNothingLeft(2);
      await waitFor('the hub to take no other node', () => (inspect(1)?.span?.nodes ?? ['?']).length === 0, 60_000);
      await waitForSpan(alone);
      await assertSpanCarries(alone, alone[0] as Task, 0x500);
      lap('worker left; 4 tasks on the manager');
      const token = docker(1, 'swarm join-token -q worker').trim();
      await joinSwarm(2, token);
      // Its --config-only network is a local one: it stayed through the leave, and the node's bus takes it again.
      docker(1, `service scale --detach ${SERVICE}=6`);
      const again = await waitForTasks(6, 2, 400_000);
      await waitForSpan(again);
      lap('worker joined again; 6 tasks, 2 on it');
      assert.deepEqual(inspect(1)?.span?.nodes, [SPOKE_ADDRESS]);
      await assertEveryNodeHearsEveryNode(again, 0x600);
      passed += 1;
    },
  );

  it('leaves nothing on either node after docker service rm and docker network rm', { timeout: 600_000 }, async () => {
    docker(1, `service rm ${SERVICE}`);
    await waitFor('every task gone', () => tasks().length === 0 && docker(1, 'ps -aq') === '' && docker(2, 'ps -aq') === '', 300_000);
    docker(1, 'network rm powertrain');
    for (const node of NODES) {
      await waitFor(`node ${node} to remove its bus`, () => JSON.stringify(buses(node)) === '[]', 120_000);
      docker(node, 'network rm powertrain-span');
      assertNothingLeft(node);
    }
    lap('nothing left');
    passed += 1;
  });
});
