// Podman 5 with netavark (Debian trixie's podman 5.4 and netavark 1.14, in the lab booted on a trixie root): the
// netavark plugin installed as `cantainer` in a netavark_plugin_dirs directory. `podman network create -d
// cantainer`, containers on one bus and on two, exact frames, the plugin's errors in podman's messages, and after
// `podman network rm` nothing left.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { classicFrame, fdFrame } from '../../../src/can/frame.js';
import { formatCansend } from '../../../src/can/text.js';
import type { BusDetail } from '../../../src/control/protocol.js';
import { exchangeFrames as exchange, podmanWith, sh, startCantainerDaemon, type RunningDaemon } from '../../support/lab.js';

const DIR = '/run/cantainer-podman5';
const PLUGINS = '/usr/local/lib/netavark-plugins';
const PODMAN = ['--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file'];
const { run: podman, fails: podmanFails, socket: podSocket } = podmanWith(PODMAN);

const run = (name: string, networks: string[]): string =>
  podman(['run', '-d', '--name', name, ...networks.flatMap((network) => ['--network', network]), 'lab/busybox', 'sleep', '3600']);
const busNames = (): string[] => (JSON.parse(sh('node bin/cantainer ls --json')) as Array<{ name: string }>).map((bus) => bus.name).sort();
const interfaces = (container: string): string[] =>
  podman(['exec', container, 'cat', '/proc/net/dev'])
    .split('\n')
    .slice(2)
    .map((line) => line.split(':')[0]?.trim() ?? '')
    .filter((name) => name !== '' && name !== 'lo')
    .sort();

