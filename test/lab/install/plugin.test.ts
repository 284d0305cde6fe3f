// The Docker managed plugin (#23), as users get it: `docker plugin create cantainer dist/pkg/plugin` and enable,
// then networks `-d cantainer:latest` behave as with the legacy socket (the Docker end-to-end scenario, exact frames).
// The buses keep carrying frames while the plugin is disabled, and its members and state survive disable/enable
// and a dockerd restart; the host's CLI reaches the daemon's control socket at the usual path. Then the plugin is
// pushed to a registry on localhost (Debian's docker-registry) and installed from it on a fresh engine, where the
// scenario passes again; removing the network and the plugin leaves nothing.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { assertBusCarriesFrames, cantainerCommand, ensureDockerWithImages, sh, waitFor } from '../../support/lab.js';
import { stopChild } from '../../support/child.js';

const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
const PLUGIN_DIR = resolve(process.env.CANTAINER_PKG_DIR ?? 'dist/pkg', 'plugin');
const REGISTRY = '127.0.0.1:5000';
const PUSHED = `localhost:5000/cantainer:${version}`;
const NETNS_DIR = '/run/cantainer/netns';
const STATE = '/var/lib/cantainer/state.json';
const LOGS = '/tmp/cantainer-plugin-registry.log';
const CONTAINERS = ['plg1', 'plg2', 'plg3'];
/**
 * Docker names a managed network driver by the plugin's full name, tag included: libnetwork looks the driver up by
 * exactly the name given, and registers a managed plugin's under its full reference (`-d cantainer` answers
 * "could not resolve driver cantainer in registry").
 */
const DRIVER = 'cantainer:latest';

/** The host's cantainer command line: it finds the plugin's control socket at /run/cantainer/control.sock. */
const hostCli = (args: string): string => sh(`${cantainerCommand().join(' ')} ${args}`, 60_000);
const docker = (args: string, timeoutMs = 120_000): string => sh(`docker ${args}`, timeoutMs);

/** The members of each bus, as `cantainer ls` on the host says; undefined while the daemon does not answer. */
function busMembers(): Array<[string, number]> | undefined {
  try {
    return (JSON.parse(hostCli('ls --json')) as Array<{ name: string; members: number }>).map((bus) => [bus.name, bus.members]);
  } catch {
    return undefined;
  }
}

async function waitForMembers(expected: Array<[string, number]>, timeoutMs = 120_000): Promise<void> {
  await waitFor(
    `cantainer ls to show ${JSON.stringify(expected)}`,
    () => JSON.stringify(busMembers()) === JSON.stringify(expected),
    timeoutMs,
  );
}

/** Nothing of any bus is left on the host: no pinned namespace, no vxcan end, no bus in the state. */
function assertNothingLeft(): void {
  assert.deepEqual(existsSync(NETNS_DIR) ? readdirSync(NETNS_DIR) : [], []);
  assert.equal(sh('ip -o link show type vxcan'), '');
  assert.deepEqual((JSON.parse(readFileSync(STATE, 'utf8')) as { buses: unknown[] }).buses, []);
}

/** The plugin's own log as dockerd keeps it, and dockerd's, for a failure's report. */
function report(): void {
  for (const command of [
    'tail -60 /run/lab-docker/dockerd.log',
    `tail -20 ${LOGS}`,
    'timeout 20 docker plugin ls',
    'timeout 20 docker ps -a',
  ])
    process.stdout.write(sh(`${command} 2>&1; true`));
}

