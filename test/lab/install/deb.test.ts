// The Debian package on a host as users have it (#23): a clean Debian bookworm root with Docker and no Node.js.
// Installed with apt from the file, the daemon started the way its units start it (systemd's socket activation of the plugin
// socket, the service's command line), Docker's containers on a bus hear each other exactly once, in order; then
// remove keeps the state and purge takes it. The lab's own node runs these tests from /host, outside the root's
// PATH; the daemon and the commands run with a PATH that has no node on it.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { assertBusCarriesFrames, ensureDockerWithImages, sh, waitFor } from '../../support/lab.js';
import { stopChild } from '../../support/child.js';

const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
/** What `npm run package` built, as the lab suite names it. */
const DEB = resolve(process.env.CANTAINER_PKG_DIR ?? 'dist/pkg', `cantainer_${version}_amd64.deb`);
const PATH = '/usr/sbin:/usr/bin:/sbin:/bin';
const DAEMON_LOG = '/tmp/cantainer-deb-daemon.log';
const NETNS_DIR = '/run/cantainer/netns';
/** Runs a command as a shell on this host would, without the lab's node on the PATH. */
const host = (command: string, timeoutMs = 60_000): string =>
  sh(`env -i PATH=${PATH} sh -c '${command.replace(/'/gu, `'\\''`)}'`, timeoutMs);
const fails = (command: string): boolean => {
  try {
    host(command);
    return false;
  } catch {
    return true;
  }
};

/** The value of `key` in a unit file's section. */
function unitValue(path: string, key: string): string {
  const line = readFileSync(path, 'utf8')
    .split('\n')
    .find((text) => text.startsWith(`${key}=`));
  assert.ok(line !== undefined, `${path} has ${key}=`);
  return line.slice(key.length + 1);
}

describe('the Debian package on a Debian host without Node.js', () => {
  let daemon: ChildProcess | undefined;

  let served = false;

  after(async () => {
    if (!served) {
      // What the daemon and dockerd said, for the failure's report.
      for (const command of [`tail -n 40 ${DAEMON_LOG} /run/lab-docker/dockerd.log`, 'timeout 20 docker ps -a'])
        process.stdout.write(sh(`${command} 2>&1; true`));
    }
    if (daemon !== undefined) await stopChild(daemon, 'SIGTERM');
    sh('docker rm -f deb1 deb2 deb3 >/dev/null 2>&1; docker network rm powertrain >/dev/null 2>&1; true');
  });

  it('is a host without Node.js', () => {
    assert.ok(existsSync(DEB), `the package was built: ${DEB}`);
    assert.ok(fails('command -v node'), 'no node on the PATH');
    assert.ok(fails('dpkg -s nodejs'), 'no nodejs package');
  });

  it('installs with apt from the file: the executable, the plugins as links, the units enabled', () => {
    // As README's Install section says: apt installs the file (it needs no package lists and no network for it).
    host(`apt-get install -y ${DEB}`, 300_000);
    assert.match(host('dpkg -s cantainer'), /^Status: install ok installed$/mu);
    assert.equal(host('cantainer --version').trim(), version);
    assert.equal(readlinkSync('/opt/cni/bin/cantainer'), '/usr/bin/cantainer');
    assert.equal(host('readlink -f /usr/libexec/netavark/cantainer').trim(), '/usr/bin/cantainer');
    assert.equal((JSON.parse(host('/usr/libexec/netavark/cantainer info')) as { version: string }).version, version);
    assert.match(host('echo {} | CNI_COMMAND=VERSION /opt/cni/bin/cantainer'), /"supportedVersions"/u);
    // Enabled on install: systemd starts the socket at boot (this VM runs no systemd, so nothing is started now).
    assert.ok(existsSync('/etc/systemd/system/sockets.target.wants/cantainer.socket'));
    assert.ok(existsSync('/etc/systemd/system/multi-user.target.wants/cantainer.service'));
    assert.match(host('man -w cantainer 2>/dev/null || ls /usr/share/man/man1/cantainer.1.gz'), /cantainer\.1\.gz/u);
  });

  // A time limit of its own, so that a hang is reported (with the logs, below) before the VM's limit ends the run.
  it('serves Docker as its units start it: containers on a bus hear each other once, in order', { timeout: 300_000 }, async () => {
    const listen = unitValue('/lib/systemd/system/cantainer.socket', 'ListenStream');
    const command = unitValue('/lib/systemd/system/cantainer.service', 'ExecStart').split(' ');
    sh(`mkdir -p ${listen.replace(/\/[^/]+$/u, '')}`);
    // The daemon's log goes to a file, as the journal would keep it: a pipe it held would outlive this test.
    const log = openSync(DAEMON_LOG, 'w');
    // The dashboard too, as a unit's Environment= line would turn it on (systemd-socket-activate passes on only
    // what -E names): the executable carries its page.
    daemon = spawn('systemd-socket-activate', ['-l', listen, '-E', 'CANTAINER_HTTP_LISTEN=18081', ...command], {
      env: { PATH },
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    await waitFor('the plugin socket', () => existsSync(listen), 10_000);
    ensureDockerWithImages();
    sh('docker network create -d cantainer --ipam-driver null powertrain', 120_000);
    for (const name of ['deb1', 'deb2', 'deb3']) sh(`docker run -d --network powertrain --name ${name} lab/canutils sleep 600`, 120_000);
    await assertBusCarriesFrames('deb1', ['deb2', 'deb3']);
    const buses = JSON.parse(host('cantainer ls --json')) as Array<{ name: string; members: number }>;
    assert.deepEqual(
      buses.map((bus) => [bus.name, bus.members]),
      [['powertrain', 3]],
    );
    assert.match(host('cantainer topology --format mermaid'), /^flowchart LR\n {2}b0\[\["powertrain<br\/>classic CAN/u);
    const page = await fetch('http://127.0.0.1:18081/');
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>cantainer: CAN buses<\/title>/u);
    const script = await fetch('http://127.0.0.1:18081/assets/app.js');
    assert.equal(script.status, 200);
    assert.ok((await script.text()).includes('EventSource'));
    const topology = (await (await fetch('http://127.0.0.1:18081/api/topology')).json()) as { buses: Array<{ name: string }> };
    assert.deepEqual(
      topology.buses.map((bus) => bus.name),
      ['powertrain'],
    );
    sh('docker rm -f deb1 deb2 deb3 && docker network rm powertrain', 120_000);
    assert.deepEqual(JSON.parse(host('cantainer ls --json')), []);
    // Nothing of the bus is left: no pinned namespace, no vxcan end on the host.
    assert.deepEqual(existsSync(NETNS_DIR) ? readdirSync(NETNS_DIR) : [], []);
    assert.equal(host('ip -o link show type vxcan'), '');
    assert.ok(existsSync('/var/lib/cantainer/state.json'), 'the state is where the unit keeps it');
    served = true;
  });

  it('remove leaves the state; purge takes it and the units', async () => {
    // As the package's prerm has systemd do: the daemon stops first.
    if (daemon !== undefined) await stopChild(daemon, 'SIGTERM');
    daemon = undefined;
    host('apt-get remove -y cantainer', 120_000);
    assert.ok(!existsSync('/usr/bin/cantainer') && !existsSync('/opt/cni/bin/cantainer') && !existsSync('/usr/libexec/netavark/cantainer'));
    assert.ok(existsSync('/var/lib/cantainer/state.json'), 'remove keeps the state');
    host('apt-get purge -y cantainer', 120_000);
    for (const path of [
      '/var/lib/cantainer',
      '/usr/bin/cantainer',
      '/usr/bin/cantainer-netavark',
      '/lib/systemd/system/cantainer.socket',
      '/lib/systemd/system/cantainer.service',
      '/usr/share/doc/cantainer',
      '/usr/share/man/man1/cantainer.1.gz',
    ])
      assert.ok(!existsSync(path), `purge leaves no ${path}`);
    assert.ok(!existsSync('/etc/systemd/system/sockets.target.wants/cantainer.socket'));
    assert.ok(!existsSync('/etc/systemd/system/multi-user.target.wants/cantainer.service'));
    assert.ok(fails('dpkg -s cantainer'));
  });
});
