// The daemon end to end over its plugin socket, with the in-memory kernel: what Docker sends, what it gets back,
// and what the kernel then holds. The lab runs the same flows with a real dockerd and a real kernel.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryLogger } from '../../../src/log.js';
import { busNamespace, hostEndName, planBus } from '../../../src/bus/plan.js';
import { startDaemon, type Daemon } from '../../../src/daemon/daemon.js';
import { endpointEndName, HOST_MEMBER, type DriverContext } from '../../../src/docker/driver.js';
import { parseBody, STATIC_ANSWERS } from '../../../src/docker/protocol.js';
import { serveJsonLate } from '../../../src/transport/json-server.js';
import { FakeKernel } from '../../support/fake-kernel.js';
import { dockerRequests as d, post } from '../../support/plugin-client.js';
import { kernelSnapshot, planSnapshot } from '../../support/snapshot.js';

const NET = 'a'.repeat(64);
const EP = 'b'.repeat(64);

describe('daemon: the Docker plugin socket', () => {
  let dir: string;
  let socket: string;
  let kernel: FakeKernel;
  let log: ReturnType<typeof memoryLogger>;
  let daemon: Daemon;
  const start = async (options: { maxBodyBytes?: number; requestTimeoutMs?: number; takeoverGraceMs?: number } = {}): Promise<Daemon> => {
    daemon = await startDaemon({ kernel, socketPath: socket, stateDir: join(dir, 'state'), log, ...options });
    return daemon;
  };
  const call = (method: string, body?: object | string) => post(socket, `/${method}`, body);

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cantainer-daemon-'));
    socket = join(dir, 'plugins', 'cantainer.sock');
    kernel = new FakeKernel();
    log = memoryLogger();
    await start();
  });
  afterEach(async () => {
    await daemon.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('activates as a local-scope network driver that needs no gateway address', async () => {
    assert.deepEqual(await call('Plugin.Activate'), { status: 200, body: { Implements: ['NetworkDriver'] } });
    assert.deepEqual((await call('NetworkDriver.GetCapabilities')).body, {
      Scope: 'local',
      ConnectivityScope: 'local',
      GwAllocChecker: true,
    });
    assert.deepEqual((await call('NetworkDriver.GwAllocCheck', { Options: {} })).body, { SkipIPv4: true, SkipIPv6: true });
    assert.equal(statSync(socket).mode & 0o777, 0o600);
  });

  it('runs the whole life of a container on a network: the kernel holds exactly the plan at every step', async () => {
    assert.deepEqual((await call('NetworkDriver.CreateNetwork', d.createNetwork(NET, { fd: 'true' }))).body, {});
    const ns = busNamespace(NET);
    assert.deepEqual(
      kernelSnapshot(kernel).namespaces[ns],
      planSnapshot(planBus({ id: NET, name: NET.slice(0, 12), fd: true, members: [] })),
    );

    assert.deepEqual((await call('NetworkDriver.CreateEndpoint', d.createEndpoint(NET, EP))).body, {}, 'never an Interface');
    const end = endpointEndName(EP);
    assert.ok(
      kernelSnapshot(kernel).host.links.includes(`${end} vxcan 72 down`),
      'the member end waits in the daemon namespace for Docker to move it',
    );
    const joined = await call('NetworkDriver.Join', d.join(NET, EP));
    assert.deepEqual(joined, { status: 200, body: { InterfaceName: { SrcName: end, DstPrefix: 'can' }, DisableGatewayService: true } });
    assert.equal((await call('NetworkDriver.Join', d.join(NET, EP))).status, 200, 'Join is idempotent');
    assert.deepEqual((await call('NetworkDriver.EndpointOperInfo', d.endpoint(NET, EP))).body, {
      Value: { bus: NET.slice(0, 12), fd: true, mtu: 72 },
    });
    assert.deepEqual((await call('NetworkDriver.Leave', d.endpoint(NET, EP))).body, {});
    assert.ok(
      kernelSnapshot(kernel).host.links.includes(`${end} vxcan 72 down`),
      'Leave deletes nothing: Docker still has to move the end back',
    );
    assert.deepEqual((await call('NetworkDriver.DeleteEndpoint', d.endpoint(NET, EP))).body, {});
    assert.ok(!kernelSnapshot(kernel).host.links.some((l) => l.startsWith(end)));
    assert.deepEqual((await call('NetworkDriver.DeleteNetwork', d.network(NET))).body, {});
    assert.deepEqual(kernelSnapshot(kernel), { host: { links: [], rules: [] }, namespaces: {} }, 'nothing is left in the kernel');
    assert.deepEqual(
      JSON.parse(readFileSync(join(dir, 'state', 'state.json'), 'utf8')),
      { version: 2, buses: [], gateways: [] },
      'nor in the state',
    );
    const methods = log.lines.filter((line) => line.msg === 'request').map((line) => line.method);
    assert.deepEqual(methods, [
      'NetworkDriver.CreateNetwork',
      'NetworkDriver.CreateEndpoint',
      'NetworkDriver.Join',
      'NetworkDriver.Join',
      'NetworkDriver.EndpointOperInfo',
      'NetworkDriver.Leave',
      'NetworkDriver.DeleteEndpoint',
      'NetworkDriver.DeleteNetwork',
    ]);
    const first = log.lines.find((line) => line.msg === 'request');
    assert.equal(first?.network, NET);
    assert.equal(typeof first.ms, 'number', 'one log line per request, with its duration');
  });

  it('names the container interface: a prefix per network or per endpoint, an exact name when asked', async () => {
    await call('NetworkDriver.CreateNetwork', d.createNetwork(NET, { prefix: 'ecu' }));
    await call('NetworkDriver.CreateEndpoint', d.createEndpoint(NET, 'e1'));
    await call('NetworkDriver.CreateEndpoint', d.createEndpoint(NET, 'e2', { prefix: 'gw' }));
    await call('NetworkDriver.CreateEndpoint', d.createEndpoint(NET, 'e3', { 'com.docker.network.endpoint.ifname': 'powertrain' }));
    const names = await Promise.all(
      ['e1', 'e2', 'e3'].map(async (ep) => (await call('NetworkDriver.Join', d.join(NET, ep))).body.InterfaceName),
    );
    assert.deepEqual(names, [
      { SrcName: endpointEndName('e1'), DstPrefix: 'ecu' },
      { SrcName: endpointEndName('e2'), DstPrefix: 'gw' },
      { SrcName: endpointEndName('e3'), DstPrefix: 'ecu', DstName: 'powertrain' },
    ]);
  });

  it('creates host_if as an up member in the daemon namespace, refuses a name that exists, removes it with the network', async () => {
    await call('NetworkDriver.CreateNetwork', d.createNetwork(NET, { host_if: 'dcan0' }));
    assert.ok(kernelSnapshot(kernel).host.links.includes('dcan0 vxcan 16 up'));
    assert.ok(kernelSnapshot(kernel).namespaces[busNamespace(NET)]?.links.includes(`${hostEndName(HOST_MEMBER)} vxcan 16 up`));
    assert.deepEqual(
      (await call('NetworkDriver.CreateNetwork', d.createNetwork(NET, { host_if: 'dcan0' }))).body,
      {},
      'a repeated create is fine',
    );
    const taken = await call('NetworkDriver.CreateNetwork', d.createNetwork('c'.repeat(64), { host_if: 'dcan0' }));
    assert.equal(taken.status, 400);
    assert.match(String(taken.body.Err), /network option "host_if": "dcan0" is not valid; allowed: a name no interface on this host has/u);
    assert.equal(kernel.namespaces.exists(busNamespace('c'.repeat(64))), false);
    await call('NetworkDriver.DeleteNetwork', d.network(NET));
    assert.deepEqual(kernelSnapshot(kernel).host.links, []);
  });

  it('fails docker network create on a bad option with the option, the value and what is allowed, creating nothing', async () => {
    for (const [options, message] of [
      [{ fd: 'yes' }, 'network option "fd": "yes" is not valid; allowed: "true" or "false"'],
      [
        { termination: '120' },
        'network option "termination": "120" is not valid; allowed: an option of: fd, bitrate, dbitrate, host_if, prefix',
      ],
      [{ host_if: 'a23456789012345x' }, 'network option "host_if": "a23456789012345x" is not valid; allowed: 1..15 characters'],
    ] as const) {
      const answer = await call('NetworkDriver.CreateNetwork', d.createNetwork(NET, options));
      assert.equal(answer.status, 400);
      assert.ok(String(answer.body.Err).startsWith(message), String(answer.body.Err));
    }
    assert.deepEqual(kernelSnapshot(kernel), { host: { links: [], rules: [] }, namespaces: {} });
  });

  it('says in the log how a swarm network gets its options and no address pool, when it came without', async () => {
    const swarmId = 'vmcbc1d39qnoxnl279pd4c8gk';
    assert.equal((await call('NetworkDriver.CreateNetwork', d.createNetwork(swarmId, {}, false))).status, 200);
    const warnings = log.lines.filter((line) => line.level === 'warn').map((line) => String(line.msg));
    assert.equal(warnings.filter((msg) => msg.includes('--config-only') && msg.includes('-o options')).length, 1);
    assert.equal(warnings.filter((msg) => msg.includes('takes --ipam-driver null from its --config-only network')).length, 1);
    // With options (from its --config-only network) and no pool, nothing to say.
    await call('NetworkDriver.DeleteNetwork', d.network(swarmId));
    log.lines.length = 0;
    await call('NetworkDriver.CreateNetwork', d.createNetwork(swarmId, { fd: 'true' }));
    assert.deepEqual(
      log.lines.filter((line) => line.level === 'warn'),
      [],
    );
  });

  it('works without --ipam-driver null, with a hint in the log', async () => {
    assert.deepEqual((await call('NetworkDriver.CreateNetwork', d.createNetwork(NET, {}, false))).body, {});
    assert.ok(log.lines.some((line) => line.level === 'warn' && String(line.msg).includes('--ipam-driver null')));
  });

  it('refuses an endpoint with a MAC address, and one on a network it does not know', async () => {
    await call('NetworkDriver.CreateNetwork', d.createNetwork(NET));
    const mac = await call('NetworkDriver.CreateEndpoint', d.createEndpoint(NET, EP, {}, '02:42:ac:11:00:02'));
    assert.match(String(mac.body.Err), /MacAddress: "02:42:ac:11:00:02" is not valid; allowed: none: CAN interfaces have no MAC address/u);
    const unknown = await call('NetworkDriver.CreateEndpoint', d.createEndpoint('f'.repeat(64), EP));
    assert.match(String(unknown.body.Err), /no bus with id f+ \(hint: /u);
    assert.equal(kernelSnapshot(kernel).host.links.length, 0);
  });

  it('answers deletes and leaves of unknown ids with success, and harmless calls with {}', async () => {
    for (const [method, body] of [
      ['NetworkDriver.DeleteNetwork', d.network(NET)],
      ['NetworkDriver.DeleteEndpoint', d.endpoint(NET, EP)],
      ['NetworkDriver.Leave', d.endpoint(NET, EP)],
      ['NetworkDriver.EndpointOperInfo', d.endpoint(NET, EP)],
      ['NetworkDriver.DiscoverNew', { DiscoveryType: 1, DiscoveryData: {} }],
      ['NetworkDriver.DiscoverDelete', { DiscoveryType: 1, DiscoveryData: {} }],
      ['NetworkDriver.ProgramExternalConnectivity', d.endpoint(NET, EP)],
      ['NetworkDriver.RevokeExternalConnectivity', d.endpoint(NET, EP)],
      ['NetworkDriver.FreeNetwork', d.network(NET)],
    ] as const) {
      const answer = await call(method, body);
      assert.equal(answer.status, 200, method);
      assert.equal(answer.body.Err, undefined, method);
    }
    assert.deepEqual((await call('NetworkDriver.AllocateNetwork', d.network(NET))).body, { Options: {} });
  });

  it('serves 20 endpoints created and joined in parallel: exactly the planned rules, no duplicate', async () => {
    await call('NetworkDriver.CreateNetwork', d.createNetwork(NET));
    const eps = Array.from({ length: 20 }, (_, i) => `ep${i}`);
    await Promise.all(eps.map((ep) => call('NetworkDriver.CreateEndpoint', d.createEndpoint(NET, ep))));
    const joins = await Promise.all(eps.map((ep) => call('NetworkDriver.Join', d.join(NET, ep))));
    assert.ok(joins.every((answer) => answer.status === 200));
    const bus = daemon.service.get(NET);
    assert.equal(bus?.members.length, 20);
    const view = kernelSnapshot(kernel).namespaces[busNamespace(NET)];
    assert.equal(view?.rules.length, 20 * 19 + 2 * 20);
    assert.deepEqual(view, planSnapshot(planBus(bus)));
    await Promise.all(eps.map((ep) => call('NetworkDriver.DeleteEndpoint', d.endpoint(NET, ep))));
    assert.deepEqual(kernelSnapshot(kernel).namespaces[busNamespace(NET)]?.rules, []);
  });

  it('rolls a failed CreateEndpoint back completely: kernel and state as before', async () => {
    await call('NetworkDriver.CreateNetwork', d.createNetwork(NET));
    await call('NetworkDriver.CreateEndpoint', d.createEndpoint(NET, 'e1'));
    const before = kernelSnapshot(kernel);
    kernel.failOn('addRule', 2);
    const answer = await call('NetworkDriver.CreateEndpoint', d.createEndpoint(NET, 'e2'));
    assert.equal(answer.status, 500);
    assert.match(String(answer.body.Err), /^wiring bus a{12}: adding can-gw rule .*ENOBUFS/u);
    assert.deepEqual(kernelSnapshot(kernel), before);
    assert.deepEqual(
      daemon.service.get(NET)?.members.map((m) => m.id),
      ['e1'],
    );
  });

  it('answers malformed requests with a clear Err and changes nothing', async () => {
    await call('NetworkDriver.CreateNetwork', d.createNetwork(NET));
    const before = kernelSnapshot(kernel);
    for (const [method, body, message] of [
      ['NetworkDriver.CreateNetwork', '{"NetworkID": ', /^request body: .* is not valid; allowed: a JSON object \(/u],
      ['NetworkDriver.CreateNetwork', '[1,2]', /^request body: \[1,2\] is not valid; allowed: a JSON object/u],
      ['NetworkDriver.CreateNetwork', {}, /^NetworkID: undefined is not valid; allowed: an id of 1\.\.256 printable characters/u],
      ['NetworkDriver.CreateEndpoint', { NetworkID: NET }, /^EndpointID: undefined is not valid/u],
      ['NetworkDriver.CreateEndpoint', { NetworkID: NET, EndpointID: 7 }, /^EndpointID: 7 is not valid/u],
      ['NetworkDriver.CreateNetwork', { NetworkID: 'x', Options: 'o' }, /^Options: "o" is not valid; allowed: an object/u],
      [
        'NetworkDriver.CreateNetwork',
        { NetworkID: 'x', Options: { 'com.docker.network.generic': { fd: true } } },
        /^network option "fd": true is not valid; allowed: a string/u,
      ],
      ['NetworkDriver.Join', d.join(NET, 'never-created'), /^no endpoint never-created on network a+/u],
    ] as const) {
      const answer = await call(method, body);
      assert.ok(answer.status === 400 || answer.status === 500, `${method}: ${answer.status}`);
      assert.match(String(answer.body.Err), message);
    }
    assert.deepEqual(await call('NetworkDriver.Nonsense', {}), { status: 404, body: { Err: 'unknown method /NetworkDriver.Nonsense' } });
    assert.deepEqual(kernelSnapshot(kernel), before);
  });

  it('refuses a 10 MB body with 413 and keeps serving', async () => {
    const answer = await call('NetworkDriver.CreateNetwork', `{"NetworkID":"${'x'.repeat(10 * 1024 * 1024)}"}`);
    assert.deepEqual(answer, { status: 413, body: { Err: 'request body over 1048576 bytes' } });
    assert.equal((await call('Plugin.Activate')).status, 200);
  });

  it('cuts off a client that never finishes its request, and keeps serving', async () => {
    await daemon.close();
    await start({ requestTimeoutMs: 300 });
    const slow = connect(socket);
    const closed = new Promise<string>((resolve) => {
      let text = '';
      slow.on('data', (chunk) => (text += chunk.toString()));
      slow.on('close', () => {
        resolve(text);
      });
    });
    slow.write('POST /NetworkDriver.CreateNetwork HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"Netw');
    // Cut off: Node answers 408 if it can, or just closes; either way no request is carried out.
    assert.match(await closed, /^(HTTP\/1\.1 408[^]*)?$/u);
    const abandoned = (): boolean =>
      log.lines.some((line) => line.msg === 'request abandoned' && line.method === 'NetworkDriver.CreateNetwork');
    for (let i = 0; i < 200 && !abandoned(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok(abandoned(), 'the abandoned request is logged, and its handler does not wait forever');
    assert.deepEqual(kernelSnapshot(kernel).namespaces, {});
    assert.equal((await call('Plugin.Activate')).status, 200);
  });

  it('replaces a stale socket file, refuses to start beside a live daemon or over a file that is not a socket', async () => {
    await daemon.close();
    const stale = createServer();
    await new Promise<void>((resolve) => stale.listen(socket, resolve));
    await assert.rejects(start(), /another daemon is serving .*cantainer\.sock/u);
    // A crashed daemon leaves its socket file behind: simulated by closing without unlinking.
    await new Promise<void>((resolve) =>
      stale.close(() => {
        resolve();
      }),
    );
    assert.equal(existsSync(socket), false, 'node removes its own socket on close');
    writeFileSync(socket, 'not a socket');
    await assert.rejects(start(), /exists and is not a socket/u);
    rmSync(socket);
    await start();
    assert.equal((await call('Plugin.Activate')).status, 200);
  });

  it('after a reboot (a fresh kernel) restores its buses and host interfaces, and drops the endpoints that died', async () => {
    await call('NetworkDriver.CreateNetwork', d.createNetwork(NET, { fd: 'true', host_if: 'dcan0' }));
    await call('NetworkDriver.CreateEndpoint', d.createEndpoint(NET, EP));
    await call('NetworkDriver.Join', d.join(NET, EP));
    await daemon.close();
    kernel = new FakeKernel();
    await start();
    const bus = daemon.service.get(NET);
    assert.deepEqual(
      bus?.members.map((m) => m.id),
      [HOST_MEMBER],
      'the container went down with the host; Docker gives it a new endpoint',
    );
    assert.deepEqual(kernelSnapshot(kernel).namespaces[busNamespace(NET)], planSnapshot(planBus(bus)));
    assert.ok(kernelSnapshot(kernel).host.links.includes('dcan0 vxcan 72 up'));
    assert.ok(log.lines.some((line) => line.msg === 'member dropped: its interface is gone with its container' && line.member === EP));
    assert.equal((await call('NetworkDriver.CreateEndpoint', d.createEndpoint(NET, 'new-endpoint'))).status, 200);
    assert.equal((await call('NetworkDriver.Join', d.join(NET, 'new-endpoint'))).status, 200);
    assert.deepEqual(
      (await call('NetworkDriver.DeleteEndpoint', d.endpoint(NET, EP))).body,
      {},
      'a late delete of the dead endpoint is fine',
    );
  });

  it('keeps an end the engine has not taken yet across a restart, and drops it once it is overdue', async () => {
    await call('NetworkDriver.CreateNetwork', d.createNetwork(NET));
    await call('NetworkDriver.CreateEndpoint', d.createEndpoint(NET, EP));
    await daemon.close();
    await start();
    assert.deepEqual(
      daemon.service.get(NET)?.members.map((m) => m.id),
      [EP],
      'within the grace period: Docker may still join it',
    );
    assert.equal((await call('NetworkDriver.Join', d.join(NET, EP))).status, 200);
    await daemon.close();
    await start({ takeoverGraceMs: 0 });
    assert.deepEqual(daemon.service.get(NET)?.members, []);
    assert.deepEqual(kernelSnapshot(kernel).host.links, [], 'its pair is gone');
    assert.deepEqual(kernelSnapshot(kernel).namespaces[busNamespace(NET)]?.rules, []);
  });

  it('sweeps orphaned ends while running', async () => {
    await daemon.close();
    await start({ takeoverGraceMs: 0 });
    await call('NetworkDriver.CreateNetwork', d.createNetwork(NET));
    await call('NetworkDriver.CreateEndpoint', d.createEndpoint(NET, EP));
    assert.equal(await daemon.service.sweepOrphans(), 1);
    assert.deepEqual(kernelSnapshot(kernel).host.links, []);
    assert.equal(await daemon.service.sweepOrphans(), 0);
  });

  it('drops a member whose container died without DeleteEndpoint, on the next request for its bus', async () => {
    const container = kernel.addForeignNamespace('/var/run/docker/netns/6d2f0c1b9a87', 'container');
    await call('NetworkDriver.CreateNetwork', d.createNetwork(NET));
    await call('NetworkDriver.CreateEndpoint', d.createEndpoint(NET, 'e1'));
    await call('NetworkDriver.CreateEndpoint', d.createEndpoint(NET, 'e2'));
    // What Docker does at Join: move the end into the container.
    const host = kernel.route();
    host.moveLink(endpointEndName('e1'), container, 'can0');
    host.close();
    kernel.destroyForeign('/var/run/docker/netns/6d2f0c1b9a87');
    await call('NetworkDriver.CreateEndpoint', d.createEndpoint(NET, 'e3'));
    const bus = daemon.service.get(NET);
    assert.deepEqual(
      bus?.members.map((m) => m.id),
      ['e2', 'e3'],
    );
    assert.deepEqual(kernelSnapshot(kernel).namespaces[busNamespace(NET)], planSnapshot(planBus(bus)));
  });

  it('answers Activate while it starts, and requests for buses once they are wired, with the state it loaded', async () => {
    await call('NetworkDriver.CreateNetwork', d.createNetwork(NET));
    await daemon.close();
    const late = await serveJsonLate<DriverContext>({ socketPath: socket, early: STATIC_ANSWERS, log, parseBody });
    assert.deepEqual((await call('Plugin.Activate')).body, { Implements: ['NetworkDriver'] }, 'before the service is loaded');
    // Sent before the daemon starts: answered by it, from the state it loads.
    const early = call('NetworkDriver.CreateEndpoint', d.createEndpoint(NET, EP));
    await new Promise((resolve) => setTimeout(resolve, 50));
    daemon = await startDaemon({ kernel, socketPath: socket, stateDir: join(dir, 'state'), log, pluginServer: late });
    assert.deepEqual((await early).body, {});
    assert.deepEqual(
      daemon.service.get(NET)?.members.map((m) => m.id),
      [EP],
    );
    assert.ok(kernelSnapshot(kernel).host.links.includes(`${endpointEndName(EP)} vxcan 16 down`));
  });
});