describe('the managed plugin', () => {
  let registry: ChildProcess | undefined;
  let passed = 0;

  after(async () => {
    if (passed < 4) report();
    if (registry !== undefined) await stopChild(registry, 'SIGTERM');
    sh(
      `docker rm -f ${CONTAINERS.join(' ')} >/dev/null 2>&1; docker network rm powertrain >/dev/null 2>&1; docker plugin rm -f cantainer ${PUSHED} >/dev/null 2>&1; true`,
      120_000,
    );
  });

  it(
    'is created from dist/pkg/plugin and enabled, and serves Docker: containers on a bus hear each other once, in order',
    { timeout: 400_000 },
    async () => {
      assert.ok(existsSync(`${PLUGIN_DIR}/config.json`), `the plugin was built: ${PLUGIN_DIR}`);
      ensureDockerWithImages();
      // What systemd does at boot on every host: all mounts shared, so the namespace pins the plugin makes under the
      // host's /run are the host's. No legacy socket of an earlier daemon is left to answer instead.
      sh('mount --make-rshared / && rm -f /run/docker/plugins/cantainer.sock');
      // The image loaded by the image test is not needed here: its space is.
      sh(`docker rmi -f cantainer:${version} >/dev/null 2>&1; true`, 60_000);
      docker(`plugin create cantainer ${PLUGIN_DIR}`, 300_000);
      docker('plugin enable cantainer', 180_000);
      assert.equal(docker('plugin inspect -f "{{.Enabled}} {{.Config.Interface.Socket}}" cantainer').trim(), 'true cantainer.sock');
      docker(`network create -d ${DRIVER} --ipam-driver null powertrain`);
      for (const name of CONTAINERS)
        docker(`run -d --restart always --stop-timeout 2 --network powertrain --name ${name} lab/canutils sleep 600`);
      await assertBusCarriesFrames('plg1', ['plg2', 'plg3']);
      assert.deepEqual(busMembers(), [['powertrain', 3]]);
      assert.equal(readdirSync(NETNS_DIR).length, 1, "the bus's namespace is pinned where the host sees it");
      passed += 1;
    },
  );

  it('keeps the bus carrying frames while disabled, and its members when enabled again', { timeout: 300_000 }, async () => {
    docker('plugin disable -f cantainer', 120_000);
    assert.equal(busMembers(), undefined, 'the daemon is stopped');
    // The buses are the kernel's: they carry frames with no daemon running.
    await assertBusCarriesFrames('plg2', ['plg1', 'plg3']);
    docker('plugin enable cantainer', 180_000);
    await waitForMembers([['powertrain', 3]]);
    await assertBusCarriesFrames('plg3', ['plg1', 'plg2']);
    passed += 1;
  });

  it('keeps the bus and its state through a dockerd restart: the members rejoin and hear each other', { timeout: 400_000 }, async () => {
    sh('. lab/guest/docker.sh && lab_stop_dockerd && lab_start_dockerd', 240_000);
    await waitFor('the plugin enabled again', () => docker('plugin inspect -f "{{.Enabled}}" cantainer').trim() === 'true', 120_000);
    await waitFor(
      'the containers running again',
      () => docker(`inspect -f "{{.State.Running}}" ${CONTAINERS.join(' ')}`).trim() === 'true\ntrue\ntrue',
      120_000,
    );
    await waitForMembers([['powertrain', 3]]);
    await assertBusCarriesFrames('plg1', ['plg2', 'plg3']);
    docker(`rm -f ${CONTAINERS.join(' ')}`);
    docker('network rm powertrain');
    assert.deepEqual(busMembers(), []);
    assertNothingLeft();
    passed += 1;
  });

  it('is pushed to a registry and installed from it on a fresh engine, where it serves the same', { timeout: 600_000 }, async () => {
    docker('plugin disable cantainer && docker plugin rm cantainer', 120_000);
    writeFileSync(
      '/tmp/registry.yml',
      `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /tmp/registry\nhttp:\n  addr: ${REGISTRY}\n`,
    );
    const log = openSync(LOGS, 'w');
    registry = spawn('docker-registry', ['serve', '/tmp/registry.yml'], { stdio: ['ignore', log, log] });
    closeSync(log);
    await waitFor(
      'the registry',
      () => sh(`busybox wget -q -O /dev/null http://${REGISTRY}/v2/ && echo up || true`).trim() === 'up',
      30_000,
    );
    docker(`plugin create ${PUSHED} ${PLUGIN_DIR}`, 300_000);
    docker(`plugin push ${PUSHED}`, 300_000);
    docker(`plugin rm ${PUSHED}`);
    // A fresh engine: empty data and exec roots, as on another host.
    sh('. lab/guest/docker.sh && lab_stop_dockerd && rm -rf /run/lab-docker/data; lab_start_dockerd fresh', 240_000);
    assert.equal(docker('plugin ls -q'), '');
    docker(`plugin install --grant-all-permissions --alias cantainer ${PUSHED}`, 300_000);
    assert.equal(docker('plugin inspect -f "{{.Enabled}} {{.PluginReference}}" cantainer').trim(), `true ${PUSHED}`);
    ensureDockerWithImages();
    docker(`network create -d ${DRIVER} --ipam-driver null powertrain`);
    for (const name of CONTAINERS) docker(`run -d --network powertrain --name ${name} lab/canutils sleep 600`);
    await assertBusCarriesFrames('plg2', ['plg1', 'plg3']);
    assert.deepEqual(busMembers(), [['powertrain', 3]]);
    docker(`rm -f ${CONTAINERS.join(' ')}`);
    docker('network rm powertrain');
    assertNothingLeft();
    docker('plugin disable cantainer && docker plugin rm cantainer', 120_000);
    assert.equal(docker('plugin ls -q'), '');
    assertNothingLeft();
    passed += 1;
  });
});
