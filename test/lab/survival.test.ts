// What real hosts do to a plugin: many containers at once, the daemon killed at random moments while compose
// brings containers up and down, a reboot. After each: no duplicate or leaked namespace, link, rule or state
// entry, and containers that come (back) talk exactly once.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { classicFrame, type CanFrame } from '../../src/can/frame.js';
import { systemKernel, type CanSocketPort } from '../../src/kernel/index.js';
import { busNamespace, planBus } from '../../src/bus/plan.js';
import type { Bus } from '../../src/bus/model.js';
import { kernelSnapshot, planSnapshot } from '../support/snapshot.js';
import { containerSocket, ensureDockerWithImages, scaled, sh, startCantainerDaemon, waitFor, type RunningDaemon } from '../support/lab.js';

const STATE_DIR = '/run/cantainer-survival/state';
const LOG = '/run/cantainer-survival.log';
const kernel = systemKernel();
// 10 cycles in the CI suite (each about 38 s under emulation), 30 in test:full; CANTAINER_CHAOS_CYCLES overrides both.
const CYCLES = Number(process.env.CANTAINER_CHAOS_CYCLES ?? String(scaled(10, 30)));

function state(): Bus[] {
  return existsSync(`${STATE_DIR}/state.json`)
    ? (JSON.parse(readFileSync(`${STATE_DIR}/state.json`, 'utf8')) as { buses: Bus[] }).buses
    : [];
}

function networkId(name: string): string {
  return sh(`docker network inspect -f '{{.Id}}' ${name}`).trim();
}

const listen = (container: string): CanSocketPort => containerSocket(container, 'can0', false);

/** Each container sends one frame from a socket in its namespace; every listener must see all of them once. */
async function assertEveryoneHearsEveryone(containers: string[]): Promise<void> {
  const listeners = containers.map(listen);
  const senders = containers.map(listen);
  try {
    senders.forEach((socket, i) => {
      socket.send(classicFrame({ id: 0x100 + i, data: [i] }));
    });
    const expected: CanFrame[] = containers.map((_, i) => classicFrame({ id: 0x100 + i, data: [i] }));
    const received = await Promise.all(listeners.map((socket) => socket.receiveAll(800)));
    received.forEach((frames, i) => {
      assert.deepEqual(frames, expected, `${containers[i] ?? '?'} heard every frame once`);
    });
  } finally {
    for (const socket of [...listeners, ...senders]) socket.close();
  }
}

