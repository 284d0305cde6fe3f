// bin/cantainer as a runtime runs it: the CNI plugin whenever CNI_COMMAND is set, the command line otherwise.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryLogger } from '../../../src/log.js';
import { startDaemon, type Daemon } from '../../../src/daemon/daemon.js';
import { FakeKernel } from '../../support/fake-kernel.js';
import { projectPath } from '../../support/helpers.js';

const BIN = projectPath('bin', 'cantainer');

function run(env: Record<string, string>, stdin: string, args: string[] = []): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [BIN, ...args],
      { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 },
      (error, stdout) => {
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout });
      },
    );
    child.stdin?.end(stdin);
  });
}

describe('bin/cantainer as the CNI plugin', () => {
  let dir: string;
  let daemon: Daemon;
  let kernel: FakeKernel;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cantainer-cni-bin-'));
    kernel = new FakeKernel();
    daemon = await startDaemon({
      kernel,
      socketPath: join(dir, 'plugin.sock'),
      controlSocketPath: join(dir, 'control.sock'),
      stateDir: join(dir, 'state'),
      log: memoryLogger(),
    });
  });
  afterEach(async () => {
    await daemon.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers VERSION, ADD and DEL on stdout, and errors as JSON with exit status 1', async () => {
    assert.deepEqual(await run({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":"1.0.0"}'), {
      code: 0,
      stdout: '{"cniVersion":"1.0.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}\n',
    });
    kernel.addForeignNamespace('/run/netns/ecu1', 'ecu1');
    const env = {
      CNI_COMMAND: 'ADD',
      CNI_CONTAINERID: 'ecu1',
      CNI_NETNS: '/run/netns/ecu1',
      CNI_IFNAME: 'can0',
      CNI_PATH: '/opt/cni/bin',
      CANTAINER_CONTROL_SOCKET: join(dir, 'control.sock'),
    };
    const config = JSON.stringify({ cniVersion: '1.0.0', name: 'powertrain', type: 'cantainer' });
    assert.deepEqual(await run(env, config), {
      code: 0,
      stdout: '{"cniVersion":"1.0.0","interfaces":[{"name":"can0","mac":"00:00:00:00:00:00","sandbox":"/run/netns/ecu1"}],"ips":[]}\n',
    });
    assert.deepEqual(
      kernel.linksIn('/run/netns/ecu1').map((link) => link.name),
      ['can0'],
    );
    assert.deepEqual(await run({ ...env, CNI_COMMAND: 'DEL' }, config), { code: 0, stdout: '' });
    assert.deepEqual(kernel.linksIn('/run/netns/ecu1'), []);
    const failed = await run({ ...env, CNI_NETNS: '' }, config);
    assert.equal(failed.code, 1);
    assert.deepEqual(JSON.parse(failed.stdout), {
      cniVersion: '1.1.0',
      code: 4,
      msg: 'CNI_NETNS is empty; it must be the path of the container network namespace',
    });
  });

  it('is the command line without CNI_COMMAND', async () => {
    const version = await run({}, '', ['--version']);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/u);
  });
});
