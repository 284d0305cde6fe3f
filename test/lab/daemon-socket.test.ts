// The daemon's plugin socket on the real kernel, driven the way Docker drives it: malformed requests change
// nothing, and the time to serve CreateEndpoint plus Join on buses of 1, 10 and 50 members.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { systemKernel } from '../../src/kernel/index.js';
import { busNamespace, planBus } from '../../src/bus/plan.js';
import type { Bus } from '../../src/bus/model.js';
import { dockerRequests as d, post } from '../support/plugin-client.js';
import { kernelSnapshot, planSnapshot } from '../support/snapshot.js';
import { sh, startCantainerDaemon, type RunningDaemon } from '../support/lab.js';

const SOCKET = '/run/cantainer-lab-daemon/plugin.sock';
const STATE = '/run/cantainer-lab-daemon/state';
const kernel = systemKernel();
const call = (method: string, body?: object | string) => post(SOCKET, `/NetworkDriver.${method}`, body);

function stateBus(id: string): Bus | undefined {
  return (JSON.parse(sh(`cat ${STATE}/state.json`)) as { buses: Bus[] }).buses.find((bus) => bus.id === id);
}

describe('daemon on the real kernel, driven over its socket', () => {
  let daemon: RunningDaemon;

  before(async () => {
    daemon = await startCantainerDaemon(['--socket', SOCKET, '--state-dir', STATE], '/run/cantainer-lab-daemon.log');
  });

  after(async () => {
    await daemon.stop();
  });

  it('answers malformed requests with a clear Err, keeps serving, and changes nothing in the kernel', async () => {
    const net = 'm'.repeat(64);
    assert.deepEqual((await call('CreateNetwork', d.createNetwork(net))).body, {});
    assert.equal((await call('CreateEndpoint', d.createEndpoint(net, 'e1'))).status, 200);
    const before = kernelSnapshot(kernel);
    for (const body of [
      '{"NetworkID": ',
      '[]',
      '{}',
      { NetworkID: net },
      { NetworkID: net, EndpointID: 5 },
      d.createEndpoint(net, 'e2', { bitrate: '1' }),
      d.createEndpoint(net, 'e3', {}, '02:00:00:00:00:01'),
      d.createEndpoint('unknown', 'e4'),
    ]) {
      const answer = await call('CreateEndpoint', body);
      assert.ok(answer.status >= 400, JSON.stringify(answer));
      assert.equal(typeof answer.body.Err, 'string');
    }
    assert.equal((await call('CreateEndpoint', `{"NetworkID":"${'x'.repeat(10 * 1024 * 1024)}"}`)).status, 413);
    assert.deepEqual(kernelSnapshot(kernel), before);
    assert.deepEqual((await call('DeleteNetwork', d.network(net))).body, {});
  });

  it('measures CreateEndpoint plus Join on buses of 1, 10 and 50 members (diagnostic)', async () => {
    const timings: string[] = [];
    for (const size of [1, 10, 50]) {
      const net = `${size}`.padStart(64, 'j');
      await call('CreateNetwork', d.createNetwork(net));
      for (let i = 1; i < size; i++) await call('CreateEndpoint', d.createEndpoint(net, `ep${i}`));
      const start = performance.now();
      const created = await call('CreateEndpoint', d.createEndpoint(net, `ep${size}`));
      const joined = await call('Join', d.join(net, `ep${size}`));
      const ms = performance.now() - start;
      assert.equal(created.status, 200);
      assert.equal(joined.status, 200);
      const bus = stateBus(net);
      assert.equal(bus?.members.length, size);
      assert.deepEqual(kernelSnapshot(kernel).namespaces[busNamespace(net)], planSnapshot(planBus(bus)));
      timings.push(`${size} members ${ms.toFixed(1)} ms`);
      await call('DeleteNetwork', d.network(net));
    }
    console.log(`measure: CreateEndpoint+Join over the plugin socket, the last member of a classic bus: ${timings.join(', ')}`);
  });
});
