// bin/cantainer-netavark as netavark runs it: a subcommand, JSON on stdin, JSON on stdout.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { packageVersion } from '../../../src/version.js';
import { projectPath } from '../../support/helpers.js';

const BIN = projectPath('bin', 'cantainer-netavark');

function run(args: string[], stdin: string): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [BIN, ...args],
      { env: { PATH: process.env.PATH ?? '', CANTAINER_CONTROL_SOCKET: '/nonexistent/control.sock' }, timeout: 30_000 },
      (error, stdout) => {
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout });
      },
    );
    child.stdin?.end(stdin);
  });
}

describe('bin/cantainer-netavark', () => {
  it('answers info and create, and an error as {"error"} with exit status 1', async () => {
    assert.deepEqual(await run(['info'], ''), {
      code: 0,
      stdout: `${JSON.stringify({ version: packageVersion(), api_version: '1.0.0', description: 'cantainer: virtual CAN buses for containers' })}\n`,
    });
    assert.deepEqual(await run(['create'], '{"name":"powertrain","id":"x","driver":"cantainer","dns_enabled":true}'), {
      code: 0,
      stdout: '{"name":"powertrain","id":"x","driver":"cantainer","dns_enabled":false}\n',
    });
    const down = await run(
      ['setup', '/run/netns/x'],
      JSON.stringify({
        container_id: 'c',
        container_name: 'c',
        network: { name: 'powertrain' },
        network_options: { interface_name: 'eth0' },
      }),
    );
    assert.equal(down.code, 1);
    assert.match(
      (JSON.parse(down.stdout) as { error: string }).error,
      /^cannot reach the cantainer daemon at \/nonexistent\/control\.sock \(ENOENT\)/u,
    );
  });
});
