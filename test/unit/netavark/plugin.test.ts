// The netavark plugin driven as netavark drives it (a subcommand, the namespace path, JSON on stdin), against a
// daemon with the in-memory kernel over a real control socket.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryLogger } from '../../../src/log.js';
import { startDaemon, type Daemon } from '../../../src/daemon/daemon.js';
import { containerMemberId, runNetavark } from '../../../src/netavark/plugin.js';
import { packageVersion } from '../../../src/version.js';
import { busNamespace } from '../../../src/bus/plan.js';
import { FakeKernel } from '../../support/fake-kernel.js';
import { countAt, simFrame, transmit } from '../../support/frame-sim.js';

/** A network as Podman 5 hands it to `create` (podman network create -d cantainer NAME [-o ...]). */
const network = (name: string, options?: Record<string, string>, more: Record<string, unknown> = {}): Record<string, unknown> => ({
  name,
  id: 'a'.repeat(64),
  driver: 'cantainer',
  network_interface: '',
  created: '2026-11-26T08:00:00Z',
  ipv6_enabled: false,
  internal: false,
  dns_enabled: true,
  ...(options === undefined ? {} : { options }),
  ...more,
});

describe('the netavark plugin', () => {
  let dir: string;
  let daemon: Daemon | undefined;
  let kernel: FakeKernel;
  let env: Record<string, string>;
  const call = (argv: string[], stdin: unknown = ''): ReturnType<typeof runNetavark> =>
    runNetavark(argv, typeof stdin === 'string' ? stdin : JSON.stringify(stdin), env);
  /** What netavark gives setup and teardown for one container on one network. */
  const exec = (
    container: string,
    net: Record<string, unknown>,
    ifname = 'eth0',
    more: Record<string, unknown> = {},
  ): Record<string, unknown> => ({
    container_id: `${container}-id`,
    container_name: container,
    port_mappings: [],
    network: net,
    network_options: { aliases: [container], interface_name: ifname, ...more },
  });
  const ns = (container: string): string => {
    kernel.addForeignNamespace(`/run/netns/${container}`, container);
    return `/run/netns/${container}`;
  };
  const errorOf = (outcome: { stdout: string; exitCode: number }): string => {
    assert.equal(outcome.exitCode, 1, outcome.stdout);
    return (JSON.parse(outcome.stdout) as { error: string }).error;
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cantainer-netavark-'));
    kernel = new FakeKernel();
    env = { CANTAINER_CONTROL_SOCKET: join(dir, 'control.sock') };
    daemon = await startDaemon({
      kernel,
      socketPath: join(dir, 'plugin.sock'),
      controlSocketPath: env.CANTAINER_CONTROL_SOCKET!,
      stateDir: join(dir, 'state'),
      log: memoryLogger(),
    });
  });
  afterEach(async () => {
    await daemon?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('says what it is', async () => {
    assert.deepEqual(await call(['info']), {
      stdout: `${JSON.stringify({ version: packageVersion(), api_version: '1.0.0', description: 'cantainer: virtual CAN buses for containers' })}\n`,
      exitCode: 0,
    });
  });

  it('create echoes the network with DNS off, and checks its options', async () => {
    const created = await call(['create'], network('powertrain', { fd: 'true' }));
    assert.deepEqual(JSON.parse(created.stdout), network('powertrain', { fd: 'true' }, { dns_enabled: false }));
    assert.deepEqual(JSON.parse((await call(['create'], network('body'))).stdout), network('body', undefined, { dns_enabled: false }));
    assert.equal(
      errorOf(await call(['create'], network('x', { fd: 'yes' }))),
      'network option fd: "yes" is not valid; allowed: true or false',
    );
    assert.equal(
      errorOf(await call(['create'], network('x', { termination: '120' }))),
      'network option "termination" (value "120") is not supported; allowed: bus, fd, bitrate, dbitrate',
    );
    assert.match(
      errorOf(await call(['create'], network('x', undefined, { subnets: [{ subnet: '10.89.0.0/24', gateway: '10.89.0.1' }] }))),
      /^network x: subnets \[.*\] are not valid; a CAN bus has no IP addresses: create it without --subnet/u,
    );
    assert.match(errorOf(await call(['create'], network('x', undefined, { ipv6_enabled: true }))), /without --ipv6/u);
    assert.match(errorOf(await call(['create'], '{"name":')), /^the JSON on stdin does not parse/u);
  });

  it('setup puts containers on a bus made by the first one, named can0, can1 ... for eth0, eth1 ...; teardown takes them off and the bus goes with the last', async () => {
    const powertrain = network('powertrain');
    const body = network('body', { fd: 'true' });
    assert.deepEqual(await call(['setup', ns('p1')], exec('p1', powertrain)), {
      stdout: '{"interfaces":{"can0":{"mac_address":"","subnets":[]}}}\n',
      exitCode: 0,
    });
    assert.equal((await call(['setup', ns('p2')], exec('p2', powertrain, 'eth0'))).exitCode, 0);
    assert.equal((await call(['setup', '/run/netns/p2'], exec('p2', body, 'eth1'))).exitCode, 0);
    assert.deepEqual(JSON.parse((await call(['setup', ns('p3')], exec('p3', body, 'vcan7'))).stdout), {
      interfaces: { vcan7: { mac_address: '', subnets: [] } },
    });
    assert.deepEqual(
      kernel
        .linksIn('/run/netns/p2')
        .map((link) => [link.name, link.mtu])
        .sort(),
      [
        ['can0', 16],
        ['can1', 72],
      ],
    );
    const heard = countAt(transmit(kernel, { label: 'p1', path: '/run/netns/p1' }, 'can0', simFrame(0x100, '01')));
    assert.deepEqual(
      Object.entries(heard).filter(([at]) => !at.startsWith('cbus-')),
      [['p2/can0', 1]],
    );
    const member = daemon!.service.byName('powertrain')!.members[0]!;
    assert.equal(member.id, containerMemberId('p1-id', 'can0'));
    assert.deepEqual(member.annotations, {
      origin: 'netavark',
      'netavark.container': 'p1-id',
      'netavark.name': 'p1',
      'netavark.network': 'powertrain',
      container: 'p1',
    });
    const id = daemon!.service.byName('powertrain')!.id;
    for (const [container, net, ifname] of [
      ['p1', powertrain, 'eth0'],
      ['p2', powertrain, 'eth0'],
      ['p2', body, 'eth1'],
      ['p3', body, 'vcan7'],
    ] as const) {
      assert.deepEqual(await call(['teardown', `/run/netns/${container}`], exec(container, net, ifname)), { stdout: '', exitCode: 0 });
    }
    assert.deepEqual(daemon!.service.list(), []);
    assert.equal(kernel.namespaces.exists(busNamespace(id)), false);
    // Again: nothing to take off is no error.
    assert.deepEqual(await call(['teardown', '/run/netns/p1'], exec('p1', powertrain)), { stdout: '', exitCode: 0 });
  });

  it('makes a timed bus from the bitrate and dbitrate options, and refuses a bit rate no bus has when the network is created', async () => {
    const timed = network('chassis', { fd: 'true', bitrate: '500k', dbitrate: '2M' });
    assert.equal((await call(['create'], timed)).exitCode, 0);
    assert.equal((await call(['setup', ns('t1')], exec('t1', timed))).exitCode, 0);
    assert.deepEqual(daemon!.service.byName('chassis')!.timing, { bitrate: 500_000, dbitrate: 2_000_000 });
    assert.equal(
      errorOf(await call(['create'], network('x', { bitrate: '2M' }))),
      'network option bitrate: 2000000 is not valid; allowed: a bit rate in bit/s, a whole number from 5000 to 1000000 (for example 125000, 500000, 1000000)',
    );
    assert.equal(
      errorOf(await call(['create'], network('x', { dbitrate: '2M' }))),
      'network option dbitrate: a data bit rate only with bitrate (the nominal rate)',
    );
    assert.equal((await call(['teardown', '/run/netns/t1'], exec('t1', timed))).exitCode, 0);
    assert.deepEqual(daemon!.service.list(), []);
  });

  it('refuses addresses, a MAC, a bad namespace argument and unknown commands, making nothing', async () => {
    const powertrain = network('powertrain');
    ns('p1');
    assert.match(
      errorOf(await call(['setup', '/run/netns/p1'], exec('p1', powertrain, 'eth0', { static_ips: ['10.0.0.5'] }))),
      /^static_ips \["10\.0\.0\.5"\]: a CAN interface has no IP address/u,
    );
    assert.match(
      errorOf(await call(['setup', '/run/netns/p1'], exec('p1', powertrain, 'eth0', { static_mac: 'aa:bb:cc:dd:ee:ff' }))),
      /no MAC address; run the container without --mac-address/u,
    );
    assert.match(errorOf(await call(['setup', 'p1'], exec('p1', powertrain))), /^the namespace argument: "p1" is not valid/u);
    assert.match(errorOf(await call(['setup', '/run/netns/gone'], exec('gone', powertrain))), /\/run\/netns\/gone/u);
    assert.equal(errorOf(await call(['attach'])), 'the command "attach" is not valid; allowed: create, setup NETNS, teardown NETNS, info');
    assert.deepEqual(daemon!.service.list(), []);
    assert.deepEqual(kernel.linksIn('/run/netns/p1'), []);
  });

  it('fails setup saying how to start the daemon when it is down', async () => {
    ns('p1');
    await daemon!.close();
    daemon = undefined;
    assert.match(
      errorOf(await call(['setup', '/run/netns/p1'], exec('p1', network('powertrain')))),
      /^cannot reach the cantainer daemon at .*control\.sock \(\w+\): start it \(systemctl start cantainer, or cantainer daemon\), or name its socket with \$CANTAINER_CONTROL_SOCKET/u,
    );
  });
});
