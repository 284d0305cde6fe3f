// The vehicle example (examples/vehicle/compose.yaml) brought up with docker-compose on a real dockerd: each ECU
// sends a known sequence; every listener on a bus sees every frame of that bus exactly once and in order (its own
// by local loopback); only OBD requests cross to the other bus, through the gateway ECU; FD frames arrive intact;
// the cluster reaches the dashboard over IP; `down` leaves nothing.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { classicFrame, fdFrame, type CanFrame } from '../../src/can/frame.js';
import { systemKernel, type CanSocketPort } from '../../src/kernel/index.js';
import {
  cansend as cansendIn,
  containerSocket,
  ensureDockerWithImages,
  sh,
  startCantainerDaemon,
  waitFor,
  type RunningDaemon,
} from '../support/lab.js';

const kernel = systemKernel();
const compose = (args: string, timeoutMs = 240_000): string =>
  sh(`ECU_IMAGE=lab/canutils docker-compose -p vehicle -f examples/vehicle/compose.yaml ${args}`, timeoutMs);
const container = (service: string): string => `vehicle_${service}_1`;
const STATE = '/run/cantainer-compose/state/state.json';

const listen = (service: string, ifname: string): CanSocketPort => containerSocket(container(service), ifname);
const cansend = (service: string, ifname: string, frames: string[]): void => {
  cansendIn(container(service), ifname, frames);
};

