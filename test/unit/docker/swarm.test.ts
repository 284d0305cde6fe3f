// What Docker says about its swarm (#24), read from the answers of GET /info and GET /nodes as engines give them.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dockerSwarmNodes, parseSwarmInfo, parseSwarmNodes, swarmSpanNodes } from '../../../src/docker/swarm.js';

/** GET /info's Swarm part, as a worker of a two-manager swarm answers it (fields not read left out). */
const WORKER_INFO = {
  Swarm: {
    NodeID: 'w9x8y7',
    NodeAddr: '192.168.56.12',
    LocalNodeState: 'active',
    ControlAvailable: false,
    Error: '',
    RemoteManagers: [
      { NodeID: 'm2b3c4', Addr: '192.168.56.11:2377' },
      { NodeID: 'm1a2b3', Addr: '[fd00::11]:2377' },
    ],
    Nodes: 3,
    Managers: 2,
  },
};

describe("Docker's swarm, as a span sees it", () => {
  it('reads this node, whether it is a manager, and the managers by id with their addresses', () => {
    assert.deepEqual(parseSwarmInfo(WORKER_INFO), {
      nodeId: 'w9x8y7',
      nodeAddress: '192.168.56.12',
      manager: false,
      managers: [
        { id: 'm2b3c4', address: '192.168.56.11' },
        { id: 'm1a2b3', address: 'fd00::11' },
      ],
    });
  });

  it('knows no swarm on an engine outside one, or on its way in', () => {
    assert.equal(parseSwarmInfo({ Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', RemoteManagers: null } }), undefined);
    assert.equal(parseSwarmInfo({ Swarm: { ...WORKER_INFO.Swarm, LocalNodeState: 'pending' } }), undefined);
    assert.equal(parseSwarmInfo({}), undefined);
    assert.equal(parseSwarmInfo(null), undefined);
  });

  it("lists the nodes that are up, a manager's by its advertised address when its status says 0.0.0.0", () => {
    const nodes = [
      {
        ID: 'm1a2b3',
        Status: { State: 'ready', Addr: '0.0.0.0' },
        ManagerStatus: { Leader: true, Reachability: 'reachable', Addr: '192.168.56.11:2377' },
      },
      { ID: 'w9x8y7', Status: { State: 'ready', Addr: '192.168.56.12' } },
      { ID: 'w0down', Status: { State: 'down', Addr: '192.168.56.13' } },
      { ID: 'broken', Status: { State: 'ready' } },
    ];
    assert.deepEqual(parseSwarmNodes(nodes), ['192.168.56.11', '192.168.56.12']);
    assert.deepEqual(parseSwarmNodes({ message: 'This node is not a swarm manager.' }), []);
  });

  it('gives the span this node, the managers and, on a manager, every node', () => {
    const info = parseSwarmInfo(WORKER_INFO);
    assert.ok(info !== undefined);
    assert.deepEqual(swarmSpanNodes(info, undefined), { self: ['192.168.56.12'], managers: info.managers });
    assert.deepEqual(swarmSpanNodes(info, ['192.168.56.11']).nodes, ['192.168.56.11']);
  });

  it("asks Docker's API: /info on any node, /nodes on a manager only; an engine in no swarm has no hub", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cantainer-swarm-api-'));
    const socket = join(dir, 'docker.sock');
    const asked: string[] = [];
    let info: unknown = WORKER_INFO;
    const server: Server = createServer((request, response) => {
      asked.push(request.url ?? '');
      const body =
        request.url === '/info'
          ? info
          : [
              { ID: 'm2b3c4', Status: { State: 'ready', Addr: '192.168.56.11' } },
              { ID: 'w9x8y7', Status: { State: 'ready', Addr: '192.168.56.12' } },
            ];
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    try {
      const nodes = dockerSwarmNodes(socket);
      assert.deepEqual(await nodes(), { self: ['192.168.56.12'], managers: parseSwarmInfo(WORKER_INFO)?.managers });
      assert.deepEqual(asked, ['/info']);
      info = { Swarm: { ...WORKER_INFO.Swarm, NodeID: 'm2b3c4', NodeAddr: '192.168.56.11', ControlAvailable: true } };
      assert.deepEqual((await nodes()).nodes, ['192.168.56.11', '192.168.56.12']);
      assert.deepEqual(asked, ['/info', '/info', '/nodes']);
      info = { Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive' } };
      assert.deepEqual(await nodes(), { self: [], managers: [] });
    } finally {
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    }
    await assert.rejects(dockerSwarmNodes(socket)(), /ENOENT|ECONNREFUSED/u);
  });
});
