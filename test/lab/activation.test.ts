// The daemon under a service manager: the plugin socket inherited through systemd's socket activation protocol
// (systemd-socket-activate stands in for systemd), and what Docker does while the daemon is down.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { ensureDockerWithImages, sh, startCantainerDaemon, waitFor } from '../support/lab.js';

const SOCKET = '/run/docker/plugins/cantainer.sock';
const STATE = '/run/cantainer-activation/state';
const LOG = '/run/cantainer-activation.log';

function busCount(): number {
  return existsSync(`${STATE}/state.json`)
    ? (JSON.parse(readFileSync(`${STATE}/state.json`, 'utf8')) as { buses: unknown[] }).buses.length
    : 0;
}

describe('daemon under a service manager', () => {
  let activator: ChildProcess | undefined;

  before(() => {
    ensureDockerWithImages();
  });

  after(() => {
    activator?.kill('SIGTERM');
  });

  it('serves the socket systemd hands it: started by the first request, which waits and succeeds', async () => {
    const out = openSync(LOG, 'a');
    activator = spawn('systemd-socket-activate', ['-l', SOCKET, process.execPath, 'bin/cantainer', 'daemon', '--state-dir', STATE], {
      stdio: ['ignore', out, out],
    });
    await waitFor('the activator to listen', () => existsSync(SOCKET), 10_000);
    assert.equal(readFileSync(LOG, 'utf8').includes('serving'), false, 'nothing started before the first request');
    sh('docker network create -d cantainer --ipam-driver null activated', 120_000);
    assert.match(readFileSync(LOG, 'utf8'), /"msg":"serving a socket inherited from the service manager","fd":3/u);
    assert.equal(busCount(), 1);
    sh('docker network rm activated', 60_000);
    assert.equal(busCount(), 0);
    const exited = new Promise((resolve) => activator?.once('exit', resolve));
    activator.kill('SIGTERM');
    await exited;
    activator = undefined;
  });

  it('when the daemon is down, Docker retries: a network removed meanwhile is removed here once the daemon is back', async () => {
    let daemon = await startCantainerDaemon(['--state-dir', STATE], LOG);
    sh('docker network create -d cantainer --ipam-driver null downtime', 60_000);
    assert.equal(busCount(), 1);
    await daemon.stop();
    const removal = new Promise<number | null>((resolve) => {
      spawn('docker', ['network', 'rm', 'downtime'], { stdio: 'ignore' }).once('exit', resolve);
    });
    await new Promise((resolve) => setTimeout(resolve, 4000));
    daemon = await startCantainerDaemon(['--state-dir', STATE], LOG);
    assert.equal(await removal, 0, 'docker network rm waited for the daemon and succeeded');
    await waitFor('the bus to go', () => busCount() === 0, 20_000);
    assert.deepEqual(existsSync('/run/cantainer/netns') ? readdirSync('/run/cantainer/netns') : [], []);
    await daemon.stop();
  });
});
