// The CNI plugin driven as a runtime drives it (environment and stdin), against a daemon with the in-memory kernel
// over a real control socket: every verb, chained results, the errors of the specification with their codes, and
// the same bus shared with Docker's front door. Containers' namespaces are namespaces of the fake kernel.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryLogger } from '../../../src/log.js';
import { startDaemon, type Daemon } from '../../../src/daemon/daemon.js';
import { runCni } from '../../../src/cni/plugin.js';
import { callDaemon } from '../../../src/control/client.js';
import { attachmentMemberId, parseNetworkConfig, SUPPORTED_VERSIONS } from '../../../src/cni/spec.js';
import { busNamespace } from '../../../src/bus/plan.js';
import { FakeKernel } from '../../support/fake-kernel.js';
import { countAt, simFrame, transmit } from '../../support/frame-sim.js';
import { dockerRequests as d, post } from '../../support/plugin-client.js';
import { waitFor } from '../../support/helpers.js';
import { projectPath } from '../../support/helpers.js';

const NET = 'f'.repeat(64);

describe('the CNI plugin', () => {
  let dir: string;
  let control: string;
  let daemon: Daemon | undefined;
  let kernel: FakeKernel;
  const start = async (): Promise<Daemon> => {
    daemon = await startDaemon({
      kernel,
      socketPath: join(dir, 'plugin.sock'),
      controlSocketPath: control,
      stateDir: join(dir, 'state'),
      log: memoryLogger(),
      networkLookup: () => Promise.resolve({ name: 'powertrain', labels: {} }),
    });
    return daemon;
  };
  const conf = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    cniVersion: '1.1.0',
    name: 'powertrain',
    type: 'cantainer',
    controlSocket: control,
    ...extra,
  });
  const cni = (command: string, config: Record<string, unknown> | string, env: Record<string, string> = {}): ReturnType<typeof runCni> =>
    runCni({ CNI_COMMAND: command, CNI_PATH: '/opt/cni/bin', ...env }, typeof config === 'string' ? config : JSON.stringify(config));
  const attach = (container: string, ifname = 'can0'): Record<string, string> => ({
    CNI_CONTAINERID: container,
    CNI_NETNS: `/run/netns/${container}`,
    CNI_IFNAME: ifname,
  });
  const container = (name: string): void => {
    kernel.addForeignNamespace(`/run/netns/${name}`, name);
  };
  const errorOf = (outcome: { stdout: string; exitCode: number }): { code: number; msg: string } => {
    assert.equal(outcome.exitCode, 1, outcome.stdout);
    return JSON.parse(outcome.stdout) as { code: number; msg: string };
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cantainer-cni-'));
    control = join(dir, 'control.sock');
    kernel = new FakeKernel();
    await start();
  });
  afterEach(async () => {
    await daemon?.close();
    daemon = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers VERSION with every supported version, in the version asked', async () => {
    assert.deepEqual(await cni('VERSION', { cniVersion: '0.4.0' }), {
      stdout: `${JSON.stringify({ cniVersion: '0.4.0', supportedVersions: [...SUPPORTED_VERSIONS] })}\n`,
      exitCode: 0,
    });
    assert.deepEqual(JSON.parse((await cni('VERSION', '')).stdout), {
      cniVersion: '1.1.0',
      supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'],
    });
    // As libcni validates a configuration: the other variables hold placeholders.
    const placeholders = { CNI_CONTAINERID: 'dummy', CNI_NETNS: 'dummy', CNI_IFNAME: 'dummy', CNI_ARGS: 'not;pairs' };
    assert.equal((await cni('VERSION', { cniVersion: '1.0.0' }, placeholders)).exitCode, 0);
  });

  it('puts two containers on one bus made by the first ADD: each hears the other once, and the result names the interface', async () => {
    container('ecu1');
    container('ecu2');
    const first = await cni('ADD', conf(), attach('ecu1'));
    assert.deepEqual(first, {
      stdout: `${JSON.stringify({ cniVersion: '1.1.0', interfaces: [{ name: 'can0', mac: '00:00:00:00:00:00', mtu: 16, sandbox: '/run/netns/ecu1' }], ips: [] })}\n`,
      exitCode: 0,
    });
    assert.equal((await cni('ADD', conf(), attach('ecu2'))).exitCode, 0);
    const bus = daemon!.service.byName('powertrain')!;
    assert.equal(bus.transient, true);
    // Each end remembers the identity of the namespace it was made in.
    const idOf = (path: string): string => {
      const found = kernel.identify(path);
      if (found.kind !== 'netns') assert.fail(`${path} names no namespace`);
      return found.id;
    };
    assert.deepEqual(
      bus.members.map((m) => [m.id, m.end]),
      [
        [attachmentMemberId('ecu1', 'can0'), { name: 'can0', netns: '/run/netns/ecu1', netnsId: idOf('/run/netns/ecu1'), up: true }],
        [attachmentMemberId('ecu2', 'can0'), { name: 'can0', netns: '/run/netns/ecu2', netnsId: idOf('/run/netns/ecu2'), up: true }],
      ],
    );
    const heard = countAt(transmit(kernel, { label: 'ecu1', path: '/run/netns/ecu1' }, 'can0', simFrame(0x123, 'cafe')));
    assert.equal(heard['ecu2/can0'], 1);
    assert.equal(heard['ecu1/can0'], undefined);
    const inspected = await callDaemon(control, 'Bus.Inspect', { bus: 'powertrain' });
    assert.deepEqual(
      inspected.members.map((m) => [m.container, m.interface, m.netns]),
      [
        ['ecu1', 'can0', '/run/netns/ecu1'],
        ['ecu2', 'can0', '/run/netns/ecu2'],
      ],
    );
    // The same ADD again changes nothing and answers the same.
    assert.deepEqual(await cni('ADD', conf(), attach('ecu1')), first);
    assert.equal(daemon!.service.byName('powertrain')!.members.length, 2);
  });

  it('takes 12 ADDs at once, as a runtime starting many containers sends them: one bus, every container on it', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `ecu${i}`);
    for (const name of names) container(name);
    const outcomes = await Promise.all(names.map((name) => cni('ADD', conf(), attach(name))));
    assert.deepEqual(
      outcomes.map((outcome) => outcome.exitCode),
      names.map(() => 0),
    );
    assert.deepEqual(
      daemon!.service.list().map((bus) => [bus.name, bus.members.length]),
      [['powertrain', 12]],
    );
    const heard = countAt(transmit(kernel, { label: 'ecu0', path: '/run/netns/ecu0' }, 'can0', simFrame(0x10, '00')));
    assert.deepEqual(
      Object.keys(heard)
        .filter((at) => at.endsWith('/can0'))
        .sort(),
      names
        .slice(1)
        .map((name) => `${name}/can0`)
        .sort(),
    );
    assert.ok(Object.entries(heard).every(([, n]) => n === 1));
    const dels = await Promise.all(names.map((name) => cni('DEL', conf(), attach(name))));
    assert.deepEqual(
      dels.map((outcome) => outcome.exitCode),
      names.map(() => 0),
    );
    assert.deepEqual(daemon!.service.list(), []);
  });

  it('puts one container on two buses under the names it asks for, FD where the network says so', async () => {
    container('gw');
    assert.equal((await cni('ADD', conf(), attach('gw', 'can0'))).exitCode, 0);
    const fd = await cni('ADD', conf({ name: 'body-net', bus: 'body', fd: true }), attach('gw', 'can1'));
    assert.deepEqual(JSON.parse(fd.stdout), {
      cniVersion: '1.1.0',
      interfaces: [{ name: 'can1', mac: '00:00:00:00:00:00', mtu: 72, sandbox: '/run/netns/gw' }],
      ips: [],
    });
    assert.deepEqual(
      kernel
        .linksIn('/run/netns/gw')
        .map((link) => [link.name, link.mtu, link.up])
        .sort(),
      [
        ['can0', 16, true],
        ['can1', 72, true],
      ],
    );
    assert.equal(daemon!.service.byName('body')!.fd, true);
  });

  it('appends its interface to a chained prevResult, and answers old versions without mtu', async () => {
    container('ecu1');
    const prevResult = {
      cniVersion: '0.4.0',
      interfaces: [{ name: 'eth0', sandbox: '/run/netns/ecu1' }],
      ips: [{ version: '4', address: '10.1.0.2/24', interface: 0 }],
      dns: {},
    };
    const out = await cni('ADD', conf({ cniVersion: '0.4.0', prevResult }), attach('ecu1'));
    assert.deepEqual(JSON.parse(out.stdout), {
      cniVersion: '0.4.0',
      interfaces: [
        { name: 'eth0', sandbox: '/run/netns/ecu1' },
        { name: 'can0', mac: '00:00:00:00:00:00', sandbox: '/run/netns/ecu1' },
      ],
      ips: prevResult.ips,
      dns: {},
    });
  });

  it('DEL removes the member, succeeds again and for unknown containers, and the bus goes with its last member', async () => {
    container('ecu1');
    container('ecu2');
    await cni('ADD', conf(), attach('ecu1'));
    await cni('ADD', conf(), attach('ecu2'));
    const id = daemon!.service.byName('powertrain')!.id;
    assert.deepEqual(await cni('DEL', conf(), attach('ecu1')), { stdout: '', exitCode: 0 });
    assert.deepEqual(kernel.linksIn('/run/netns/ecu1'), []);
    assert.deepEqual(await cni('DEL', conf(), attach('ecu1')), { stdout: '', exitCode: 0 });
    assert.deepEqual(await cni('DEL', conf(), { CNI_CONTAINERID: 'never-seen', CNI_IFNAME: 'can0' }), { stdout: '', exitCode: 0 });
    assert.ok(kernel.namespaces.exists(busNamespace(id)));
    // Without CNI_NETNS, as the specification allows for DEL.
    assert.deepEqual(await cni('DEL', conf(), { CNI_CONTAINERID: 'ecu2', CNI_IFNAME: 'can0' }), { stdout: '', exitCode: 0 });
    assert.equal(daemon!.service.byName('powertrain'), undefined);
    assert.equal(kernel.namespaces.exists(busNamespace(id)), false);
    assert.deepEqual(kernel.linksIn('/run/netns/ecu2'), []);
  });

  it('CHECK passes on what ADD made and reports what drifted', async () => {
    container('ecu1');
    const added = await cni('ADD', conf(), attach('ecu1'));
    const prevResult = JSON.parse(added.stdout) as Record<string, unknown>;
    assert.deepEqual(await cni('CHECK', conf({ prevResult }), attach('ecu1')), { stdout: '', exitCode: 0 });
    kernel.route({ label: 'ecu1', path: '/run/netns/ecu1' }).deleteLink('can0');
    const drift = errorOf(await cni('CHECK', conf({ prevResult }), attach('ecu1')));
    assert.equal(drift.code, 100);
    assert.match(drift.msg, /^can0 of container ecu1 on bus powertrain: the bus end of can0 is missing/u);
    const unknown = errorOf(
      await cni('CHECK', conf({ prevResult: { cniVersion: '1.1.0', interfaces: [{ name: 'can0' }] } }), attach('other')),
    );
    assert.equal(unknown.code, 100);
    assert.match(unknown.msg, /bus powertrain has no member cni-/u);
    const notListed = errorOf(await cni('CHECK', conf({ prevResult: { cniVersion: '1.1.0', interfaces: [] } }), attach('ecu1')));
    assert.equal(notListed.msg, 'prevResult lists no interface can0: it is not what ADD returned');
  });

  it('GC removes the attachments of its network that the runtime no longer has, and only those', async () => {
    for (const name of ['a', 'b', 'c']) {
      container(name);
      await cni('ADD', conf(), attach(name));
    }
    // Another network naming the same bus: its attachment is not this network's to collect.
    container('d');
    await cni('ADD', conf({ name: 'other-net', bus: 'powertrain' }), attach('d'));
    const gc = await cni('GC', conf({ 'cni.dev/valid-attachments': [{ containerID: 'b', ifname: 'can0' }] }));
    assert.deepEqual(gc, { stdout: '', exitCode: 0 });
    assert.deepEqual(
      daemon!.service.byName('powertrain')!.members.map((m) => m.annotations?.['cni.container']),
      ['b', 'd'],
    );
    assert.deepEqual(kernel.linksIn('/run/netns/a'), []);
  });

  it('STATUS is ready with the daemon up, and code 50 with how to start it when it is not', async () => {
    assert.deepEqual(await cni('STATUS', conf()), { stdout: '', exitCode: 0 });
    await daemon!.close();
    daemon = undefined;
    const down = errorOf(await cni('STATUS', conf()));
    assert.equal(down.code, 50);
    assert.match(
      down.msg,
      /^cannot reach the cantainer daemon at .*control\.sock \((ENOENT|ECONNREFUSED|EPIPE)\): start it \(systemctl start cantainer, or cantainer daemon\)/u,
    );
  });

  it('succeeds DEL while the daemon is down, saying so, and the daemon drops the member when it comes back (#22)', async () => {
    container('ecu1');
    container('ecu2');
    await cni('ADD', conf(), attach('ecu1'));
    await cni('ADD', conf(), attach('ecu2'));
    await daemon!.close();
    daemon = undefined;
    // The runtime deletes the container's namespace after DEL.
    const outcome = await cni('DEL', conf(), attach('ecu1'));
    kernel.destroyForeign('/run/netns/ecu1');
    assert.deepEqual({ stdout: outcome.stdout, exitCode: outcome.exitCode }, { stdout: '', exitCode: 0 });
    assert.match(
      outcome.stderr ?? '',
      /^cantainer: DEL of can0 of container ecu1 on bus powertrain while the daemon is down .*drops the member when it comes back\n$/u,
    );
    await start();
    assert.deepEqual(
      daemon!.service.byName('powertrain')?.members.map((m) => m.annotations?.['cni.container']),
      ['ecu2'],
    );
  });

  it('fails ADD with code 11 when the daemon is down, and creates nothing', async () => {
    container('ecu1');
    await daemon!.close();
    daemon = undefined;
    const down = errorOf(await cni('ADD', conf(), attach('ecu1')));
    assert.equal(down.code, 11);
    assert.match(down.msg, /cannot reach the cantainer daemon/u);
    assert.deepEqual(kernel.linksIn('/run/netns/ecu1'), []);
    assert.deepEqual(kernel.namespaces.list(), []);
  });

  it('refuses bad calls with the specification codes, naming the field and value, and changes nothing', async () => {
    container('ecu1');
    const cases: Array<[string, Record<string, unknown> | string, Record<string, string>, number, RegExp]> = [
      ['ADD', conf(), { CNI_CONTAINERID: 'ecu1', CNI_IFNAME: 'can0' }, 4, /^CNI_NETNS is not set; it must be the path/u],
      ['ADD', conf(), { ...attach('ecu1'), CNI_IFNAME: 'a-name-far-too-long' }, 4, /^CNI_IFNAME: "a-name-far-too-long" is not valid/u],
      ['ADD', conf(), { ...attach('ecu1'), CNI_NETNS: 'relative' }, 4, /^CNI_NETNS: "relative" is not valid/u],
      ['ADD', '{"cniVersion": ', attach('ecu1'), 6, /^the network configuration on stdin is not JSON/u],
      [
        'ADD',
        conf({ cniVersion: '0.2.0' }),
        attach('ecu1'),
        1,
        /^cniVersion 0\.2\.0 is not supported; supported: 0\.3\.0, 0\.3\.1, 0\.4\.0, 1\.0\.0, 1\.1\.0$/u,
      ],
      [
        'ADD',
        conf({ ipam: { type: 'host-local' } }),
        attach('ecu1'),
        2,
        /^unsupported field "ipam" \(value \{"type":"host-local"\}\): CAN interfaces have no IP addresses/u,
      ],
      [
        'ADD',
        conf({ termination: 120 }),
        attach('ecu1'),
        2,
        /^unsupported field "termination" \(value 120\): this plugin reads bus, fd, bitrate, dbitrate, send, receive, controlSocket, span, hub, nodes$/u,
      ],
      [
        'ADD',
        conf({ bitrate: '500k' }),
        attach('ecu1'),
        7,
        /^bitrate: "500k" is not valid; allowed: a bit rate in bit\/s, a whole number/u,
      ],
      [
        'ADD',
        conf({ fd: true, dbitrate: 2000000 }),
        attach('ecu1'),
        7,
        /^dbitrate: 2000000 is not valid; allowed: a data bit rate only with "bitrate"$/u,
      ],
      ['ADD', conf({ fd: 'yes' }), attach('ecu1'), 7, /^fd: "yes" is not valid; allowed: true or false$/u],
      ['ADD', conf({ send: ['12G'] }), attach('ecu1'), 7, /^member cni-\w+ send: "12G" is not valid; allowed: ID or ID\/MASK in hex/u],
      ['ADD', conf(), { ...attach('ecu1'), CNI_ARGS: 'colour=red' }, 2, /^CNI_ARGS: unsupported key "colour"/u],
      [
        'ADD',
        conf(),
        { ...attach('ecu1'), CNI_COMMAND: 'ATTACH' },
        4,
        /^CNI_COMMAND: "ATTACH" is not valid; allowed: ADD, DEL, CHECK, STATUS, GC, VERSION$/u,
      ],
    ];
    for (const [command, config, env, code, msg] of cases) {
      const error = errorOf(await runCni({ CNI_COMMAND: command, ...env }, typeof config === 'string' ? config : JSON.stringify(config)));
      assert.equal(error.code, code, `${JSON.stringify(env)}: ${error.msg}`);
      assert.match(error.msg, msg);
    }
    assert.deepEqual(kernel.linksIn('/run/netns/ecu1'), []);
    assert.deepEqual(daemon!.service.list(), []);
  });

  it('takes per-container filters from CNI_ARGS, cni-args and runtimeConfig, strongest last', async () => {
    container('ecu1');
    await cni('ADD', conf({ send: ['100'] }), {
      ...attach('ecu1'),
      CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=garage;K8S_POD_NAME=engine;colour=red;send=200,300;receive=7E8',
    });
    let member = daemon!.service.byName('powertrain')!.members[0]!;
    assert.deepEqual([member.send, member.receive, member.annotations?.container], [['200', '300'], ['7E8'], 'garage/engine']);
    await cni('ADD', conf({ args: { cni: { send: ['400'] } }, runtimeConfig: { receive: ['7DF'] } }), {
      ...attach('ecu1'),
      CNI_ARGS: 'send=200',
    });
    member = daemon!.service.byName('powertrain')!.members[0]!;
    assert.deepEqual([member.send, member.receive], [['400'], ['7DF']]);
  });

  it('refuses a member asking for FD on a classic bus, and leaves the bus as it was', async () => {
    container('ecu1');
    container('ecu2');
    await cni('ADD', conf(), attach('ecu1'));
    const refused = errorOf(await cni('ADD', conf({ fd: true }), attach('ecu2')));
    assert.equal(refused.code, 101);
    assert.match(refused.msg, /^bus powertrain carries classic CAN frames, and this member asks for CAN FD/u);
    assert.equal(daemon!.service.byName('powertrain')!.members.length, 1);
    assert.deepEqual(kernel.linksIn('/run/netns/ecu2'), []);
  });

  it('makes a timed bus from bitrate and dbitrate, refuses a member that asks for another, and a range no bus has', async () => {
    container('ecu1');
    container('ecu2');
    container('ecu3');
    assert.equal((await cni('ADD', conf({ fd: true, bitrate: 500000, dbitrate: 2000000 }), attach('ecu1'))).exitCode, 0);
    assert.deepEqual(daemon!.service.byName('powertrain')!.timing, { bitrate: 500000, dbitrate: 2000000 });
    assert.deepEqual(daemon!.service.timing(daemon!.service.byName('powertrain')!.id)?.bitrate, 500000);
    assert.equal((await cni('ADD', conf(), attach('ecu2'))).exitCode, 0, 'a member that says nothing takes the bus as it is');
    const refused = errorOf(await cni('ADD', conf({ fd: true, bitrate: 250000 }), attach('ecu3')));
    assert.equal(refused.code, 101);
    assert.match(
      refused.msg,
      /^bus powertrain is timed \{"bitrate":500000,"dbitrate":2000000\}, and this member asks for \{"bitrate":250000\}/u,
    );
    const range = errorOf(await cni('ADD', conf({ name: 'other', bitrate: 2000000 }), attach('ecu3')));
    assert.match(range.msg, /^bitrate: 2000000 is not valid; allowed: a bit rate in bit\/s, a whole number from 5000 to 1000000/u);
    assert.equal(daemon!.service.byName('other'), undefined);
    assert.deepEqual(kernel.linksIn('/run/netns/ecu3'), []);
  });

  it('joins the bus of a Docker network of the same name: one bus, frames both ways', async () => {
    const created = await post(join(dir, 'plugin.sock'), '/NetworkDriver.CreateNetwork', d.createNetwork(NET, {}));
    assert.equal(created.status, 200);
    await waitFor('bus named', () => daemon!.service.get(NET)?.name === 'powertrain');
    await post(join(dir, 'plugin.sock'), '/NetworkDriver.CreateEndpoint', d.createEndpoint(NET, 'e'.repeat(64)));
    container('ecu1');
    assert.equal((await cni('ADD', conf(), attach('ecu1'))).exitCode, 0);
    assert.deepEqual(
      daemon!.service.list().map((bus) => [bus.id, bus.members.length]),
      [[NET, 2]],
    );
    assert.equal(daemon!.service.get(NET)!.transient, undefined);
    // The Docker member's end is still in the daemon's namespace, as Docker has not moved it yet: brought up here.
    const dockerEnd = daemon!.service.get(NET)!.members[0]!.end.name;
    kernel.route().setLinkUp(dockerEnd, true);
    const atMembers = (counts: Record<string, number>): Record<string, number> =>
      Object.fromEntries(Object.entries(counts).filter(([at]) => !at.startsWith('cbus-')));
    assert.deepEqual(atMembers(countAt(transmit(kernel, { label: 'ecu1', path: '/run/netns/ecu1' }, 'can0', simFrame(0x7df, '0201')))), {
      [`host/${dockerEnd}`]: 1,
    });
    assert.deepEqual(atMembers(countAt(transmit(kernel, { label: 'host', path: undefined }, dockerEnd, simFrame(0x7e8, '0641')))), {
      'ecu1/can0': 1,
    });
    // The bus outlives the CNI member: it is Docker's.
    await cni('DEL', conf(), attach('ecu1'));
    assert.equal(daemon!.service.get(NET)!.members.length, 1);
  });

  it('hands its bus to a Docker network created later with the same name: one bus, the container still on it', async () => {
    container('ecu1');
    container('ecu2');
    await cni('ADD', conf(), attach('ecu1'));
    await cni('ADD', conf(), attach('ecu2'));
    const created = await post(join(dir, 'plugin.sock'), '/NetworkDriver.CreateNetwork', d.createNetwork(NET, {}));
    assert.equal(created.status, 200);
    await waitFor(
      'the transient bus to join the network',
      () => daemon!.service.list().length === 1 && daemon!.service.get(NET)?.name === 'powertrain',
    );
    assert.deepEqual(
      daemon!.service.get(NET)!.members.map((m) => m.annotations?.['cni.container']),
      ['ecu1', 'ecu2'],
    );
    assert.equal(kernel.namespaces.exists(busNamespace('named:powertrain')), false);
    const heard = countAt(transmit(kernel, { label: 'ecu1', path: '/run/netns/ecu1' }, 'can0', simFrame(0x55, 'aa')));
    assert.equal(heard['ecu2/can0'], 1);
    // The last CNI member leaving leaves Docker's bus in place.
    await cni('DEL', conf(), attach('ecu1'));
    await cni('DEL', conf(), attach('ecu2'));
    assert.deepEqual(
      daemon!.service.list().map((bus) => bus.id),
      [NET],
    );
  });

  it('keeps its members over a daemon restart, and drops those whose namespace went meanwhile (and then the bus)', async () => {
    container('ecu1');
    container('ecu2');
    await cni('ADD', conf(), attach('ecu1'));
    await cni('ADD', conf(), attach('ecu2'));
    await daemon!.close();
    await start();
    assert.equal(daemon!.service.byName('powertrain')!.members.length, 2);
    await daemon!.close();
    kernel.destroyForeign('/run/netns/ecu1');
    await start();
    assert.deepEqual(
      daemon!.service.byName('powertrain')!.members.map((m) => m.annotations?.['cni.container']),
      ['ecu2'],
    );
    const id = daemon!.service.byName('powertrain')!.id;
    kernel.destroyForeign('/run/netns/ecu2');
    assert.equal(await daemon!.service.sweepOrphans(), 1);
    assert.equal(daemon!.service.byName('powertrain'), undefined);
    assert.equal(kernel.namespaces.exists(busNamespace(id)), false);
  });

  it('reads the configurations of examples/podman and examples/kubernetes as a runtime hands them over', () => {
    const examples = projectPath('examples');
    const read = (plugin: Record<string, unknown>, list: { cniVersion: string; name: string }): ReturnType<typeof parseNetworkConfig> =>
      parseNetworkConfig(JSON.stringify({ ...plugin, cniVersion: list.cniVersion, name: list.name }), {});
    const podman = readdirSync(join(examples, 'podman'))
      .filter((file) => file.endsWith('.conflist'))
      .sort();
    const parsed = podman.map((file) => {
      const list = JSON.parse(readFileSync(join(examples, 'podman', file), 'utf8')) as {
        cniVersion: string;
        name: string;
        plugins: Array<Record<string, unknown>>;
      };
      return read(list.plugins[0]!, list);
    });
    assert.deepEqual(
      parsed.map((config) => [config.name, config.bus, config.fd]),
      [
        ['body', 'body', true],
        ['powertrain', 'powertrain', undefined],
      ],
    );
    // The NetworkAttachmentDefinition's spec.config: the JSON block under "config: |".
    const yaml = readFileSync(join(examples, 'kubernetes', 'powertrain.yaml'), 'utf8');
    const block = /config: \|\n((?: {4}.*\n)+)/u.exec(yaml)?.[1] ?? '';
    const nad = JSON.parse(block) as { cniVersion: string; name: string };
    assert.deepEqual(read(nad as unknown as Record<string, unknown>, nad), {
      cniVersion: '1.0.0',
      name: 'powertrain',
      bus: 'powertrain',
      fd: false,
    });
    const cniArgs = /"cni-args": (\{[^}]*\})/u.exec(yaml)?.[1] ?? '';
    assert.deepEqual(read({ ...nad, args: { cni: JSON.parse(cniArgs) as unknown } }, nad).send, ['7E8/7F8']);
  });
});
