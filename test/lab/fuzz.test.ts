// The daemon's sockets under fuzzing on the real kernel (#22): thousands of malformed and mutated requests to the
// plugin and control sockets (test/support/fuzz.ts). After them the daemon answers, the state file is byte-identical,
// the kernel holds exactly the links and rules it held, and open file descriptors and resident memory are back
// within a small bound of where they started. npm test sends 4000; npm run test:full 12000.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { callDaemon } from '../../src/control/client.js';
import { systemKernel } from '../../src/kernel/index.js';
import { MAX_BODY_BYTES } from '../../src/transport/json-server.js';
import { assertEveryRequestAnswered, fuzzReport, fuzzRequests, runFuzz } from '../support/fuzz.js';
import { processUsage, scaled, sh, startCantainerDaemon, type RunningDaemon } from '../support/lab.js';
import { dockerRequests as d, post } from '../support/plugin-client.js';
import { kernelSnapshot } from '../support/snapshot.js';

const ROOT = '/run/cantainer-fuzz';
const NET = 'f'.repeat(64);
const sockets = { plugin: join(ROOT, 'plugin.sock'), control: join(ROOT, 'control.sock') };
const kernel = systemKernel({ netnsDir: join(ROOT, 'netns') });
const ecus = systemKernel({ netnsDir: join(ROOT, 'ecus') });

describe('the daemon under fuzzing on the real kernel (#22)', () => {
  let daemon: RunningDaemon;

  before(async () => {
    sh('modprobe -a vcan vxcan can-gw can-raw');
    rmSync(ROOT, { recursive: true, force: true });
    mkdirSync(ROOT, { recursive: true });
    daemon = await startCantainerDaemon(
      [
        '--socket',
        sockets.plugin,
        '--control-socket',
        sockets.control,
        '--state-dir',
        join(ROOT, 'state'),
        '--netns-dir',
        join(ROOT, 'netns'),
      ],
      join(ROOT, 'daemon.log'),
    );
    // Something to break: a Docker network, a bus made by a member, and a gateway between them.
    assert.equal((await post(sockets.plugin, '/NetworkDriver.CreateNetwork', d.createNetwork(NET, { fd: 'true' }))).status, 200);
    ecus.namespaces.create('e1');
    await callDaemon(sockets.control, 'Member.Attach', {
      bus: 'body',
      create: true,
      netns: ecus.namespaces.path('e1'),
      member: 'e1',
      interface: 'can0',
    });
    await callDaemon(sockets.control, 'Gateway.Add', { source: 'body', destination: NET.slice(0, 12), both: true });
  });

  after(async () => {
    await daemon.stop();
    for (const name of ecus.namespaces.list()) ecus.namespaces.delete(name);
    sh(`for f in ${join(ROOT, 'netns')}/*; do umount "$f" 2>/dev/null; done; true`);
    rmSync(ROOT, { recursive: true, force: true });
  });

  it('answers every malformed request at once, and changes nothing: state, kernel, descriptors, memory', async () => {
    const count = scaled(4000, 12_000);
    const stateFile = join(ROOT, 'state', 'state.json');
    const state = readFileSync(stateFile);
    const kernelBefore = kernelSnapshot(kernel);
    assert.equal(Object.keys(kernelBefore.namespaces).length, 2, 'two buses to keep');
    // One warm-up round first, so that what the process loads once is not counted as growth.
    await runFuzz(sockets, fuzzRequests(1, 200, { buses: ['body'], networkIds: [NET], maxBodyBytes: MAX_BODY_BYTES }), {
      concurrency: 16,
      waitMs: 10_000,
    });
    const usageBefore = processUsage(daemon.pid);
    const started = Date.now();
    const requests = fuzzRequests(22, count, { buses: ['body', NET.slice(0, 12)], networkIds: [NET], maxBodyBytes: MAX_BODY_BYTES });
    const outcomes = await runFuzz(sockets, requests, { concurrency: 32, waitMs: 3000 });
    const seconds = (Date.now() - started) / 1000;
    const report = fuzzReport(outcomes);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const usageAfter = processUsage(daemon.pid);
    console.log(
      `measure: fuzz ${requests.length} requests in ${seconds.toFixed(0)} s: ${report.unanswered.length} unanswered within 3 s, ${report.closed.length} closed without an answer, slowest ${Math.round(report.slowestMs)} ms; fds ${usageBefore.fds} -> ${usageAfter.fds}, RSS ${Math.round(usageBefore.rssKiB / 1024)} -> ${Math.round(usageAfter.rssKiB / 1024)} MiB; ${JSON.stringify(report.byKind)}`,
    );
    assertEveryRequestAnswered(outcomes);
    assert.equal((await post(sockets.control, '/Daemon.Status', {})).status, 200, 'the daemon answers');
    assert.deepEqual(readFileSync(stateFile), state, 'the state file is byte-identical');
    assert.deepEqual(kernelSnapshot(kernel), kernelBefore, 'the kernel holds exactly the links and rules it held');
    assert.ok(usageAfter.fds <= usageBefore.fds + 2, `open descriptors back where they were (${usageBefore.fds} -> ${usageAfter.fds})`);
    assert.ok(
      usageAfter.rssKiB <= usageBefore.rssKiB + 48 * 1024,
      `resident memory within 48 MiB of where it was (${usageBefore.rssKiB} -> ${usageAfter.rssKiB} KiB)`,
    );
  });
});