/** Nothing of cantainer's is left in the kernel or the state once its networks are gone. */
function assertNothingLeft(context: string): void {
  const namespaces = existsSync('/run/cantainer/netns') ? readdirSync('/run/cantainer/netns') : [];
  assert.deepEqual(namespaces, [], `${context}: no bus namespace left`);
  assert.equal(sh('ip -o link show type vxcan | wc -l').trim(), '0', `${context}: no member end left on the host`);
  assert.deepEqual(state(), [], `${context}: no bus left in the state`);
  assert.doesNotMatch(readFileSync('/proc/self/mountinfo', 'utf8'), /\/run\/cantainer\/netns\//u, `${context}: no namespace mount left`);
}

function run(command: string): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, output });
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('surviving what real hosts do', () => {
  let daemon: RunningDaemon;

  before(async () => {
    ensureDockerWithImages();
    daemon = await startCantainerDaemon(['--state-dir', STATE_DIR], LOG);
  });

  after(async () => {
    sh('docker rm -f $(docker ps -aq) >/dev/null 2>&1; docker network prune -f >/dev/null 2>&1; true', 180_000);
    await daemon.stop();
  });

  it('wires 20 containers started in parallel on one bus: exactly the planned rules, every frame heard once by all', async () => {
    sh('docker network create -d cantainer --ipam-driver null crowd', 60_000);
    const names = Array.from({ length: 20 }, (_, i) => `crowd${i + 1}`);
    const started = await run(
      names.map((name) => `docker run -d --name ${name} --network crowd lab/canutils sleep 3600 >/dev/null &`).join(' ') + ' wait',
    );
    assert.equal(started.status, 0, started.output);
    const bus = state().find((b) => b.id === networkId('crowd'));
    assert.equal(bus?.members.length, 20);
    const view = kernelSnapshot(kernel).namespaces[busNamespace(bus.id)];
    assert.equal(view?.rules.length, 20 * 19 + 2 * 20, 'no duplicate rule, none missing');
    assert.deepEqual(view, planSnapshot(planBus(bus)));
    await assertEveryoneHearsEveryone(names);
    sh(`docker rm -f ${names.join(' ')} >/dev/null && docker network rm crowd`, 180_000);
    assertNothingLeft('after the crowd');
  });

  it(`survives being killed at random moments during ${CYCLES} compose up/down cycles`, async () => {
    const compose = 'docker-compose -p chaos -f test/fixtures/compose/chaos.yaml';
    let seed = 7;
    const random = (max: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % max;
    };
    const failures: string[] = [];
    const started = Date.now();
    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      // One kill per cycle, at a random moment of the up (odd cycles) or of the down (even cycles).
      const killDuringUp = cycle % 2 === 1;
      const step = async (what: 'up -d' | 'down -t 1', kill: boolean): Promise<void> => {
        const command = run(`${compose} ${what}`);
        if (kill) {
          await sleep(random(4000));
          await daemon.kill();
          daemon = await startCantainerDaemon(['--state-dir', STATE_DIR], LOG);
        }
        const result = await command;
        if (result.status === 0) return;
        failures.push(`cycle ${cycle} ${what}: ${result.output.split('\n').filter(Boolean).slice(-1).join('')}`);
        const again = await run(`${compose} ${what}`);
        assert.equal(again.status, 0, `cycle ${cycle}: ${what} works when repeated: ${again.output}`);
      };
      await step('up -d', killDuringUp);
      await step('down -t 1', !killDuringUp);
      assertNothingLeft(`cycle ${cycle}`);
    }
    console.log(
      `measure: ${CYCLES} compose up/down cycles with the daemon killed at a random moment of each: ${((Date.now() - started) / 1000).toFixed(0)} s, ${failures.length} docker-compose commands failed (then repeated): ${failures.join('; ') || 'none'}`,
    );
    // Then, with the daemon left alone, the same project comes up and talks.
    const up = await run(`${compose} up -d`);
    assert.equal(up.status, 0, up.output);
    await assertEveryoneHearsEveryone(['chaos_a_1', 'chaos_b_1']);
    const bus = state()[0];
    assert.ok(bus);
    assert.deepEqual(
      kernelSnapshot(kernel).namespaces[busNamespace(bus.id)],
      planSnapshot(planBus(bus)),
      'no duplicate or leftover rule or link',
    );
    assert.equal((await run(`${compose} down -t 1`)).status, 0);
    assertNothingLeft('at the end');
  });

  it('brings containers back onto their buses after a simulated reboot, with no user action', async () => {
    sh('docker network create -d cantainer --ipam-driver null -o host_if=rcan0 rebootbus', 60_000);
    for (const name of ['r1', 'r2'])
      sh(`docker run -d --restart always --name ${name} --network rebootbus lab/canutils sleep 3600`, 120_000);
    await assertEveryoneHearsEveryone(['r1', 'r2']);
    const id = networkId('rebootbus');
    // The reboot: every process killed, everything under /run that a reboot clears is gone; the state directory
    // and Docker's data root stay.
    const pids = sh(`docker inspect -f '{{.State.Pid}}' r1 r2`).trim().split('\n').join(' ');
    await daemon.kill();
    sh(`kill -9 ${pids} $(pidof dockerd) $(pidof containerd) $(pidof containerd-shim-runc-v2) 2>/dev/null; sleep 1; true`);
    sh(
      'for f in /run/cantainer/netns/* /run/docker/netns/*; do [ -e "$f" ] && umount "$f" 2>/dev/null; rm -f "$f"; done; for l in $(ip -o link show type vxcan | cut -d: -f2 | cut -d@ -f1); do ip link del "$l" 2>/dev/null; done; rm -rf /run/lab-docker/exec /run/containerd /run/docker/containerd /run/docker.sock /run/lab-docker/dockerd.pid; true',
    );
    assert.equal(sh('ip -o link show type vxcan | wc -l').trim(), '0');
    daemon = await startCantainerDaemon(['--state-dir', STATE_DIR], LOG);
    ensureDockerWithImages();
    await waitFor('r1 and r2 to run again', () => sh(`docker inspect -f '{{.State.Running}}' r1 r2`).trim() === 'true\ntrue', 120_000);
    await assertEveryoneHearsEveryone(['r1', 'r2']);
    const bus = state().find((b) => b.id === id);
    assert.equal(bus?.members.length, 3, 'two containers with new endpoints and the host interface; the dead endpoints are gone');
    assert.deepEqual(kernelSnapshot(kernel).namespaces[busNamespace(bus.id)], planSnapshot(planBus(bus)));
    const host = kernel.canSocket('rcan0');
    const r1 = listen('r1');
    try {
      host.send(classicFrame({ id: 0x7df, data: [2, 1, 0] }));
      assert.deepEqual(await r1.receiveAll(500), [classicFrame({ id: 0x7df, data: [2, 1, 0] })], 'the host interface is back too');
    } finally {
      host.close();
      r1.close();
    }
    sh('docker rm -f r1 r2 >/dev/null && docker network rm rebootbus', 120_000);
    assertNothingLeft('after the reboot test');
  });
});
