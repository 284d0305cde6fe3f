// One bus across two nodes through the CNI plugin (#24), as Kubernetes with Multus would have it: the same
// NetworkAttachmentDefinition on every node names the span's hub and nodes, two daemons on the in-memory kernel
// stand for two nodes (joined over loopback TCP), and the CNI plugin attaches pods on each. Pods on both nodes hear
// each other exactly once, in order; a configuration that cannot span is refused with the field; the last pod
// leaving a spoke takes its bus and the tunnel with it.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCni } from '../../../src/cni/plugin.js';
import { classicFrame } from '../../../src/can/frame.js';
import { formatCansend } from '../../../src/can/text.js';
import { FakeKernel } from '../../support/fake-kernel.js';
import { freeTcpPort, waitFor } from '../../support/helpers.js';
import { startNodeDaemon, type NodeDaemon } from '../../support/node-daemon.js';

/** The hub node listens on 127.0.0.2; the other node connects from loopback's own address. */
const HUB = '127.0.0.2';
const SPOKE = '127.0.0.1';

type Node = NodeDaemon;

describe('a span of nodes through the CNI plugin', () => {
  let dir: string;
  let port: number;
  let hub: Node;
  let spoke: Node;
  const startNode = (name: string, self: string): Promise<Node> =>
    startNodeDaemon(dir, name, {
      spanEveryMs: 50,
      // This node's addresses, as the host's interfaces would say.
      spanSources: { localAddresses: () => [self, '::1'] },
    });
  const conf = (node: Node, extra: Record<string, unknown> = {}): string =>
    JSON.stringify({
      cniVersion: '1.1.0',
      name: 'powertrain',
      type: 'cantainer',
      controlSocket: node.control,
      span: 'nodes',
      hub: `${HUB}:${port}`,
      nodes: [HUB, SPOKE],
      ...extra,
    });
  const add = async (node: Node, pod: string, extra: Record<string, unknown> = {}): Promise<{ stdout: string; exitCode: number }> => {
    if (!node.kernel.hasPath(`/run/netns/${pod}`)) node.kernel.addForeignNamespace(`/run/netns/${pod}`, pod);
    return runCni(
      { CNI_COMMAND: 'ADD', CNI_PATH: '/opt/cni/bin', CNI_CONTAINERID: pod, CNI_NETNS: `/run/netns/${pod}`, CNI_IFNAME: 'can0' },
      conf(node, extra),
    );
  };
  const del = (node: Node, pod: string): ReturnType<typeof runCni> =>
    runCni(
      { CNI_COMMAND: 'DEL', CNI_PATH: '/opt/cni/bin', CNI_CONTAINERID: pod, CNI_NETNS: `/run/netns/${pod}`, CNI_IFNAME: 'can0' },
      conf(node),
    );
  const peers = (node: Node): number => {
    const bus = node.daemon.service.byName('powertrain');
    return bus === undefined ? -1 : (node.daemon.tunnels.view(bus.id, 'span')?.peers?.length ?? 0);
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cantainer-cni-span-'));
    port = await freeTcpPort(HUB);
    hub = await startNode('hub', HUB);
    spoke = await startNode('spoke', SPOKE);
  });
  afterEach(async () => {
    await Promise.all([hub.daemon.close(), spoke.daemon.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('joins pods on both nodes into one bus: each hears the others once, in order', async () => {
    for (const [node, pod] of [
      [hub, 'h1'],
      [hub, 'h2'],
      [spoke, 's1'],
    ] as const)
      assert.equal((await add(node, pod)).exitCode, 0);
    await waitFor('the spoke connected to the hub', () => peers(hub) === 1, 10_000);
    const frames = Array.from({ length: 20 }, (_, i) => classicFrame({ id: 0x300 + i, data: [i] }));
    const listen = (node: Node, pod: string): ReturnType<FakeKernel['canSocket']> =>
      node.kernel.canSocket('can0', { netns: { label: pod, path: `/run/netns/${pod}` } });
    const listeners = { h2: listen(hub, 'h2'), s1: listen(spoke, 's1') };
    const sender = listen(hub, 'h1');
    for (const frame of frames) sender.send(frame);
    const heard = Object.fromEntries(
      await Promise.all(Object.entries(listeners).map(async ([pod, socket]) => [pod, (await socket.receiveAll(300)).map(formatCansend)])),
    ) as Record<string, string[]>;
    sender.close();
    for (const socket of Object.values(listeners)) socket.close();
    assert.deepEqual(heard, { h2: frames.map(formatCansend), s1: frames.map(formatCansend) });
    assert.deepEqual(spoke.daemon.service.spanPlan(spoke.daemon.service.byName('powertrain')?.id ?? '')?.role, 'spoke');
  });

  it("refuses a configuration that cannot span, naming the field, and a pod whose node's configuration says another span", async () => {
    const refused = async (extra: Record<string, unknown>, message: RegExp): Promise<void> => {
      const outcome = await add(spoke, 'bad', extra);
      assert.equal(outcome.exitCode, 1, outcome.stdout);
      assert.match((JSON.parse(outcome.stdout) as { msg: string }).msg, message);
    };
    await refused({ span: 'swarm' }, /^span: "swarm" is not valid; allowed: "nodes"/u);
    await refused({ hub: 7 }, /^hub: 7 is not valid; allowed: HOST:PORT/u);
    await refused({ nodes: [] }, /^nodes: \[\] is not valid; allowed: the IP address of every node/u);
    await refused({ nodes: ['node-a'] }, /nodes: "node-a" is not valid; allowed: an IP address/u);
    await refused({ span: undefined, hub: undefined }, /^nodes: .* allowed: "nodes" only with "span": "nodes"/u);
    assert.equal(spoke.daemon.service.list().length, 0, 'nothing made by a refused ADD');
    assert.equal((await add(spoke, 's1')).exitCode, 0);
    await refused({ nodes: [HUB, SPOKE, '127.0.0.9'] }, /bus powertrain spans .* this member asks for a span/u);
  });

  it('takes the bus and its tunnel away with the last pod on a spoke', async () => {
    assert.equal((await add(hub, 'h1')).exitCode, 0);
    assert.equal((await add(spoke, 's1')).exitCode, 0);
    await waitFor('the spoke connected to the hub', () => peers(hub) === 1, 10_000);
    assert.equal((await del(spoke, 's1')).exitCode, 0);
    assert.deepEqual(spoke.daemon.service.list(), []);
    await waitFor('the hub to see the spoke go', () => peers(hub) === 0, 10_000);
  });
});
