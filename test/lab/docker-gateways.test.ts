// Gateways with a real dockerd: buses named by their Docker network names, joined with `cantainer gateway` over
// the control socket and with the `gateway` network option. Three ECUs on powertrain, one on body: each frame
// reaches every other ECU on both buses exactly once; filters and edits apply to what crosses; after `gateway rm`
// nothing crosses; a chain through a third bus declared by its network option works at can_gw's default max_hops.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import type { CanFrame } from '../../src/can/frame.js';
import { systemKernel, type CanSocketPort } from '../../src/kernel/index.js';
import { cansend, containerSocket, ensureDockerWithImages, sh, startCantainerDaemon, waitFor, type RunningDaemon } from '../support/lab.js';

const QUIET_MS = 400;
const CONTROL = '/run/cantainer-gw/control.sock';
const NETNS_DIR = '/run/cantainer-gw/netns';
const ECUS = { ecu1: 'powertrain', ecu2: 'powertrain', ecu3: 'powertrain', ecu4: 'body' } as const;

const cantainer = (args: string): string => sh(`node bin/cantainer ${args} --control-socket ${CONTROL}`, 60_000);

interface Entry {
  source: string;
  destination: string;
  state: string;
  declaredBy?: string;
}
const gateways = (): Entry[] => JSON.parse(cantainer('gateway ls --json')) as Entry[];

