// examples/gateways/compose.yaml with docker-compose on a real dockerd: gateways declared by network options alone,
// networks named by their keys in the file. Speed frames cross from powertrain to body only; OBD requests and
// answers cross between obd and powertrain only; every frame reaches each listener once (the sender's own by local
// loopback, so a frame that came back would show twice); `down` leaves nothing.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import type { CanFrame } from '../../src/can/frame.js';
import type { CanSocketPort } from '../../src/kernel/index.js';
import { cansend, containerSocket, ensureDockerWithImages, sh, startCantainerDaemon, waitFor, type RunningDaemon } from '../support/lab.js';

const CONTROL = '/run/cantainer-gwc/control.sock';
const NETNS_DIR = '/run/cantainer-gwc/netns';
const compose = (args: string, timeoutMs = 240_000): string =>
  sh(`ECU_IMAGE=lab/canutils docker-compose -p gwdemo -f examples/gateways/compose.yaml ${args}`, timeoutMs);
const container = (service: string): string => `gwdemo_${service}_1`;
const SERVICES = ['engine', 'brakes', 'cluster', 'tester'] as const;

interface Entry {
  source: string;
  destination: string;
  state: string;
}

describe('the gateways example with docker-compose', () => {
  let daemon: RunningDaemon;
  const sockets = new Map<string, CanSocketPort>();
  const exchange = async (from: string, frames: string[]): Promise<Record<string, string[]>> => {
    await Promise.all(SERVICES.map((name) => sockets.get(name)?.receiveAll(50) ?? Promise.resolve([])));
    cansend(container(from), 'can0', frames);
    const got = await Promise.all(SERVICES.map((name) => sockets.get(name)?.receiveAll(500) ?? Promise.resolve([])));
    const text = (frame: CanFrame): string =>
      `${frame.id.toString(16).toUpperCase().padStart(3, '0')}#${Buffer.from(frame.data).toString('hex').toUpperCase()}`;
    return Object.fromEntries(SERVICES.map((name, i) => [name, (got[i] ?? []).map(text)]));
  };

  before(async () => {
    ensureDockerWithImages();
    daemon = await startCantainerDaemon(
      ['--state-dir', '/run/cantainer-gwc/state', '--control-socket', CONTROL, '--netns-dir', NETNS_DIR],
      '/run/cantainer-gwc.log',
    );
    compose('up -d');
    for (const name of SERVICES) sockets.set(name, containerSocket(container(name), 'can0', false));
  });

  after(async () => {
    for (const socket of sockets.values()) socket.close();
    compose('down -t 1 >/dev/null 2>&1 || true');
    await daemon.stop();
  });

  it('wires the gateways the networks declare, naming the networks as Docker does', async () => {
    const list = (): Entry[] => JSON.parse(sh(`node bin/cantainer gateway ls --json --control-socket ${CONTROL}`)) as Entry[];
    await waitFor('both gateways wired', () => list().filter((entry) => entry.state === 'wired').length === 2, 15_000);
    assert.deepEqual(
      list()
        .map((entry) => `${entry.source} > ${entry.destination}`)
        .sort(),
      ['gwdemo_powertrain > gwdemo_body', 'gwdemo_powertrain > gwdemo_obd'],
    );
  });

  it('carries speed frames to the cluster, one way, and keeps them from the tester', async () => {
    assert.deepEqual(await exchange('engine', ['0C0#1F40', '123#01']), {
      engine: ['0C0#1F40', '123#01'],
      brakes: ['0C0#1F40', '123#01'],
      cluster: ['0C0#1F40'],
      tester: [],
    });
    assert.deepEqual(await exchange('cluster', ['0C1#01']), { engine: [], brakes: [], cluster: ['0C1#01'], tester: [] });
  });

  it('carries OBD requests from the tester and the answers back, nothing else', async () => {
    assert.deepEqual(await exchange('tester', ['7DF#02010C', '7E0#0322F190', '600#01']), {
      engine: ['7DF#02010C', '7E0#0322F190'],
      brakes: ['7DF#02010C', '7E0#0322F190'],
      cluster: [],
      tester: ['7DF#02010C', '7E0#0322F190', '600#01'],
    });
    assert.deepEqual(await exchange('engine', ['7E8#04410C1F40']), {
      engine: ['7E8#04410C1F40'],
      brakes: ['7E8#04410C1F40'],
      cluster: [],
      tester: ['7E8#04410C1F40'],
    });
  });

  it('leaves nothing after down: no namespace, no gateway', () => {
    for (const socket of sockets.values()) socket.close();
    sockets.clear();
    compose('down -t 1');
    assert.deepEqual(existsSync(NETNS_DIR) ? readdirSync(NETNS_DIR) : [], []);
    assert.deepEqual(JSON.parse(sh(`node bin/cantainer gateway ls --json --control-socket ${CONTROL}`)), []);
  });
});
