// Podman 4.3 with its CNI backend (Debian bookworm's podman and containernetworking-plugins) running containers on
// cantainer buses: the plugin installed as a link named `cantainer` in /opt/cni/bin, one conflist per network.
// Containers on one bus hear each other exactly once, one container sits on two buses, the plugin's errors reach
// `podman run`'s message, and removing the containers leaves nothing. Then the same bus across front doors: a
// Docker container and a Podman container on the bus `powertrain`, still talking after the daemon restarts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { classicFrame, fdFrame } from '../../src/can/frame.js';
import { formatCansend } from '../../src/can/text.js';
import {
  containerSocket,
  ensureDockerWithImages,
  exchangeFrames as exchange,
  podmanWith,
  sh,
  startCantainerDaemon,
  type RunningDaemon,
} from '../support/lab.js';

const DIR = '/run/cantainer-podman';
const CONTROL = `${DIR}/control.sock`;
const NET_D = '/etc/cni/net.d';
const PODMAN = [
  '--root',
  `${DIR}/root`,
  '--runroot',
  `${DIR}/runroot`,
  '--storage-driver',
  'vfs',
  '--network-backend',
  'cni',
  '--cgroup-manager',
  'cgroupfs',
  '--events-backend',
  'file',
];
const { run: podman, fails: podmanFails, socket: podSocket } = podmanWith(PODMAN);

function conflist(name: string, plugin: Record<string, unknown>): void {
  writeFileSync(
    join(NET_D, `${name}.conflist`),
    JSON.stringify({ cniVersion: '1.0.0', name, plugins: [{ type: 'cantainer', controlSocket: CONTROL, ...plugin }] }),
  );
}

const run = (name: string, networks: string[]): string =>
  podman(['run', '-d', '--name', name, ...networks.flatMap((network) => ['--network', network]), 'lab/canutils', 'sleep', '3600']);
const busNames = (): string[] =>
  (JSON.parse(sh(`node bin/cantainer ls --json --control-socket ${CONTROL}`)) as Array<{ name: string }>).map((bus) => bus.name).sort();