describe('gateways, uplinks and member filters with a real dockerd', () => {
  let daemon: RunningDaemon;
  const sockets = new Map<string, CanSocketPort>();
  const listener = (container: string): CanSocketPort => {
    let socket = sockets.get(container);
    if (socket === undefined) {
      socket = containerSocket(container, 'can0', false);
      sockets.set(container, socket);
    }
    return socket;
  };
  /** Sends from one container; returns the frames (as cansend text) every listed container received. */
  const exchange = async (from: string, frames: string[], listeners: readonly string[]): Promise<Record<string, string[]>> => {
    await Promise.all(listeners.map((name) => listener(name).receiveAll(50)));
    cansend(from, 'can0', frames);
    const received = await Promise.all(listeners.map((name) => listener(name).receiveAll(QUIET_MS)));
    const text = (frame: CanFrame): string =>
      `${frame.id.toString(16).toUpperCase().padStart(3, '0')}#${Buffer.from(frame.data).toString('hex').toUpperCase()}`;
    return Object.fromEntries(listeners.map((name, i) => [name, (received[i] ?? []).map(text)]));
  };

  before(async () => {
    ensureDockerWithImages();
    daemon = await startCantainerDaemon(
      ['--state-dir', '/run/cantainer-gw/state', '--control-socket', CONTROL, '--netns-dir', NETNS_DIR],
      '/run/cantainer-gw.log',
    );
    sh(
      'docker network create -d cantainer --ipam-driver null powertrain && docker network create -d cantainer --ipam-driver null body',
      60_000,
    );
    for (const [ecu, network] of Object.entries(ECUS))
      sh(`docker run -d --name ${ecu} --network ${network} lab/canutils sleep 3600`, 120_000);
  });

  after(async () => {
    for (const socket of sockets.values()) socket.close();
    sh('docker rm -f ecu1 ecu2 ecu3 ecu4 ecu5 >/dev/null 2>&1; docker network rm powertrain body chassis >/dev/null 2>&1; true', 120_000);
    await daemon.stop();
  });

  it("joins powertrain and body both ways: every ECU's frames reach every other ECU on both buses once, in order", async () => {
    assert.match(cantainer('gateway add powertrain body --both'), /^gateway powertrain <-> body: (wired|waiting)/u);
    await waitFor('the gateway to be wired (bus names learnt from Docker)', () => gateways()[0]?.state === 'wired', 10_000);
    const all = Object.keys(ECUS);
    for (const [i, sender] of all.entries()) {
      const frames = [1, 2, 3].map((k) => `${i + 1}0${k}#0${i + 1}0${k}`);
      const got = await exchange(sender, frames, all);
      // The sender's own listener sees them too, once, by local loopback as on a real controller: a frame that came
      // back through the gateway would show twice.
      for (const name of all) assert.deepEqual(got[name], frames, `${name} from ${sender}`);
    }
  });

  it('lets only accepted ids cross, in both directions', async () => {
    cantainer('gateway add powertrain body --both --accept 7DF --accept 7E0/7F8');
    const fromEcu1 = await exchange('ecu1', ['7DF#0201', '123#01', '7E8#03', '7E0#04'], ['ecu2', 'ecu4']);
    assert.deepEqual(fromEcu1, { ecu2: ['7DF#0201', '123#01', '7E8#03', '7E0#04'], ecu4: ['7DF#0201', '7E0#04'] });
    const fromEcu4 = await exchange('ecu4', ['7E8#05', '7E1#06'], ['ecu1', 'ecu3']);
    assert.deepEqual(fromEcu4, { ecu1: ['7E1#06'], ecu3: ['7E1#06'] });
  });

  it('edits what crosses (SET id, length and data) and leaves the original on its own bus', async () => {
    cantainer('gateway add powertrain body --both --accept 123 --set id=456 --set len=2 --set data=CAFE');
    assert.deepEqual(await exchange('ecu1', ['123#0102', '124#01'], ['ecu2', 'ecu4']), {
      ecu2: ['123#0102', '124#01'],
      ecu4: ['456#CAFE'],
    });
  });

  it("chains through a third bus whose network option declares its gateway, at can_gw's default max_hops", async () => {
    assert.equal(sh('cat /sys/module/can_gw/parameters/max_hops').trim(), '1');
    cantainer('gateway add powertrain body --both');
    sh(
      `docker network create -d cantainer --ipam-driver null -o 'gateway=powertrain --accept 100/700' chassis && docker run -d --name ecu5 --network chassis lab/canutils sleep 3600`,
      120_000,
    );
    await waitFor(
      'the declared gateway to be wired',
      () => gateways().some((entry) => entry.source === 'chassis' && entry.state === 'wired'),
      10_000,
    );
    assert.deepEqual(
      gateways().find((entry) => entry.source === 'chassis'),
      {
        source: 'chassis',
        destination: 'powertrain',
        both: false,
        accept: ['100/700'],
        reject: [],
        edits: [],
        declaredBy: 'chassis',
        state: 'wired',
      },
    );
    const got = await exchange('ecu5', ['123#01', '223#02'], ['ecu1', 'ecu4']);
    assert.deepEqual(got, { ecu1: ['123#01'], ecu4: ['123#01'] }, 'accepted ids cross chassis -> powertrain -> body once');
    assert.deepEqual((await exchange('ecu1', ['123#03'], ['ecu5'])).ecu5, [], 'one way: nothing goes back to chassis');
    assert.match(
      sh(`node bin/cantainer gateway rm chassis powertrain --control-socket ${CONTROL} 2>&1 || true`),
      /part of bus chassis's settings/u,
    );
    // Its listener goes first: a socket whose interface vanishes fails its next receive with ENODEV.
    sockets.get('ecu5')?.close();
    sockets.delete('ecu5');
    sh('docker rm -f ecu5 && docker network rm chassis', 60_000);
    assert.deepEqual(
      gateways().map((entry) => entry.source),
      ['powertrain'],
    );
  });

  it('keeps gateways across a daemon crash: restarted, it finds them in its state and frames still cross once', async () => {
    await daemon.kill();
    daemon = await startCantainerDaemon(
      ['--state-dir', '/run/cantainer-gw/state', '--control-socket', CONTROL, '--netns-dir', NETNS_DIR],
      '/run/cantainer-gw.log',
    );
    assert.deepEqual(
      gateways().map((entry) => [entry.source, entry.destination, entry.state]),
      [['powertrain', 'body', 'wired']],
    );
    assert.deepEqual(await exchange('ecu4', ['444#04'], ['ecu1', 'ecu2', 'ecu3']), {
      ecu1: ['444#04'],
      ecu2: ['444#04'],
      ecu3: ['444#04'],
    });
  });

  it("stops all crossing after gateway rm, and leaves only the two buses' namespaces", async () => {
    assert.match(cantainer('gateway rm powertrain body'), /removed/u);
    const got = await exchange('ecu1', ['321#01'], ['ecu2', 'ecu4']);
    assert.deepEqual(got, { ecu2: ['321#01'], ecu4: [] });
    assert.deepEqual(gateways(), []);
    assert.equal(readdirSync(NETNS_DIR).length, 2);
  });

  it("enforces a container's send and receive filters (endpoint options) in the kernel", async () => {
    // On body first (can0), then on powertrain with filters (can1).
    sh(
      `docker run -d --name fw1 --network body lab/canutils sleep 3600 && docker network connect --driver-opt send=7E0/7F8 --driver-opt 'receive=!7DF' powertrain fw1`,
      120_000,
    );
    const fw1 = containerSocket('fw1', 'can1', false);
    try {
      await Promise.all(['ecu2', 'ecu3'].map((name) => listener(name).receiveAll(50)));
      cansend('fw1', 'can1', ['7E0#01', '123#02', '7E7#03']);
      const [ecu2, ecu3] = await Promise.all(['ecu2', 'ecu3'].map((name) => listener(name).receiveAll(QUIET_MS)));
      assert.deepEqual(
        [ecu2?.map((f) => f.id), ecu3?.map((f) => f.id)],
        [
          [0x7e0, 0x7e7],
          [0x7e0, 0x7e7],
        ],
        'fw1 may send 7E0-7E7 only',
      );
      await fw1.receiveAll(50);
      cansend('ecu1', 'can0', ['7DF#01', '7E8#02']);
      assert.deepEqual(
        (await fw1.receiveAll(QUIET_MS)).map((f) => f.id),
        [0x7e8],
        'fw1 never hears 7DF',
      );
    } finally {
      fw1.close();
      sh('docker rm -f fw1', 60_000);
    }
  });

  it('joins a vcan of the host (standing in for can0) to powertrain: frames both ways, once each; survives the vcan going and coming back', async () => {
    const host = systemKernel();
    sh('ip link add vcan7 type vcan && ip link set vcan7 up');
    assert.match(cantainer('uplink add powertrain vcan7'), /^uplink vcan7 on powertrain: up\n$/u);
    let vcan7 = host.canSocket('vcan7', { fd: false });
    const fromHost = async (frames: string[]): Promise<Record<string, string[]>> => {
      await Promise.all(['ecu1', 'ecu2', 'ecu4'].map((name) => listener(name).receiveAll(50)));
      sh(frames.map((frame) => `cansend vcan7 ${frame}`).join(' && '));
      const got = await Promise.all(['ecu1', 'ecu2', 'ecu4'].map((name) => listener(name).receiveAll(QUIET_MS)));
      return {
        ecu1: (got[0] ?? []).map((f) => f.id.toString(16)),
        ecu2: (got[1] ?? []).map((f) => f.id.toString(16)),
        ecu4: (got[2] ?? []).map((f) => f.id.toString(16)),
      };
    };
    const toHost = async (): Promise<string[]> => {
      await vcan7.receiveAll(50);
      cansend('ecu1', 'can0', ['321#02', '322#03']);
      return (await vcan7.receiveAll(QUIET_MS)).map((f) => f.id.toString(16));
    };
    try {
      assert.deepEqual(await fromHost(['123#01', '124#02']), { ecu1: ['123', '124'], ecu2: ['123', '124'], ecu4: [] });
      assert.deepEqual(await toHost(), ['321', '322']);
      vcan7.close();
      sh('ip link del vcan7');
      const uplinks = (): Array<{ state: string }> => JSON.parse(cantainer('uplink ls --json')) as Array<{ state: string }>;
      await waitFor('the uplink reported down', () => uplinks()[0]?.state === 'down', 5_000);
      assert.deepEqual(
        await exchange('ecu1', ['111#01'], ['ecu2', 'ecu3']),
        { ecu2: ['111#01'], ecu3: ['111#01'] },
        'the bus goes on without it',
      );
      sh('ip link add vcan7 type vcan && ip link set vcan7 up');
      vcan7 = host.canSocket('vcan7', { fd: false });
      await waitFor(
        'the uplink wired again',
        () => sh('grep -c \'"msg":"uplink up"\' /run/cantainer-gw.log || true').trim() === '1',
        5_000,
      );
      assert.deepEqual(await fromHost(['125#03']), { ecu1: ['125'], ecu2: ['125'], ecu4: [] });
      assert.deepEqual(await toHost(), ['321', '322']);
      assert.match(cantainer('uplink rm powertrain vcan7'), /removed/u);
      assert.deepEqual(await fromHost(['126#04']), { ecu1: [], ecu2: [], ecu4: [] });
      assert.match(sh('ip -o link show vcan7'), /vcan7: <NOARP,UP,LOWER_UP>/u, 'the interface is left as it was');
    } finally {
      vcan7.close();
      sh('ip link del vcan7 2>/dev/null || true');
    }
  });
});
