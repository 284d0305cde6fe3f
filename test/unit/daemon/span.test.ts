// One bus across three nodes (#24), as three daemons on the in-memory kernel joined over loopback TCP: each gets
// `docker network create -o span=swarm` for the same network, the swarm's nodes from a source that stands in for
// Docker's API. The hub's server takes the spokes; every member on any node hears each frame any other sends,
// exactly once, in order per sender; `ls` and `inspect` show the span; a spoke's daemon restarting heals by itself.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classicFrame } from '../../../src/can/frame.js';
import { formatCansend } from '../../../src/can/text.js';
import { main, type CliIo } from '../../../src/cli/main.js';
import type { SpanNodes } from '../../../src/bus/span.js';
import type { BusDetail, BusEntry } from '../../../src/control/protocol.js';
import { FakeKernel } from '../../support/fake-kernel.js';
import { ecu } from '../../support/ecus.js';
import { dockerRequests, post } from '../../support/plugin-client.js';
import { freeTcpPort } from '../../support/helpers.js';
import { startNodeDaemon, type NodeDaemon } from '../../support/node-daemon.js';

const NET = 'f00dfeed'.repeat(8);
/** The hub listens on 127.0.0.2; spokes connect from loopback's own address, 127.0.0.1. */
const HUB = '127.0.0.2';
const SPOKE = '127.0.0.1';

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

type Node = NodeDaemon;

