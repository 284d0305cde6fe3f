// The image cantainer:<version> (#23), as the Kubernetes DaemonSet and a plain `docker run` use it: loaded with
// docker load, the daemon runs in a privileged container on the host's network and PID namespaces with the plugin
// directory, /run/cantainer (shared, so the buses' pinned namespaces and the control socket are the host's) and
// the state mounted from the host. Docker's containers on a bus hear each other exactly once, in order; the
// host's CLI reaches the daemon at the usual path; the buses and their members outlive a restart of the daemon's
// container; removing the network leaves nothing.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertBusCarriesFrames, cantainerCommand, ensureDockerWithImages, sh, waitFor } from '../../support/lab.js';

const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
const ARCHIVE = join(process.env.CANTAINER_PKG_DIR ?? 'dist/pkg', 'cantainer-image.tar');
const TAG = `cantainer:${version}`;
const PLUGIN_SOCKET = '/run/docker/plugins/cantainer.sock';
const NETNS_DIR = '/run/cantainer/netns';
const CONTAINERS = ['img1', 'img2', 'img3'];

/** The daemon's container, with what README's "container image" section lists. */
const DAEMON_RUN = [
  'docker run -d --name cantainer-daemon --privileged --network host --pid host',
  '-v /run/docker/plugins:/run/docker/plugins',
  '-v /run/cantainer:/run/cantainer:rshared',
  '-v /var/lib/cantainer:/var/lib/cantainer',
  '-v /run/docker.sock:/var/run/docker.sock',
  '-v /lib/modules:/lib/modules:ro',
  TAG,
].join(' ');

/** The host's cantainer command line, which finds the daemon's control socket at its usual path. */
const hostCli = (args: string): string => sh(`${cantainerCommand().join(' ')} ${args}`, 60_000);

describe('the image running the daemon in a container', () => {
  after(() => {
    sh(
      `docker rm -f ${CONTAINERS.join(' ')} >/dev/null 2>&1; docker network rm body >/dev/null 2>&1; docker rm -f cantainer-daemon >/dev/null 2>&1; true`,
      120_000,
    );
  });

  it('loads with docker load and answers as the command line', () => {
    ensureDockerWithImages();
    assert.match(sh(`docker load -i ${ARCHIVE}`, 300_000), new RegExp(`Loaded image: ${TAG}`, 'u'));
    assert.equal(sh(`docker run --rm ${TAG} --version`, 120_000).trim(), version);
    assert.equal(
      sh(`docker image inspect -f '{{json .Config.Entrypoint}} {{json .Config.Cmd}}' ${TAG}`).trim(),
      '["/usr/bin/cantainer"] ["daemon"]',
    );
  });

  it('serves Docker from its container: containers on a bus hear each other once, in order', async () => {
    // What systemd does for every host at boot: mounts are shared, so the daemon's namespace pins reach the host.
    sh('mkdir -p /run/cantainer /var/lib/cantainer /run/docker/plugins && rm -f /run/docker/plugins/cantainer.sock');
    sh('grep -q " /run/cantainer " /proc/self/mounts || mount --bind /run/cantainer /run/cantainer; mount --make-shared /run/cantainer');
    sh(DAEMON_RUN, 120_000);
    await waitFor('the plugin socket', () => existsSync(PLUGIN_SOCKET), 60_000);
    sh('docker network create -d cantainer --ipam-driver null body', 120_000);
    for (const name of CONTAINERS) sh(`docker run -d --network body --name ${name} lab/canutils sleep 600`, 120_000);
    await assertBusCarriesFrames('img1', ['img2', 'img3']);
    const buses = JSON.parse(hostCli('ls --json')) as Array<{ name: string; members: number }>;
    assert.deepEqual(
      buses.map((bus) => [bus.name, bus.members]),
      [['body', 3]],
    );
  });

  it('keeps every bus and member when its container restarts: namespaces and state are the host’s', async () => {
    assert.equal(readdirSync(NETNS_DIR).length, 1, 'the bus namespace is pinned where the host sees it');
    sh('docker restart -t 10 cantainer-daemon', 120_000);
    await waitFor(
      'the control socket',
      () => {
        try {
          hostCli('ls --json');
          return true;
        } catch {
          return false;
        }
      },
      60_000,
    );
    await assertBusCarriesFrames('img2', ['img1', 'img3']);
    sh(`docker rm -f ${CONTAINERS.join(' ')} && docker network rm body`, 120_000);
    assert.deepEqual(JSON.parse(hostCli('ls --json')), []);
    assert.deepEqual(readdirSync(NETNS_DIR), []);
    assert.equal(sh('ip -o link show type vxcan'), '');
    assert.deepEqual((JSON.parse(readFileSync('/var/lib/cantainer/state.json', 'utf8')) as { buses: unknown[] }).buses, []);
  });
});
