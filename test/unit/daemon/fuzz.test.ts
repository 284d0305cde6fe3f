// The daemon's sockets under fuzzing, on the fake kernel: thousands of malformed and mutated requests (see
// test/support/fuzz.ts); each is answered at once with a status (a request cut short when its time runs out), none
// changes the state or the kernel, and the daemon goes on serving. The lab runs the same against the real kernel.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, type Daemon } from '../../../src/daemon/daemon.js';
import { silentLogger } from '../../../src/log.js';
import { MAX_BODY_BYTES } from '../../../src/transport/json-server.js';
import { FakeKernel } from '../../support/fake-kernel.js';
import { assertEveryRequestAnswered, fuzzReport, fuzzRequests, runFuzz } from '../../support/fuzz.js';
import { dockerRequests as d, post } from '../../support/plugin-client.js';
import { kernelSnapshot } from '../../support/snapshot.js';
import { ecu } from '../../support/ecus.js';

const NET = 'f'.repeat(64);

describe('the daemon under fuzzing (fake kernel)', () => {
  let dir: string;
  let daemon: Daemon;
  let kernel: FakeKernel;
  const sockets = { plugin: '', control: '' };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cantainer-fuzz-'));
    sockets.plugin = join(dir, 'plugin.sock');
    sockets.control = join(dir, 'control.sock');
    kernel = new FakeKernel();
    daemon = await startDaemon({
      kernel,
      socketPath: sockets.plugin,
      controlSocketPath: sockets.control,
      stateDir: join(dir, 'state'),
      log: silentLogger,
      networkLookup: (key) => Promise.resolve(key === NET || key === 'powertrain' ? { name: 'powertrain', labels: {} } : undefined),
    });
    assert.equal((await post(sockets.plugin, '/NetworkDriver.CreateNetwork', d.createNetwork(NET, { fd: 'true' }))).status, 200);
    await daemon.service.addMember(NET, ecu(kernel, 'e1'));
  });
  after(async () => {
    await daemon.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 3000 malformed and mutated requests, each with a status at once, and changes nothing', async () => {
    const stateFile = join(dir, 'state', 'state.json');
    const state = readFileSync(stateFile);
    const kernelBefore = kernelSnapshot(kernel);
    const requests = fuzzRequests(22, 3000, { buses: ['powertrain', NET.slice(0, 12)], networkIds: [NET], maxBodyBytes: MAX_BODY_BYTES });
    const outcomes = await runFuzz(sockets, requests, { concurrency: 32, waitMs: 3000 });
    const report = fuzzReport(outcomes);
    assertEveryRequestAnswered(outcomes);
    for (const [kind, statuses] of Object.entries(report.byKind))
      assert.deepEqual(
        Object.keys(statuses).filter((status) => Number(status) >= 500 && kind !== 'read-only request'),
        [],
        `${kind}: ${JSON.stringify(statuses)} (a bad request is the client's fault: 4xx)`,
      );
    assert.deepEqual(readFileSync(stateFile), state, 'the state file is byte-identical');
    assert.deepEqual(kernelSnapshot(kernel), kernelBefore, 'the kernel holds exactly what it held');
    assert.equal((await post(sockets.control, '/Daemon.Status', {})).status, 200);
    console.log(`fuzz: ${JSON.stringify(report.byKind)}; slowest answer ${Math.round(report.slowestMs)} ms`);
  });
});