describe('one bus across nodes: span=swarm', () => {
  let dir: string;
  let port: number;
  const nodes: Node[] = [];
  /** What the swarm says on every node: two managers, the hub's (lowest id) at 127.0.0.2, and three nodes up. */
  const swarm = (self: string): SpanNodes => ({
    self: [self],
    managers: [
      { id: 'mgr-2', address: '10.9.9.9' },
      { id: 'mgr-1', address: HUB },
    ],
    nodes: [HUB, SPOKE, '10.9.9.9'],
  });

  const startNode = (name: string, self: string, kernel = new FakeKernel()): Promise<Node> =>
    startNodeDaemon(
      dir,
      name,
      {
        spanEveryMs: 50,
        // Docker's answer for the network's name.
        networkLookup: (id) => Promise.resolve(id === NET ? { name: 'powertrain', labels: {} } : undefined),
        spanSources: { swarm: () => Promise.resolve(swarm(self)) },
      },
      kernel,
    );
  const cli = async (node: Node, ...argv: string[]): Promise<string> => {
    let out = '';
    let err = '';
    const io: CliIo = { out: (text) => (out += text), err: (text) => (err += text) };
    assert.equal(await main([...argv, '--control-socket', node.control], io), 0, err);
    return out;
  };
  const spanOf = async (node: Node): Promise<BusDetail['span']> =>
    (JSON.parse(await cli(node, 'inspect', 'powertrain', '--json')) as BusDetail).span;
  /** Sends frames from one node's ECU; what each ECU of every node hears, in order. */
  const exchange = async (from: string, count: number): Promise<Record<string, string[]>> => {
    const node = nodes.find((n) => from.startsWith(n.name));
    assert.ok(node !== undefined);
    const listeners = nodes.flatMap((n) =>
      [`${n.name}1`, `${n.name}2`]
        .filter((ecuName) => ecuName !== from)
        .map((ecuName) => [ecuName, n.kernel.canSocket('can0', { netns: { label: ecuName, path: `/ecu/${ecuName}` } })] as const),
    );
    const sender = node.kernel.canSocket('can0', { netns: { label: from, path: `/ecu/${from}` } });
    for (let i = 0; i < count; i++) sender.send(classicFrame({ id: 0x200 + i, data: [i, 0xee] }));
    const heard = await Promise.all(
      listeners.map(async ([ecuName, socket]) => [ecuName, (await socket.receiveAll(300)).map(formatCansend)]),
    );
    sender.close();
    for (const [, socket] of listeners) socket.close();
    return Object.fromEntries(heard) as Record<string, string[]>;
  };
  const expected = (count: number): string[] =>
    Array.from({ length: count }, (_, i) => formatCansend(classicFrame({ id: 0x200 + i, data: [i, 0xee] })));

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cantainer-span-daemons-'));
    port = await freeTcpPort(HUB);
    nodes.push(await startNode('a', HUB), await startNode('b', SPOKE), await startNode('c', SPOKE));
    for (const node of nodes) {
      const created = await post(
        node.plugin,
        '/NetworkDriver.CreateNetwork',
        dockerRequests.createNetwork(NET, { span: 'swarm', span_port: String(port) }),
      );
      assert.deepEqual(created.body, {});
      for (const ecuName of [`${node.name}1`, `${node.name}2`]) await node.daemon.service.addMember(NET, ecu(node.kernel, ecuName));
    }
  });
  afterEach(async () => {
    for (const node of nodes.splice(0)) await node.daemon.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('makes the hub take the spokes, and every member hears each frame of any other once, in order', async () => {
    await waitFor('both spokes connected to the hub', async () => (await spanOf(nodes[0] as Node))?.tunnel?.peers?.length === 2);
    const hub = await spanOf(nodes[0] as Node);
    assert.deepEqual(
      { role: hub?.role, hub: hub?.hub, nodes: hub?.nodes, transport: hub?.tunnel?.transport, state: hub?.tunnel?.state },
      { role: 'hub', hub: `${HUB}:${port}`, nodes: ['10.9.9.9', SPOKE], transport: 'tcp-server', state: 'up' },
    );
    const spoke = await spanOf(nodes[1] as Node);
    assert.deepEqual([spoke?.role, spoke?.hub, spoke?.tunnel?.transport], ['spoke', `${HUB}:${port}`, 'tcp-client']);
    for (const from of ['a1', 'b2', 'c1']) {
      const heard = await exchange(from, 25);
      const all = ['a1', 'a2', 'b1', 'b2', 'c1', 'c2'].filter((name) => name !== from);
      assert.deepEqual(heard, Object.fromEntries(all.map((name) => [name, expected(25)])), `sent by ${from}`);
    }
    const listed = JSON.parse(await cli(nodes[2] as Node, 'ls', '--json')) as BusEntry[];
    assert.deepEqual(
      listed.map((bus) => [bus.id, bus.span]),
      [[NET, { mode: 'swarm', role: 'spoke', hub: `${HUB}:${port}` }]],
    );
    assert.match(await cli(nodes[0] as Node, 'ls'), /\s+swarm hub\n$/u);
    assert.match(await cli(nodes[0] as Node, 'inspect', 'powertrain'), /^span swarm: this node is the hub, hub 127\.0\.0\.2:\d+$/mu);
  });

  it('shows a hub alone (no other node has the network) taking no one, and opens no server', async () => {
    const alone = await startNodeDaemon(dir, 'alone', {
      spanEveryMs: 50,
      spanSources: {
        swarm: () => Promise.resolve({ self: ['127.0.0.9'], managers: [{ id: 'm', address: '127.0.0.9' }], nodes: ['127.0.0.9'] }),
      },
    });
    try {
      await post(
        alone.plugin,
        '/NetworkDriver.CreateNetwork',
        dockerRequests.createNetwork(NET, { span: 'swarm', span_port: String(port) }),
      );
      const inspectAlone = async (): Promise<BusDetail['span']> =>
        (JSON.parse(await cli(alone, 'inspect', NET.slice(0, 12), '--json')) as BusDetail).span;
      let span = await inspectAlone();
      for (let tries = 0; span?.role === undefined && tries < 100; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        span = await inspectAlone();
      }
      assert.deepEqual(
        { ...span, tunnel: undefined },
        { mode: 'swarm', role: 'hub', hub: `127.0.0.9:${port}`, nodes: [], tunnel: undefined },
      );
      assert.equal(span?.tunnel, undefined, 'no server, which would take anyone');
      assert.match(await cli(alone, 'inspect', NET.slice(0, 12)), /nodes that may connect: none \(no other node has the network\)/u);
    } finally {
      await alone.daemon.close();
    }
  });

  it("heals when a spoke's daemon restarts: its bus comes back from the state and rejoins the hub", async () => {
    await waitFor('both spokes connected', async () => (await spanOf(nodes[0] as Node))?.tunnel?.peers?.length === 2);
    const b = nodes[1] as Node;
    await b.daemon.close();
    await waitFor('the hub to see one spoke', async () => (await spanOf(nodes[0] as Node))?.tunnel?.peers?.length === 1);
    const again = await startNode('b', SPOKE, b.kernel);
    nodes[1] = again;
    await waitFor('the spoke back', async () => (await spanOf(nodes[0] as Node))?.tunnel?.peers?.length === 2);
    const heard = await exchange('b1', 10);
    assert.deepEqual(heard, Object.fromEntries(['a1', 'a2', 'b2', 'c1', 'c2'].map((name) => [name, expected(10)])));
  });
});