describe('Podman 5 containers on cantainer buses through the netavark plugin', () => {
  let daemon: RunningDaemon | undefined;
  const start = async (): Promise<void> => {
    daemon = await startCantainerDaemon(['--state-dir', `${DIR}/state`, '--netns-dir', `${DIR}/netns`], `${DIR}.log`);
  };

  before(async () => {
    mkdirSync(DIR, { recursive: true });
    mkdirSync(PLUGINS, { recursive: true });
    mkdirSync('/etc/containers', { recursive: true });
    writeFileSync('/etc/containers/containers.conf', `[network]\nnetavark_plugin_dirs = ["${PLUGINS}"]\n`);
    rmSync(join(PLUGINS, 'cantainer'), { force: true });
    symlinkSync(join(process.cwd(), 'bin', 'cantainer-netavark'), join(PLUGINS, 'cantainer'));
    await start();
    sh(
      `root=$(mktemp -d) && mkdir -p $root/bin $root/proc $root/sys $root/dev $root/etc $root/tmp && cp /bin/busybox $root/bin/ && for a in sh sleep cat; do ln -s busybox $root/bin/$a; done && tar -C $root -c . | podman ${PODMAN.join(' ')} import - lab/busybox >/dev/null && rm -rf $root`,
      180_000,
    );
    sh('podman --version >&2; /usr/lib/podman/netavark --version >&2 || true');
  });
  after(async () => {
    sh(
      `podman ${PODMAN.join(' ')} rm -f -t 0 -a >/dev/null 2>&1; podman ${PODMAN.join(' ')} network rm -f powertrain body powertrain-fd >/dev/null 2>&1; true`,
      120_000,
    );
    await daemon?.stop();
  });

  it('creates networks with the driver cantainer, and refuses subnets and unknown options with the reason', () => {
    podman(['network', 'create', '-d', 'cantainer', 'powertrain']);
    podman(['network', 'create', '-d', 'cantainer', '-o', 'fd=true', 'body']);
    podman(['network', 'create', '-d', 'cantainer', '-o', 'bus=powertrain', '-o', 'fd=true', 'powertrain-fd']);
    const listed = podman(['network', 'ls', '--format', '{{.Name}} {{.Driver}}'])
      .split('\n')
      .filter((line) => line.endsWith(' cantainer'))
      .sort();
    assert.deepEqual(listed, ['body cantainer', 'powertrain cantainer', 'powertrain-fd cantainer']);
    assert.match(
      podmanFails(['network', 'create', '-d', 'cantainer', '--subnet', '10.9.0.0/24', 'bad']),
      /a CAN bus has no IP addresses: create it without --subnet/u,
    );
    assert.match(
      podmanFails(['network', 'create', '-d', 'cantainer', '-o', 'termination=120', 'bad']),
      /network option "termination" \(value "120"\) is not supported; allowed: bus, fd, bitrate, dbitrate/u,
    );
    // No bus yet: buses come with their first container.
    assert.deepEqual(busNames(), []);
  });

  // Podman keeps a container's networks in a map: which of two gets eth0 (here can0) is its choice, not the order of
  // the --network flags (podman#12850). Which interface is on which bus is read from the daemon.
  it('puts containers on buses: can0 and can1 on a container of two; every frame once, in order, only on its bus', async () => {
    run('p1', ['powertrain']);
    run('p2', ['powertrain']);
    run('p3', ['powertrain', 'body']);
    run('p4', ['body:interface_name=obd0']);
    assert.deepEqual(interfaces('p3'), ['can0', 'can1']);
    assert.deepEqual(interfaces('p4'), ['obd0']);
    assert.deepEqual(busNames(), ['body', 'powertrain']);
    const p3On = (bus: string): string => {
      const detail = JSON.parse(sh(`node bin/cantainer inspect ${bus} --json`)) as BusDetail;
      const found = detail.members.find((member) => member.container === 'p3')?.interface;
      assert.ok(found !== undefined, `p3 has no interface on ${bus}`);
      return found;
    };
    const [p3Powertrain, p3Body] = [p3On('powertrain'), p3On('body')];
    assert.deepEqual([p3Powertrain, p3Body].sort(), ['can0', 'can1']);
    const classic = Array.from({ length: 100 }, (_, i) => classicFrame({ id: 0x300 + i, data: [i] }));
    const sent = classic.map(formatCansend);
    assert.deepEqual(
      await exchange(
        podSocket('p1', 'can0'),
        {
          p2: podSocket('p2', 'can0'),
          p3: podSocket('p3', p3Powertrain),
          'p3 body': podSocket('p3', p3Body),
          p4: podSocket('p4', 'obd0'),
        },
        classic,
      ),
      { p2: sent, p3: sent, 'p3 body': [], p4: [] },
    );
    const fd = [fdFrame({ id: 0x18daf110, data: Array.from({ length: 64 }, (_, i) => 255 - i) })];
    assert.deepEqual(await exchange(podSocket('p4', 'obd0'), { p3: podSocket('p3', p3Body), p1: podSocket('p1', 'can0') }, fd), {
      p3: fd.map(formatCansend),
      p1: [],
    });
  });

  it("brings the plugin's errors into podman run's message, and makes nothing", async () => {
    assert.match(
      podmanFails(['run', '--rm', '--network', 'powertrain-fd', 'lab/busybox', 'true']),
      /bus powertrain carries classic CAN frames, and this member asks for CAN FD/u,
    );
    await daemon?.stop();
    daemon = undefined;
    assert.match(
      podmanFails(['run', '--rm', '--network', 'body', 'lab/busybox', 'true']),
      /cannot reach the cantainer daemon at \/run\/cantainer\/control\.sock .*start it/u,
    );
    await start();
    const body = JSON.parse(sh('node bin/cantainer inspect body --json')) as { members: unknown[] };
    assert.equal(body.members.length, 2);
  });

  it('stopping and removing the containers and the networks leaves nothing', () => {
    podman(['stop', '-t', '0', 'p1']);
    const powertrain = JSON.parse(sh('node bin/cantainer inspect powertrain --json')) as { members: unknown[] };
    assert.equal(powertrain.members.length, 2);
    podman(['rm', '-f', '-t', '0', 'p1', 'p2', 'p3', 'p4']);
    podman(['network', 'rm', 'powertrain', 'body', 'powertrain-fd']);
    assert.deepEqual(busNames(), []);
    assert.deepEqual(readdirSync(`${DIR}/netns`), []);
    assert.deepEqual((JSON.parse(readFileSync(`${DIR}/state/state.json`, 'utf8')) as { buses: unknown[] }).buses, []);
  });
});