describe('Podman 4.3 containers on cantainer buses through the CNI plugin', () => {
  let daemon: RunningDaemon | undefined;
  const start = async (): Promise<void> => {
    daemon = await startCantainerDaemon(
      ['--control-socket', CONTROL, '--state-dir', `${DIR}/state`, '--netns-dir', `${DIR}/netns`],
      `${DIR}.log`,
    );
  };

  before(async () => {
    mkdirSync(NET_D, { recursive: true });
    mkdirSync('/opt/cni/bin', { recursive: true });
    rmSync('/opt/cni/bin/cantainer', { force: true });
    // The whole install: a link named cantainer in the CNI bin directory.
    symlinkSync(join(process.cwd(), 'bin', 'cantainer'), '/opt/cni/bin/cantainer');
    conflist('powertrain', {});
    conflist('body', { fd: true });
    await start();
    sh(
      `. lab/guest/docker.sh && root=$(mktemp -d) && mkdir -p $root/bin $root/proc $root/sys $root/dev $root/etc $root/tmp && cp /bin/busybox $root/bin/ && ln -s busybox $root/bin/sh && ln -s busybox $root/bin/sleep && tar -C $root -c . | podman ${PODMAN.join(' ')} import - lab/canutils >/dev/null && rm -rf $root`,
      180_000,
    );
  });
  after(async () => {
    sh(
      `podman ${PODMAN.join(' ')} rm -f -t 0 -a >/dev/null 2>&1; docker rm -f d1 >/dev/null 2>&1; docker network rm powertrain >/dev/null 2>&1; true`,
      120_000,
    );
    await daemon?.stop();
    for (const name of ['powertrain', 'body', 'bad-ipam', 'powertrain-fd']) rmSync(join(NET_D, `${name}.conflist`), { force: true });
  });

  it('lists the conflists as cantainer networks', () => {
    const networks = podman(['network', 'ls', '--format', '{{.Name}} {{.Driver}}'])
      .split('\n')
      .filter((line) => line !== '')
      .sort();
    assert.deepEqual(
      networks.filter((line) => line.endsWith(' cantainer')),
      ['body cantainer', 'powertrain cantainer'],
    );
  });

  it('two containers on powertrain and one on powertrain and body: every frame once, in order, only on its bus', async () => {
    run('p1', ['powertrain:interface_name=can0']);
    run('p2', ['powertrain:interface_name=can0']);
    run('p3', ['powertrain:interface_name=can0', 'body:interface_name=can1']);
    run('p4', ['body:interface_name=can0']);
    assert.deepEqual(busNames(), ['body', 'powertrain']);
    const classic = Array.from({ length: 100 }, (_, i) => classicFrame({ id: 0x200 + i, data: [i, 0xaa] }));
    const sent = classic.map(formatCansend);
    assert.deepEqual(
      await exchange(
        podSocket('p1', 'can0'),
        { p2: podSocket('p2', 'can0'), p3: podSocket('p3', 'can0'), 'p3 can1': podSocket('p3', 'can1'), p4: podSocket('p4', 'can0') },
        classic,
      ),
      { p2: sent, p3: sent, 'p3 can1': [], p4: [] },
    );
    const fd = [
      fdFrame({ id: 0x18daf110, data: Array.from({ length: 48 }, (_, i) => i) }),
      classicFrame({ id: 0x7e8, data: [3, 0x41, 0x0d, 0x32] }),
    ];
    assert.deepEqual(
      await exchange(
        podSocket('p4', 'can0'),
        { p3: podSocket('p3', 'can1'), 'p3 can0': podSocket('p3', 'can0'), p1: podSocket('p1', 'can0') },
        fd,
      ),
      { p3: fd.map(formatCansend), 'p3 can0': [], p1: [] },
    );
  });

  it("brings the plugin's errors into podman run's message, and makes nothing", () => {
    conflist('bad-ipam', { ipam: { type: 'host-local', subnet: '10.9.0.0/24' } });
    const message = podmanFails(['run', '--rm', '--network', 'bad-ipam:interface_name=can0', 'lab/canutils', 'true']);
    assert.match(message, /unsupported field "ipam"/u);
    // The second network fails: podman undoes the first, and the buses keep only what they had.
    conflist('powertrain-fd', { bus: 'powertrain', fd: true });
    const clash = podmanFails([
      'run',
      '--rm',
      '--network',
      'body:interface_name=can0',
      '--network',
      'powertrain-fd:interface_name=can1',
      'lab/canutils',
      'true',
    ]);
    assert.match(clash, /bus powertrain carries classic CAN frames, and this member asks for CAN FD/u);
    const body = JSON.parse(sh(`node bin/cantainer inspect body --json --control-socket ${CONTROL}`)) as { members: unknown[] };
    assert.equal(body.members.length, 2);
    assert.deepEqual(busNames(), ['body', 'powertrain']);
    const powertrain = JSON.parse(sh(`node bin/cantainer inspect powertrain --json --control-socket ${CONTROL}`)) as { members: unknown[] };
    assert.equal(powertrain.members.length, 3);
  });

  it('removing the containers removes the buses: no namespace, no state entry', () => {
    podman(['rm', '-f', '-t', '0', 'p1', 'p2', 'p3', 'p4']);
    assert.deepEqual(busNames(), []);
    assert.deepEqual(readdirSync(`${DIR}/netns`), []);
    assert.deepEqual((JSON.parse(readFileSync(`${DIR}/state/state.json`, 'utf8')) as { buses: unknown[] }).buses, []);
  });

  it('a Docker container and a Podman container on one bus: frames both ways, exact, also after the daemon restarts', async () => {
    ensureDockerWithImages();
    sh('docker network create -d cantainer --ipam-driver null powertrain', 60_000);
    sh('docker run -d --name d1 --network powertrain lab/canutils sleep 3600', 120_000);
    run('p1', ['powertrain:interface_name=can0']);
    assert.deepEqual(busNames(), ['powertrain']);
    const check = async (): Promise<void> => {
      const there = [classicFrame({ id: 0x123, data: [1] }), classicFrame({ id: 0x124, data: [2] })];
      assert.deepEqual(await exchange(containerSocket('d1', 'can0'), { p1: podSocket('p1', 'can0') }, there), {
        p1: there.map(formatCansend),
      });
      const back = [classicFrame({ id: 0x7e0, data: [9, 8, 7] })];
      assert.deepEqual(await exchange(podSocket('p1', 'can0'), { d1: containerSocket('d1', 'can0') }, back), {
        d1: back.map(formatCansend),
      });
    };
    await check();
    await daemon?.stop();
    await start();
    await check();
    podman(['rm', '-f', '-t', '0', 'p1']);
    // The bus is Docker's: it stays for d1.
    assert.deepEqual(busNames(), ['powertrain']);
    sh('docker rm -f d1 >/dev/null && docker network rm powertrain >/dev/null', 120_000);
    assert.deepEqual(busNames(), []);
  });
});