describe('the vehicle example with docker-compose', () => {
  let daemon: RunningDaemon;
  let powertrain: Record<string, CanSocketPort> = {};
  let body: Record<string, CanSocketPort> = {};

  /** What each listener of a bus received, with `quietMs` of silence marking the end. */
  async function received(bus: Record<string, CanSocketPort>, quietMs = 600): Promise<Record<string, CanFrame[]>> {
    const names = Object.keys(bus);
    const frames = await Promise.all(names.map((name) => bus[name]?.receiveAll(quietMs) ?? Promise.resolve([])));
    return Object.fromEntries(names.map((name, i) => [name, frames[i] ?? []]));
  }

  function sameForAll(got: Record<string, CanFrame[]>, expected: CanFrame[]): void {
    for (const [name, frames] of Object.entries(got))
      assert.deepEqual(frames, expected, `${name} received exactly these frames, once each, in order`);
  }

  before(async () => {
    ensureDockerWithImages();
    daemon = await startCantainerDaemon(['--state-dir', '/run/cantainer-compose/state'], '/run/cantainer-compose.log');
    compose('up -d --no-build');
    await waitFor('the gateway to forward', () => sh(`docker exec ${container('gateway')} ip -o link`).includes('body0@'), 30_000);
    powertrain = { engine: listen('engine', 'can0'), brakes: listen('brakes', 'can0'), gateway: listen('gateway', 'can0') };
    body = { gateway: listen('gateway', 'body0'), cluster: listen('cluster', 'body0'), host: kernel.canSocket('dcan0', { fd: true }) };
    // The gateway's candump must be reading before the first request is sent.
    await waitFor('the gateway candump', () => sh(`docker top ${container('gateway')}`).includes('candump'), 30_000);
  });

  after(async () => {
    for (const socket of [...Object.values(powertrain), ...Object.values(body)]) socket.close();
    sh('ECU_IMAGE=lab/canutils docker-compose -p vehicle -f examples/vehicle/compose.yaml down -t 1 >/dev/null 2>&1; true', 240_000);
    await daemon.stop();
  });

  it('brings up five containers: CAN interfaces named by the network prefix, eth0 only on the IP network', () => {
    const links = (service: string): string => sh(`docker exec ${container(service)} ip -o link`);
    assert.match(links('engine'), /can0@\S+: .* mtu 16 /u);
    assert.match(links('gateway'), /can0@\S+: .* mtu 16 /u);
    assert.match(links('gateway'), /body0@\S+: .* mtu 72 /u);
    assert.match(links('cluster'), /body0@\S+: .* mtu 72 /u);
    assert.match(links('cluster'), /eth0@/u);
    assert.doesNotMatch(links('engine'), /eth0/u);
  });

  it('delivers a powertrain frame to every powertrain listener once; only the OBD request crosses, once', async () => {
    cansend('engine', 'can0', ['0C0#0102', '7DF#02010C']);
    sameForAll(await received(powertrain), [classicFrame({ id: 0x0c0, data: [1, 2] }), classicFrame({ id: 0x7df, data: [2, 1, 0x0c] })]);
    sameForAll(await received(body, 2000), [classicFrame({ id: 0x7df, data: [2, 1, 0x0c] })]);
  });

  it('keeps other powertrain frames on powertrain', async () => {
    cansend('brakes', 'can0', ['1A0#0A0B']);
    sameForAll(await received(powertrain), [classicFrame({ id: 0x1a0, data: [0x0a, 0x0b] })]);
    sameForAll(await received(body, 1500), []);
  });

  it('carries an FD frame from the cluster to the body bus intact, and never to powertrain', async () => {
    cansend('cluster', 'body0', [`3C0##1${'5a'.repeat(48)}`]);
    sameForAll(await received(body), [fdFrame({ id: 0x3c0, brs: true, data: new Uint8Array(48).fill(0x5a) })]);
    sameForAll(await received(powertrain), []);
  });

  it('lets the cluster reach the dashboard over IP on the bridge network', () => {
    const ip = sh(`docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' ${container('dashboard')}`).trim();
    assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/u);
    assert.equal(sh(`docker exec ${container('cluster')} wget -qO- http://${ip}:8080/`, 60_000).trim(), 'speed 42 km/h');
  });

  it('times powertrain at 500 kbit/s: a flood fills it, the excess is counted, and a lower id still crosses once', async () => {
    const timing = (): { bitrate?: number; load?: number; dropped?: Record<string, number> } | undefined =>
      (JSON.parse(sh('node bin/cantainer inspect vehicle_powertrain --json')) as { timing?: Record<string, never> }).timing;
    assert.equal(timing()?.bitrate, 500_000);
    // The listeners above would fill with the flood: only 0x050 is read, through a kernel filter.
    for (const socket of Object.values(powertrain)) socket.close();
    powertrain = {};
    const pid = sh(`docker inspect -f '{{.State.Pid}}' ${container('gateway')}`).trim();
    const low = kernel.canSocket('can0', {
      netns: { label: 'gateway', path: `/proc/${pid}/ns/net` },
      filters: [{ id: 0x050, mask: 0x7ff }],
    });
    try {
      sh(`docker exec -d ${container('brakes')} timeout 20 cangen can0 -g 0 -I 100 -L 8 -D i`);
      // A load is given over the last 5 s: wait until the flood has filled them (cangen takes a while to start here).
      await waitFor('the flood to fill the bus', () => (timing()?.load ?? 0) >= 0.9, 15_000);
      cansend('engine', 'can0', ['050#01']);
      const during = timing();
      assert.ok((during?.dropped?.['bus-full'] ?? 0) > 0, 'what the bus could not carry was counted');
      assert.deepEqual(await low.receiveAll(3000), [classicFrame({ id: 0x050, data: [1] })]);
    } finally {
      low.close();
    }
  });

  it('cuts the brakes off powertrain by container name with cantainer fault, and takes them back', async () => {
    // The flood above is over and the bus has carried what it held.
    await waitFor('the flood to end', () => !sh(`docker top ${container('brakes')}`).includes('cangen'), 30_000);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const brakes = listen('brakes', 'can0');
    const gateway = listen('gateway', 'can0');
    try {
      sh(`node bin/cantainer fault add vehicle_powertrain --member ${container('brakes')} --off`);
      cansend('engine', 'can0', ['0C0#0A']);
      cansend('brakes', 'can0', ['1A0#0B']);
      assert.deepEqual(
        await brakes.receiveAll(1500),
        [classicFrame({ id: 0x1a0, data: [0x0b] })],
        'the brakes hear only their own (local loopback)',
      );
      assert.deepEqual(
        (await gateway.receiveAll(1500)).map((f) => f.id),
        [0x0c0],
        'nobody hears the brakes',
      );
      sh('node bin/cantainer fault rm vehicle_powertrain');
      cansend('brakes', 'can0', ['1A0#0C']);
      assert.deepEqual(await gateway.receiveAll(1500), [classicFrame({ id: 0x1a0, data: [0x0c] })]);
    } finally {
      brakes.close();
      gateway.close();
    }
  });

  it('leaves nothing after docker-compose down', async () => {
    for (const socket of [...Object.values(powertrain), ...Object.values(body)]) socket.close();
    powertrain = {};
    body = {};
    compose('down -t 1');
    await waitFor('the buses to go', () => !existsSync('/run/cantainer/netns') || readdirSync('/run/cantainer/netns').length === 0, 10_000);
    assert.equal(sh('ip -o link show type vxcan | wc -l').trim(), '0');
    assert.deepEqual((JSON.parse(readFileSync(STATE, 'utf8')) as { buses: unknown[] }).buses, []);
  });
});
