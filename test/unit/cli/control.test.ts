// The `cantainer` commands against a daemon with the in-memory kernel: ls, inspect, gateway, uplink over the
// control socket, network options declaring gateways and uplinks, and bus names learnt from Docker's API (here a
// lookup table standing in for it).
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryLogger } from '../../../src/log.js';
import { startDaemon, type Daemon } from '../../../src/daemon/daemon.js';
import { main, type CliIo } from '../../../src/cli/main.js';
import type { DockerNetwork } from '../../../src/docker/names.js';
import { FakeKernel } from '../../support/fake-kernel.js';
import { dockerRequests as d, post } from '../../support/plugin-client.js';
import { waitFor } from '../../support/helpers.js';
import { busNamespace } from '../../../src/bus/plan.js';

const NET_A = 'a'.repeat(64);
const NET_B = 'b'.repeat(64);
const NET_C = 'c'.repeat(64);

describe('the cantainer commands, through the control socket', () => {
  let dir: string;
  let control: string;
  let plugin: string;
  let daemon: Daemon;
  let kernel: FakeKernel;
  let log: ReturnType<typeof memoryLogger>;
  const networks = new Map<string, DockerNetwork>();
  const run = async (...argv: string[]): Promise<{ code: number; out: string; err: string }> => {
    let out = '';
    let err = '';
    const io: CliIo = { out: (text) => (out += text), err: (text) => (err += text) };
    const code = await main([...argv, '--control-socket', control], io);
    return { code, out, err };
  };
  const createNetwork = async (
    id: string,
    name: string,
    generic: Record<string, string> = {},
    labels: Record<string, string> = {},
  ): Promise<void> => {
    const answer = await post(plugin, '/NetworkDriver.CreateNetwork', d.createNetwork(id, generic));
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    networks.set(id, { name, labels });
    networks.set(name, { name, labels });
    await waitFor(`bus ${name} named`, () => daemon.service.get(id)?.name === name);
  };

  const start = (options: { hostNetnsDir?: string } = {}): Promise<Daemon> =>
    startDaemon({
      kernel,
      socketPath: plugin,
      controlSocketPath: control,
      stateDir: join(dir, 'state'),
      log,
      networkLookup: (key) => Promise.resolve(networks.get(key)),
      ...options,
    });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cantainer-cli-gw-'));
    control = join(dir, 'control.sock');
    plugin = join(dir, 'plugin.sock');
    networks.clear();
    kernel = new FakeKernel();
    log = memoryLogger();
    daemon = await start();
  });
  afterEach(async () => {
    await daemon.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers with the host's path of a bus's namespace when the daemon sees the host elsewhere (a managed plugin)", async () => {
    await createNetwork(NET_A, 'powertrain');
    const listed = await run('ls', '--json');
    assert.equal(listed.err, '');
    const seen = JSON.parse(listed.out) as Array<{ namespace: string }>;
    assert.ok(seen[0]?.namespace.startsWith(`${kernel.namespaces.path('x').replace(/\/x$/u, '')}/`), seen[0]?.namespace);
    await daemon.close();
    daemon = await start({ hostNetnsDir: '/run/cantainer/netns' });
    const named = seen[0]?.namespace.split('/').pop() ?? '';
    const again = await run('ls', '--json');
    assert.equal(again.err, '');
    assert.deepEqual(
      (JSON.parse(again.out) as Array<{ namespace: string }>).map((bus) => bus.namespace),
      [`/run/cantainer/netns/${named}`],
    );
    assert.equal(
      (JSON.parse((await run('inspect', '--json', 'powertrain')).out) as { namespace: string }).namespace,
      `/run/cantainer/netns/${named}`,
    );
  });

  it('adds, lists and removes a gateway between buses named by their network names', async () => {
    await createNetwork(NET_A, 'powertrain');
    await createNetwork(NET_B, 'body');
    assert.equal(statSync(control).mode & 0o777, 0o600);
    const added = await run('gateway', 'add', 'powertrain', 'body', '--both', '--accept', '7df', '--reject', '7E8', '--set', 'id=123');
    assert.deepEqual(added, { code: 0, out: 'gateway powertrain <-> body: wired\n', err: '' });
    const listed = await run('gateway', 'ls');
    assert.equal(
      listed.out,
      'GATEWAY              STATE  SETTINGS                                        DECLARED BY\npowertrain <-> body  wired  --accept 7DF/7FF --reject 7E8/7FF --set id=123  -\n',
    );
    const json = JSON.parse((await run('gateway', 'ls', '--json')).out) as Array<Record<string, unknown>>;
    assert.deepEqual(json, [
      {
        source: 'powertrain',
        destination: 'body',
        both: true,
        accept: ['7DF/7FF'],
        reject: ['7E8/7FF'],
        edits: [{ operation: 'set', field: 'id', value: '123' }],
        state: 'wired',
      },
    ]);
    assert.deepEqual(await run('gateway', 'rm', 'body', 'powertrain'), {
      code: 0,
      out: 'gateway powertrain <-> body removed: both ways\n',
      err: '',
    });
    assert.equal((await run('gateway', 'ls')).out, 'GATEWAY  STATE  SETTINGS  DECLARED BY\n');
  });

  it('refuses a gateway to a bus that does not exist, naming those that do; with --wait it waits, then is wired when the network is created', async () => {
    await createNetwork(NET_A, 'powertrain');
    await createNetwork(NET_C, 'chassis');
    assert.deepEqual(await run('gateway', 'add', 'powertrain', 'body'), {
      code: 1,
      out: '',
      err: 'cantainer: no bus named body: the buses are chassis, powertrain (hint: buses are named by their network names; gateway add --wait adds the gateway now and wires it when the bus is created)\n',
    });
    assert.equal((await run('gateway', 'ls')).out, 'GATEWAY  STATE  SETTINGS  DECLARED BY\n', 'nothing was kept');
    assert.equal(
      (await run('gateway', 'add', 'powertrain', 'body', '--wait')).out,
      'gateway powertrain -> body: waiting (waiting for body)\n',
    );
    await createNetwork(NET_B, 'body');
    assert.match((await run('gateway', 'ls')).out, /powertrain -> body {2}wired {2}every frame/u);
  });

  it('takes a gateway naming a network Docker has just created, before the daemon learnt its name by itself', async () => {
    await createNetwork(NET_A, 'powertrain');
    // Docker does not know the name yet when the driver first asks; it does by the time the gateway is added.
    const answer = await post(plugin, '/NetworkDriver.CreateNetwork', d.createNetwork(NET_B, {}));
    assert.equal(answer.status, 200);
    await new Promise((resolve) => setTimeout(resolve, 20));
    networks.set(NET_B, { name: 'body', labels: {} });
    assert.equal(daemon.service.byName('body'), undefined, 'not learnt by itself yet');
    assert.equal((await run('gateway', 'add', 'powertrain', 'body')).out, 'gateway powertrain -> body: wired\n');
  });

  it('refuses bad input with the field, the value and what is allowed, and an exit status of 1', async () => {
    await createNetwork(NET_A, 'a');
    const bad = await run('gateway', 'add', 'a', 'b', '--accept', '800');
    assert.equal(bad.code, 1);
    assert.match(bad.err, /^cantainer: --accept: "800" is not valid; allowed: ID or ID\/MASK in hex/u);
    assert.match(
      (await run('gateway', 'add', 'a', 'b', '--set', 'colour=red')).err,
      /--set: "colour=red" is not valid; allowed: FIELD=VALUE/u,
    );
    assert.match((await run('gateway', 'add', 'a', 'a')).err, /destination: "a" is not valid; allowed: another bus than the source/u);
    const missing = await run('gateway', 'rm', 'a', 'b');
    assert.deepEqual(
      [missing.code, missing.err],
      [1, 'cantainer: no gateway from a to b (hint: cantainer gateway ls lists the gateways)\n'],
    );
    await run('gateway', 'add', 'a', 'b', '--wait');
    await run('gateway', 'add', 'b', 'c', '--wait');
    const cycle = await run('gateway', 'add', 'c', 'a', '--wait');
    assert.match(cycle.err, /would close a cycle: c -> b -> a -> c/u);
    assert.equal((JSON.parse((await run('gateway', 'ls', '--json')).out) as unknown[]).length, 2);
  });

  it('says how to start the daemon when its socket is not there', async () => {
    let err = '';
    const code = await main(['gateway', 'ls', '--control-socket', join(dir, 'nothing.sock')], {
      out: () => undefined,
      err: (text) => (err += text),
    });
    assert.equal(code, 1);
    assert.match(err, /cannot reach the cantainer daemon at .*nothing\.sock \(ENOENT\)\nhint: start the daemon/u);
  });

  it('takes gateways from a network option, naming other networks of a compose project by their keys', async () => {
    const compose = { 'com.docker.compose.project': 'vehicle', 'com.docker.compose.network': 'body' };
    await createNetwork(NET_B, 'vehicle_body', { gateway: 'powertrain --both --accept 7DF', 'gateway.dash': 'dash' }, compose);
    await waitFor('declared gateways qualified', () =>
      daemon.service.gateways().every((view) => view.gateway.destination.startsWith('vehicle_')),
    );
    await createNetwork(NET_A, 'vehicle_powertrain', {}, { ...compose, 'com.docker.compose.network': 'powertrain' });
    const listed = JSON.parse((await run('gateway', 'ls', '--json')).out) as Array<Record<string, unknown>>;
    assert.deepEqual(
      listed.map((entry) => [entry.source, entry.destination, entry.state, entry.declaredBy]),
      [
        ['vehicle_body', 'vehicle_powertrain', 'wired', 'vehicle_body'],
        ['vehicle_body', 'vehicle_dash', 'waiting', 'vehicle_body'],
      ],
    );
    const refused = await run('gateway', 'rm', 'vehicle_body', 'vehicle_powertrain');
    assert.match(refused.err, /part of bus vehicle_body's settings/u);
    const bad = await post(plugin, '/NetworkDriver.CreateNetwork', d.createNetwork('c'.repeat(64), { gateway: 'x --accept nope' }));
    assert.equal(bad.status, 400);
    assert.match(String(bad.body.Err), /network option "gateway": --accept: "nope" is not valid/u);
    assert.equal(daemon.service.get('c'.repeat(64)), undefined);
    await post(plugin, '/NetworkDriver.DeleteNetwork', d.network(NET_B));
    assert.deepEqual(daemon.service.gateways(), []);
  });

  it('joins a host CAN interface with cantainer uplink add|ls|rm, and from the uplink network option', async () => {
    const host = kernel.route();
    host.createVcan({ name: 'vcan0', mtu: 16, up: true });
    host.createVcan({ name: 'vcan1', mtu: 16, up: false });
    host.close();
    await createNetwork(NET_A, 'powertrain');
    assert.deepEqual(await run('uplink', 'add', 'powertrain', 'vcan0', '--direction', 'in', '--accept', '100/700'), {
      code: 0,
      out: 'uplink vcan0 on powertrain: up\n',
      err: '',
    });
    assert.equal(
      (await run('uplink', 'ls')).out,
      'BUS         INTERFACE  DIRECTION  STATE  FILTERS           NOTE\npowertrain  vcan0      in         up     --accept 100/700\n',
    );
    assert.match(
      (await run('uplink', 'add', 'powertrain', 'vcan9')).err,
      /interface: "vcan9" is not valid; allowed: an existing CAN interface/u,
    );
    assert.match(
      (await run('uplink', 'add', 'powertrain', 'vcan0', '--direction', 'sideways')).err,
      /--direction: "sideways" is not valid; allowed: both, in, out/u,
    );
    assert.deepEqual(await run('uplink', 'rm', 'powertrain', 'vcan0'), { code: 0, out: 'uplink vcan0 on powertrain removed\n', err: '' });
    assert.match((await run('uplink', 'rm', 'powertrain', 'vcan0')).err, /bus powertrain has no uplink vcan0/u);
    await createNetwork(NET_B, 'body', { uplink: 'vcan1 --reject 7DF' });
    const listed = JSON.parse((await run('uplink', 'ls', '--json')).out) as Array<Record<string, unknown>>;
    assert.deepEqual(listed, [
      {
        bus: 'body',
        interface: 'vcan1',
        direction: 'both',
        accept: [],
        reject: ['7DF/7FF'],
        state: 'up',
        detail: 'vcan1 is down: frames cross once it is up (ip link set vcan1 up)',
      },
    ]);
    const refused = await post(plugin, '/NetworkDriver.CreateNetwork', d.createNetwork('c'.repeat(64), { uplink: 'vcan8' }));
    assert.match(String(refused.body.Err), /interface: "vcan8" is not valid/u);
  });

  it('lists buses and inspects one: members, rules with counters, gateways, drift (exit status 3 when drifted)', async () => {
    await createNetwork(NET_A, 'powertrain', { fd: 'true' });
    await createNetwork(NET_B, 'body');
    await post(plugin, '/NetworkDriver.CreateEndpoint', d.createEndpoint(NET_A, 'e'.repeat(64), { send: '7E0/7F8' }));
    await run('gateway', 'add', 'powertrain', 'body');
    const ls = await run('ls');
    assert.equal(
      ls.out,
      'NAME        ID            FD   BITRATE  LOAD  MEMBERS  GATEWAYS  UPLINKS  FRAMES  DROPPED  SPAN\npowertrain  aaaaaaaaaaaa  yes  -        -     1        1         0        0       0        -\nbody        bbbbbbbbbbbb  no   -        -     0        1         0        0       0        -\n',
    );
    const json = JSON.parse((await run('ls', '--json')).out) as Array<Record<string, unknown>>;
    assert.deepEqual(
      json.map((b) => [b.name, b.members, b.gateways]),
      [
        ['powertrain', 1, 1],
        ['body', 0, 1],
      ],
    );
    const inspected = JSON.parse((await run('inspect', 'powertrain', '--json')).out) as {
      members: Array<Record<string, unknown>>;
      rules: unknown[];
      drift: unknown[];
      gateways: unknown[];
    };
    assert.deepEqual(
      inspected.members.map((m) => [m.id, m.send]),
      [['e'.repeat(64), ['7E0/7F8']]],
    );
    assert.equal(inspected.gateways.length, 1);
    assert.ok(inspected.rules.length > 0);
    assert.deepEqual(inspected.drift, []);
    const text = await run('inspect', 'powertrain');
    assert.equal(text.code, 0);
    assert.match(text.out, /^bus powertrain {2}\(CAN FD, id a{64}\)\n/u);
    assert.match(text.out, /drift: none/u);
    const route = kernel.route(kernel.owned(busNamespace(NET_A)));
    route.flushRules();
    route.close();
    const drifted = await run('inspect', 'powertrain');
    assert.equal(drifted.code, 3);
    assert.match(drifted.out, /drift \(\d+, repaired by the daemon's next change or restart\):\n {2}create rule /u);
    assert.match((await run('inspect', 'nowhere')).err, /no bus with name nowhere/u);
  });

  it('shows a timed bus in ls and inspect: its bit rates, its load, what it carried and lost', async () => {
    await createNetwork(NET_A, 'chassis', { fd: 'true', bitrate: '500k', dbitrate: '2M' });
    const ls = await run('ls');
    assert.match(ls.out, /^NAME {5}ID {12}FD {3}BITRATE {2}LOAD {2}MEMBERS/u);
    assert.match(ls.out, /\nchassis {2}aaaaaaaaaaaa {2}yes {2}500k {5}0% {4}0 /u);
    const inspected = JSON.parse((await run('inspect', 'chassis', '--json')).out) as { timing: Record<string, unknown> };
    assert.deepEqual(inspected.timing, {
      bitrate: 500000,
      dbitrate: 2000000,
      load: 0,
      frames: 0,
      waiting: 0,
      dropped: { 'bus-full': 0, unwired: 0, fault: 0 },
      inject: 'inject',
    });
    assert.match(
      (await run('inspect', 'chassis')).out,
      /\ntimed bus 500 kbit\/s, data phase 2 Mbit\/s: load 0% over the last 5 s, 0 frames crossed, 0 waiting, dropped for lack of bus time 0, by faults 0, unwired 0\n {2}host tools send on interface inject\n/u,
    );
  });

  it('adds, lists and removes faults: by member id or its first 12 characters, refusing what no fault is', async () => {
    await createNetwork(NET_A, 'powertrain');
    await post(plugin, '/NetworkDriver.CreateEndpoint', d.createEndpoint(NET_A, 'e'.repeat(64)));
    assert.deepEqual(await run('fault', 'add', 'powertrain', '--drop', '10%'), {
      code: 0,
      out: 'fault f1 on powertrain, the whole bus: drop 10%\n',
      err: '',
    });
    const added = await run('fault', 'add', 'powertrain', '--member', 'e'.repeat(12), '--delay', '20', '--jitter', '5', '--for', '30s');
    assert.match(added.out, /^fault f2 on powertrain, e{12}: delay 20 ms ± 5 ms until \d{4}-\d\d-\d\dT/u);
    const ls = await run('fault', 'ls');
    assert.deepEqual(
      ls.out
        .trimEnd()
        .split('\n')
        .map((line) => line.split(/ {2,}/u)),
      [
        ['BUS', 'FAULT', 'WHO', 'WHAT', 'UNTIL'],
        ['powertrain', 'f1', 'the whole bus', 'drop 10%', 'removed'],
        ['powertrain', 'f2', 'e'.repeat(12), 'delay 20 ms ± 5 ms', added.out.replace(/^.* until (\S+)\n$/u, '$1')],
      ],
    );
    assert.match(
      (await run('inspect', 'powertrain')).out,
      /\nfaults \(2\)\n {2}f1 {2}the whole bus: drop 10%\n {2}f2 {2}e{12}: delay 20 ms ± 5 ms until \S+\n/u,
    );
    const listed = JSON.parse((await run('fault', 'ls', '--json')).out) as Array<Record<string, unknown>>;
    assert.deepEqual(
      listed.map((f) => [f.id, f.member, f.drop, f.delayMs, f.jitterMs]),
      [
        ['f1', undefined, 10, undefined, undefined],
        ['f2', 'e'.repeat(64), undefined, 20, 5],
      ],
    );
    assert.match(
      (await run('fault', 'add', 'powertrain', '--member', 'nobody', '--off')).err,
      /--member: "nobody" is not valid; allowed: a member of bus powertrain by its container's name or its id/u,
    );
    assert.match(
      (await run('fault', 'add', 'powertrain', '--drop', 'lots')).err,
      /--drop: "lots" is not valid; allowed: a percentage above 0, up to 100/u,
    );
    assert.match((await run('fault', 'add', 'powertrain', '--drop', '5', '--off')).err, /exactly one of drop, delay and off/u);
    assert.match(
      (await run('fault', 'add', 'powertrain', '--delay', '5', '--for', 'ever')).err,
      /--for: "ever" is not valid; allowed: a duration/u,
    );
    assert.match(
      (await run('fault', 'rm', 'powertrain', 'f7')).err,
      /fault: "f7" is not valid; allowed: a fault of bus powertrain: f1, f2/u,
    );
    assert.equal((await run('fault', 'rm', 'powertrain', 'f1')).out, 'removed fault f1 on powertrain, the whole bus: drop 10%\n');
    assert.match((await run('fault', 'rm', 'powertrain')).out, /^removed fault f2 on powertrain/u);
    assert.equal((await run('fault', 'rm', 'powertrain')).out, 'bus powertrain had no fault\n');
  });

  it('streams lifecycle events as they happen: bus, member, gateway, uplink (cantainer events)', async () => {
    const lines: string[] = [];
    const io: CliIo = { out: (text) => lines.push(text.trimEnd()), err: () => undefined };
    const following = main(['events', '--json', '--count', '6', '--control-socket', control], io);
    await waitFor('the stream to open', () => log.lines.some((line) => line.msg === 'stream opened'));
    await createNetwork(NET_A, 'powertrain');
    await post(plugin, '/NetworkDriver.CreateEndpoint', d.createEndpoint(NET_A, 'e'.repeat(64)));
    await run('gateway', 'add', 'powertrain', 'body', '--wait');
    await createNetwork(NET_B, 'body');
    assert.equal(await following, 0);
    const events = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.deepEqual(
      events.map((e) => [e.type, e.bus ?? e.gateway, e.member ?? e.detail]),
      [
        ['bus-created', NET_A.slice(0, 12), 'classic CAN'],
        ['bus-named', 'powertrain', `was ${NET_A.slice(0, 12)}`],
        ['member-joined', 'powertrain', 'e'.repeat(64)],
        ['gateway-added', 'powertrain -> body', 'waiting'],
        ['bus-created', NET_B.slice(0, 12), 'classic CAN'],
        ['bus-named', 'body', `was ${NET_B.slice(0, 12)}`],
      ],
    );
    assert.ok(events.every((e) => typeof e.time === 'string'));
  });

  it('diagnoses with cantainer doctor (each problem with its fix) and repairs drift with cantainer repair', async () => {
    await createNetwork(NET_A, 'powertrain');
    await post(plugin, '/NetworkDriver.CreateEndpoint', d.createEndpoint(NET_A, 'e'.repeat(64)));
    const route = kernel.route(kernel.owned(busNamespace(NET_A)));
    route.flushRules();
    route.close();
    const doctor = async (): Promise<Array<{ check: string; state: string; detail: string; fix?: string }>> =>
      JSON.parse((await run('doctor', '--json', '--socket', plugin, '--docker-socket', join(dir, 'no-docker.sock'))).out) as Array<{
        check: string;
        state: string;
        detail: string;
        fix?: string;
      }>;
    const before = await doctor();
    assert.deepEqual(
      before.filter((f) => f.check !== 'kernel').map((f) => [f.check, f.state, f.fix]),
      [
        ['daemon', 'ok', undefined],
        ['state', 'ok', undefined],
        ['plugin socket', 'ok', undefined],
        ['docker', 'warn', 'systemctl start docker (or --docker-socket PATH)'],
        ['bus powertrain', 'fail', 'cantainer repair powertrain'],
      ],
    );
    const repaired = await run('repair', 'powertrain');
    assert.match(
      repaired.out,
      /^bus powertrain: 2 changes\n {2}create rule m[0-9a-f]{12}->monitor\n {2}create rule monitor->m[0-9a-f]{12}\n$/u,
    );
    assert.equal((await run('repair', 'powertrain')).out, 'bus powertrain: nothing to repair\n');
    assert.deepEqual((await doctor()).find((f) => f.check === 'bus powertrain')?.state, 'ok');
    let out = '';
    const code = await main(
      ['doctor', '--json', '--control-socket', join(dir, 'none.sock'), '--socket', join(dir, 'none'), '--docker-socket', join(dir, 'none')],
      { out: (text) => (out += text), err: () => undefined },
    );
    assert.equal(code, 1);
    const down = JSON.parse(out) as Array<{ check: string; state: string; fix?: string }>;
    assert.deepEqual(
      down.filter((f) => f.check !== 'kernel').map((f) => [f.check, f.state]),
      [
        ['daemon', 'fail'],
        ['plugin socket', 'fail'],
        ['docker', 'warn'],
      ],
    );
  });
});
