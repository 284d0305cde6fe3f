// The Docker driver with a real dockerd and a real kernel: networks created with `docker network create -d
// cantainer`, containers that send with can-utils' cansend, and sockets opened in each container's namespace that
// count what arrives: every frame once, in order, never back to its sender, never on another bus.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { classicFrame, fdFrame, type CanFrame } from '../../src/can/frame.js';
import { systemKernel, type CanSocketPort } from '../../src/kernel/index.js';
import { cansend, containerSocket, ensureDockerWithImages, sh, startCantainerDaemon, waitFor, type RunningDaemon } from '../support/lab.js';

const QUIET_MS = 400;
const kernel = systemKernel();

const listen = containerSocket;

async function collect(sockets: Record<string, CanSocketPort>): Promise<Record<string, CanFrame[]>> {
  const names = Object.keys(sockets);
  const received = await Promise.all(names.map((name) => sockets[name]?.receiveAll(QUIET_MS) ?? Promise.resolve([])));
  return Object.fromEntries(names.map((name, i) => [name, received[i] ?? []]));
}

function closeAll(sockets: Record<string, CanSocketPort>): void {
  for (const socket of Object.values(sockets)) socket.close();
}

const links = (container: string): string => sh(`docker exec ${container} ip -o link`);

describe('Docker driver with a real dockerd', () => {
  let daemon: RunningDaemon;

  before(async () => {
    ensureDockerWithImages();
    daemon = await startCantainerDaemon(['--state-dir', '/run/cantainer-e2e/state']);
    sh(
      'docker network create -d cantainer --ipam-driver null powertrain && docker network create -d cantainer --ipam-driver null -o fd=true -o host_if=dcan0 body',
      60_000,
    );
    for (const ecu of ['ecu1', 'ecu2', 'ecu3']) sh(`docker run -d --name ${ecu} --network powertrain lab/canutils sleep 3600`, 120_000);
    sh('docker network connect body ecu3', 60_000);
  });

  after(async () => {
    sh('docker rm -f ecu1 ecu2 ecu3 >/dev/null 2>&1; docker network rm powertrain body plainnet ipamnet >/dev/null 2>&1; true', 120_000);
    await daemon.stop();
  });

  it('gives each container a CAN interface of the bus MTU: can0, and can1 on a second network', () => {
    // busybox ip: "4: can0@if3: <NOARP,UP,LOWER_UP,M-DOWN> mtu 16 qdisc noqueue qlen 1000\    link/[280]" (280: ARPHRD_CAN)
    assert.match(links('ecu1'), /can0@if\d+: <[^>]*\bUP\b[^>]*> mtu 16 .*link\/\[280\]/u);
    assert.doesNotMatch(links('ecu1'), /docker_gwbridge|eth0/u, 'no gateway interface on a CAN-only container');
    assert.match(links('ecu3'), /can0@if\d+: .* mtu 16 /u);
    assert.match(links('ecu3'), /can1@if\d+: .* mtu 72 /u);
  });

  it('delivers every frame to every other member once, in order; never to the sender; never to the other bus', async () => {
    const sockets = {
      ecu1: listen('ecu1', 'can0'),
      ecu2: listen('ecu2', 'can0'),
      ecu3: listen('ecu3', 'can0'),
      ecu3body: listen('ecu3', 'can1'),
    };
    const dcan0 = kernel.canSocket('dcan0', { fd: true });
    try {
      cansend('ecu1', 'can0', ['101#01', '102#0102', '103#010203']);
      cansend('ecu2', 'can0', ['201#02', '202#0202']);
      cansend('ecu3', 'can0', ['301#03']);
      const got = await collect(sockets);
      // A listener on the sender's own interface sees the sender's frames once by local loopback, as on a real
      // controller; an echo from the bus would make that twice. So every listener sees every frame exactly once.
      const ids = (frames: CanFrame[]): number[] => frames.map((frame) => frame.id);
      const all = [0x101, 0x102, 0x103, 0x201, 0x202, 0x301];
      assert.deepEqual(ids(got.ecu1 ?? []), all);
      assert.deepEqual(ids(got.ecu2 ?? []), all);
      assert.deepEqual(ids(got.ecu3 ?? []), all);
      assert.deepEqual(got.ecu3body, [], 'nothing crossed to the other bus');
      assert.deepEqual(await dcan0.receiveAll(QUIET_MS), [], 'nor to its host interface');
      assert.deepEqual(got.ecu2?.[0], classicFrame({ id: 0x101, data: [1] }), 'frames arrive intact');
    } finally {
      closeAll(sockets);
      dcan0.close();
    }
  });

  it('carries CAN FD frames intact on an FD bus, to the other member and to host_if, both ways', async () => {
    const ecu3 = listen('ecu3', 'can1');
    const dcan0 = kernel.canSocket('dcan0', { fd: true });
    try {
      cansend('ecu3', 'can1', ['123##1' + '11'.repeat(64), '124##0' + 'aa'.repeat(12), '125#DEADBEEF']);
      assert.deepEqual(await dcan0.receiveAll(QUIET_MS), [
        fdFrame({ id: 0x123, brs: true, data: new Uint8Array(64).fill(0x11) }),
        fdFrame({ id: 0x124, data: new Uint8Array(12).fill(0xaa) }),
        classicFrame({ id: 0x125, data: [0xde, 0xad, 0xbe, 0xef] }),
      ]);
      assert.equal((await ecu3.receiveAll(QUIET_MS)).length, 3, "the sender's own frames, by local loopback, once");
      dcan0.send(fdFrame({ id: 0x7e0, data: new Uint8Array(20).fill(5) }));
      assert.deepEqual(await ecu3.receiveAll(QUIET_MS), [fdFrame({ id: 0x7e0, data: new Uint8Array(20).fill(5) })]);
      assert.deepEqual(await dcan0.receiveAll(QUIET_MS), [], 'and never back to its sender');
    } finally {
      ecu3.close();
      dcan0.close();
    }
  });

  it('connects and disconnects a running container: can1 appears, carries the bus, and goes with nothing left', async () => {
    sh('docker network connect body ecu1', 60_000);
    assert.match(links('ecu1'), /can1@if\d+: .* mtu 72 /u);
    const ecu1 = listen('ecu1', 'can1');
    try {
      cansend('ecu3', 'can1', ['5A5#5A']);
      assert.deepEqual(await ecu1.receiveAll(QUIET_MS), [classicFrame({ id: 0x5a5, data: [0x5a] })]);
    } finally {
      ecu1.close();
    }
    const hostEndsBefore = sh(
      'ls /run/cantainer/netns | while read ns; do nsenter --net=/run/cantainer/netns/$ns ip -o link show type vxcan; done | wc -l',
    ).trim();
    sh('docker network disconnect body ecu1', 60_000);
    assert.doesNotMatch(links('ecu1'), /can1/u);
    const hostEndsAfter = sh(
      'ls /run/cantainer/netns | while read ns; do nsenter --net=/run/cantainer/netns/$ns ip -o link show type vxcan; done | wc -l',
    ).trim();
    assert.equal(Number(hostEndsAfter), Number(hostEndsBefore) - 1, 'the member is gone from the bus namespace');
    assert.equal(sh('ip -o link show type vxcan | grep -c " cx" || true').trim(), '0', 'no member end is left on the host');
  });

  it('keeps a stopped and started container on its bus: a new endpoint replaces the old one', async () => {
    sh('docker stop -t 1 ecu2 && docker start ecu2', 120_000);
    const sockets = { ecu1: listen('ecu1', 'can0'), ecu2: listen('ecu2', 'can0') };
    try {
      cansend('ecu2', 'can0', ['222#22']);
      cansend('ecu1', 'can0', ['111#11']);
      const got = await collect(sockets);
      const both = [classicFrame({ id: 0x222, data: [0x22] }), classicFrame({ id: 0x111, data: [0x11] })];
      assert.deepEqual(got.ecu1, both);
      assert.deepEqual(got.ecu2, both);
    } finally {
      closeAll(sockets);
    }
    const state = JSON.parse(readFileSync('/run/cantainer-e2e/state/state.json', 'utf8')) as {
      buses: Array<{ fd: boolean; members: unknown[] }>;
    };
    assert.deepEqual(state.buses.map((bus) => bus.members.length).sort(), [2, 3], 'powertrain: 3 containers; body: ecu3 and host_if');
  });

  it('stops and starts a container on two CAN networks: both interfaces come back and carry their buses (moby#51578)', async () => {
    sh('docker stop -t 1 ecu3 && docker start ecu3', 120_000);
    assert.match(links('ecu3'), /can\d@if\d+: .* mtu 16 /u);
    assert.match(links('ecu3'), /can\d@if\d+: .* mtu 72 /u);
    const name = (mtu: number): string => new RegExp(`(can\\d)@if\\d+: [^\\n]* mtu ${mtu} `, 'u').exec(links('ecu3'))?.[1] ?? '?';
    const classic = listen('ecu3', name(16));
    const fd = listen('ecu3', name(72));
    const dcan0 = kernel.canSocket('dcan0', { fd: true });
    try {
      cansend('ecu1', 'can0', ['0E1#01']);
      dcan0.send(fdFrame({ id: 0x0e2, data: new Uint8Array(12).fill(2) }));
      assert.deepEqual(await classic.receiveAll(QUIET_MS), [classicFrame({ id: 0x0e1, data: [1] })]);
      assert.deepEqual(await fd.receiveAll(QUIET_MS), [fdFrame({ id: 0x0e2, data: new Uint8Array(12).fill(2) })]);
    } finally {
      classic.close();
      fd.close();
      dcan0.close();
    }
  });

  it('sits beside an ordinary bridge network: a container has eth0 and can0', () => {
    sh('docker network create plainnet && docker network connect plainnet ecu1', 60_000);
    const ecu1 = links('ecu1');
    assert.match(ecu1, /eth0@/u);
    assert.match(ecu1, /can0@if/u);
  });

  it('works without --ipam-driver null too, and logs a hint', () => {
    sh('docker network create -d cantainer ipamnet && docker network connect ipamnet ecu2', 60_000);
    assert.match(links('ecu2'), /can1@if\d+: .* mtu 16 /u);
    assert.match(readFileSync(daemon.logPath, 'utf8'), /--ipam-driver null/u);
    sh('docker network disconnect ipamnet ecu2 && docker network rm ipamnet', 60_000);
  });

  it('leaves the buses running when the daemon stops, and serves them again when it starts', async () => {
    await daemon.stop();
    try {
      const sockets = { ecu1: listen('ecu1', 'can0'), ecu2: listen('ecu2', 'can0') };
      try {
        cansend('ecu1', 'can0', ['0AA#AA']);
        const got = await collect(sockets);
        assert.deepEqual(got.ecu2, [classicFrame({ id: 0xaa, data: [0xaa] })], 'frames flow with no daemon running');
      } finally {
        closeAll(sockets);
      }
    } finally {
      daemon = await startCantainerDaemon(['--state-dir', '/run/cantainer-e2e/state']);
    }
    sh('docker network connect body ecu2', 60_000);
    // Docker numbers interfaces per container and does not reuse the index ipamnet's can1 had.
    assert.match(links('ecu2'), /can\d@if\d+: .* mtu 72 /u);
    sh('docker network disconnect body ecu2', 60_000);
  });

  it('fails docker network create on a bad option with the option, the value and what is allowed', () => {
    const output = sh('docker network create -d cantainer --ipam-driver null -o fd=yes badnet 2>&1; echo "exit $?"');
    assert.match(output, /network option "fd": "yes" is not valid; allowed: "true" or "false"/u);
    assert.match(output, /exit [1-9]/u);
    assert.doesNotMatch(sh('docker network ls --format "{{.Name}}"'), /badnet/u);
  });

  it('leaves nothing after the containers and networks are removed: no namespace, link, rule, mount or state entry', async () => {
    sh('docker rm -f ecu1 ecu2 ecu3 && docker network rm powertrain body plainnet', 120_000);
    await waitFor('the buses to go', () => !existsSync('/run/cantainer/netns') || readdirSync('/run/cantainer/netns').length === 0, 10_000);
    assert.equal(sh('ip -o link show type vxcan | wc -l').trim(), '0');
    assert.doesNotMatch(readFileSync('/proc/self/mountinfo', 'utf8'), /\/run\/cantainer\/netns\//u);
    assert.equal(sh('cangw -L 2>/dev/null | grep -c "cangw -A" || true').trim(), '0');
    const state = JSON.parse(readFileSync('/run/cantainer-e2e/state/state.json', 'utf8')) as { buses: unknown[] };
    assert.deepEqual(state.buses, []);
    assert.doesNotMatch(readFileSync(daemon.logPath, 'utf8'), /"level":"error"/u, 'the daemon logged no error');
  });
});
