// Prometheus metrics: the text format byte for byte, the --metrics-listen addresses, and a daemon with the
// in-memory kernel scraped after Docker's requests, frames sent through the frame simulator and a repaired drift.
import { classicFrame } from '../../../src/can/frame.js';
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryLogger } from '../../../src/log.js';
import { startDaemon, type Daemon } from '../../../src/daemon/daemon.js';
import { formatMetricsAddress, parseMetricsAddress, serveMetrics, type MetricsAddress } from '../../../src/transport/metrics-server.js';
import { Counter, formatMetrics, Histogram } from '../../../src/metrics/exposition.js';
import { main, type CliIo } from '../../../src/cli/main.js';
import { CURRENT_NETNS } from '../../../src/kernel/port.js';
import { busNamespace } from '../../../src/bus/plan.js';
import { FakeKernel } from '../../support/fake-kernel.js';
import { simFrame, transmit } from '../../support/frame-sim.js';
import { dockerRequests as d, post } from '../../support/plugin-client.js';
import { waitFor } from '../../support/helpers.js';

const NET = 'c'.repeat(64);

interface Scrape {
  readonly status: number;
  readonly type: string;
  readonly text: string;
}

function scrape(address: MetricsAddress, path = '/metrics', method = 'GET'): Promise<Scrape> {
  const where = address.kind === 'unix' ? { socketPath: address.path } : { host: address.host, port: address.port };
  return new Promise((resolve, reject) => {
    const req = request({ ...where, path, method, agent: false, timeout: 5_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('timeout', () => req.destroy(new Error('no answer from the metrics endpoint')));
    req.on('error', reject);
    req.end();
  });
}

/** The value of one sample line, e.g. value(text, 'cantainer_bus_members{bus="powertrain"}'). */
function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('the Prometheus text format', () => {
  it('writes HELP, TYPE and samples, escaping label values, with cumulative histogram buckets', () => {
    const counter = new Counter();
    counter.inc({ bus: 'a"b\\c\nd' });
    counter.inc({ bus: 'a"b\\c\nd' }, 2);
    counter.inc({ bus: 'x' });
    const histogram = new Histogram([0.01, 0.1, 1]);
    histogram.observe({ method: 'Join' }, 0.005);
    histogram.observe({ method: 'Join' }, 0.05);
    histogram.observe({ method: 'Join' }, 3);
    const text = formatMetrics([
      { name: 'demo_frames_total', help: 'Frames.\nAll of them.', type: 'counter', samples: counter.samples() },
      { name: 'demo_seconds', help: 'Latency.', type: 'histogram', samples: histogram.samples() },
      { name: 'demo_empty', help: 'None yet.', type: 'gauge', samples: [] },
      { name: 'demo_inf', help: 'Edges.', type: 'gauge', samples: [{ value: Infinity }, { labels: { k: 'v' }, value: NaN }] },
    ]);
    assert.equal(
      text,
      [
        '# HELP demo_frames_total Frames.\\nAll of them.',
        '# TYPE demo_frames_total counter',
        'demo_frames_total{bus="a\\"b\\\\c\\nd"} 3',
        'demo_frames_total{bus="x"} 1',
        '# HELP demo_seconds Latency.',
        '# TYPE demo_seconds histogram',
        'demo_seconds_bucket{method="Join",le="0.01"} 1',
        'demo_seconds_bucket{method="Join",le="0.1"} 2',
        'demo_seconds_bucket{method="Join",le="1"} 2',
        'demo_seconds_bucket{method="Join",le="+Inf"} 3',
        'demo_seconds_sum{method="Join"} 3.055',
        'demo_seconds_count{method="Join"} 3',
        '# HELP demo_empty None yet.',
        '# TYPE demo_empty gauge',
        '# HELP demo_inf Edges.',
        '# TYPE demo_inf gauge',
        'demo_inf +Inf',
        'demo_inf{k="v"} NaN',
        '',
      ].join('\n'),
    );
  });

  it('refuses names Prometheus does not allow', () => {
    assert.throws(() => formatMetrics([{ name: '1bad', help: '', type: 'gauge', samples: [] }]), /invalid metric name 1bad/u);
    assert.throws(
      () => formatMetrics([{ name: 'ok', help: '', type: 'gauge', samples: [{ labels: { 'bad-label': 'x' }, value: 1 }] }]),
      /invalid label name bad-label/u,
    );
  });
});

describe('--metrics-listen addresses', () => {
  it('listens on loopback unless another host is named', () => {
    const cases: Array<[string, MetricsAddress]> = [
      ['9420', { kind: 'tcp', host: '127.0.0.1', port: 9420 }],
      [':9420', { kind: 'tcp', host: '127.0.0.1', port: 9420 }],
      ['0.0.0.0:9420', { kind: 'tcp', host: '0.0.0.0', port: 9420 }],
      ['localhost:80', { kind: 'tcp', host: 'localhost', port: 80 }],
      ['[::1]:9420', { kind: 'tcp', host: '::1', port: 9420 }],
      ['unix:/run/cantainer/metrics.sock', { kind: 'unix', path: '/run/cantainer/metrics.sock' }],
      ['/run/cantainer/metrics.sock', { kind: 'unix', path: '/run/cantainer/metrics.sock' }],
    ];
    for (const [text, expected] of cases) assert.deepEqual(parseMetricsAddress(text), expected, text);
    assert.equal(formatMetricsAddress({ kind: 'tcp', host: '::1', port: 1 }), '[::1]:1');
  });

  it('refuses anything else, naming the option, the value and what is allowed', () => {
    for (const bad of ['', 'abc', '70000', 'host:', 'unix:relative.sock', '[::1]', '1.2.3.4:9420:1', 'a b:1']) {
      assert.throws(
        () => parseMetricsAddress(bad),
        (error: Error) =>
          error.message.includes('--metrics-listen') && error.message.includes(`"${bad}"`) && error.message.includes('HOST:PORT'),
        bad,
      );
    }
  });

  it('replaces a stale socket file but refuses to take over another kind of file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cantainer-metrics-'));
    try {
      const path = join(dir, 'metrics.sock');
      writeFileSync(path, 'not a socket');
      await assert.rejects(
        serveMetrics({ kind: 'unix', path }, () => '', memoryLogger()),
        /is another kind of file/u,
      );
      rmSync(path);
      const first = await serveMetrics({ kind: 'unix', path }, () => 'x 1\n', memoryLogger());
      assert.equal(statSync(path).mode & 0o777, 0o660);
      assert.equal((await scrape(first.address)).text, 'x 1\n');
      await first.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the metrics socket', () => {
  it('is never taken from a server that still answers on it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cantainer-metrics-'));
    const path = join(dir, 'metrics.sock');
    const live = createServer();
    await new Promise<void>((resolve) => live.listen(path, resolve));
    try {
      await assert.rejects(
        serveMetrics({ kind: 'unix', path }, () => '', memoryLogger()),
        /--metrics-listen: .*metrics\.sock is in use/u,
      );
      assert.equal(statSync(path).isSocket(), true);
    } finally {
      await new Promise<void>((resolve) =>
        live.close(() => {
          resolve();
        }),
      );
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a daemon serving metrics', () => {
  let dir: string;
  let plugin: string;
  let control: string;
  let daemon: Daemon;
  let kernel: FakeKernel;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cantainer-metrics-'));
    plugin = join(dir, 'plugin.sock');
    control = join(dir, 'control.sock');
    kernel = new FakeKernel();
    daemon = await startDaemon({
      kernel,
      socketPath: plugin,
      controlSocketPath: control,
      stateDir: join(dir, 'state'),
      log: memoryLogger(),
      networkLookup: (key) => Promise.resolve(key === NET ? { name: 'powertrain', labels: {} } : undefined),
      metricsAddress: { kind: 'tcp', host: '127.0.0.1', port: 0 },
    });
  });
  afterEach(async () => {
    await daemon.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const join2 = async (options: Record<string, string> = {}): Promise<string[]> => {
    assert.equal((await post(plugin, '/NetworkDriver.CreateNetwork', d.createNetwork(NET, options))).status, 200);
    await waitFor('the bus to be named from Docker', () => daemon.service.get(NET)?.name === 'powertrain');
    const ends: string[] = [];
    for (const endpoint of ['1', '2']) {
      const id = endpoint.repeat(64);
      assert.equal((await post(plugin, '/NetworkDriver.CreateEndpoint', d.createEndpoint(NET, id))).status, 200);
      const joined = await post(plugin, '/NetworkDriver.Join', d.join(NET, id));
      ends.push((joined.body.InterfaceName as { SrcName: string }).SrcName);
    }
    return ends;
  };

  it('counts members, frames from the can-gw counters, requests and their latency, reconciler runs', async () => {
    const address = daemon.metrics?.address;
    assert.ok(address?.kind === 'tcp' && address.port > 0);
    const [first, second] = await join2();
    await post(plugin, '/NetworkDriver.Nonsense', {});
    // As the engine does: the ends go up (here left in the daemon's namespace).
    const host = kernel.route();
    for (const end of [first!, second!]) host.setLinkUp(end, true);
    host.close();
    for (const id of [0x100, 0x101, 0x102]) transmit(kernel, CURRENT_NETNS, first!, simFrame(id, '01'));
    transmit(kernel, CURRENT_NETNS, second!, simFrame(0x200, ''));

    const scraped = await scrape(address);
    assert.equal(scraped.status, 200);
    assert.equal(scraped.type, 'text/plain; version=0.0.4; charset=utf-8');
    const text = scraped.text;
    const bus = 'powertrain';
    assert.equal(value(text, 'cantainer_buses'), 1);
    assert.equal(value(text, `cantainer_bus_members{bus="${bus}"}`), 2);
    assert.equal(value(text, `cantainer_bus_wired{bus="${bus}"}`), 1);
    // 4 frames on the bus; each goes to the other member and to the monitor.
    assert.equal(value(text, `cantainer_bus_frames_total{bus="${bus}"}`), 4);
    assert.equal(value(text, `cantainer_bus_frames_forwarded_total{bus="${bus}"}`), 8);
    assert.equal(value(text, `cantainer_bus_frames_dropped_total{bus="${bus}"}`), 0);
    // Each frame, echoed into the monitor, meets the monitor's 2 rules there and is stopped by the hop limit.
    assert.equal(value(text, `cantainer_bus_frames_deleted_total{bus="${bus}"}`), 8);
    assert.equal(value(text, `cantainer_bus_gateways{bus="${bus}"}`), 0);
    assert.equal(value(text, 'cantainer_requests_total{socket="plugin",method="NetworkDriver.Join",code="200"}'), 2);
    assert.equal(value(text, 'cantainer_requests_total{socket="plugin",method="NetworkDriver.CreateNetwork",code="200"}'), 1);
    assert.equal(value(text, 'cantainer_requests_total{socket="plugin",method="other",code="404"}'), 1);
    assert.equal(value(text, 'cantainer_request_duration_seconds_count{socket="plugin",method="NetworkDriver.Join"}'), 2);
    assert.equal(value(text, 'cantainer_request_duration_seconds_bucket{socket="plugin",method="NetworkDriver.Join",le="+Inf"}'), 2);
    assert.ok((value(text, 'cantainer_reconcile_runs_total') ?? 0) >= 3, 'a run per created bus and per joined member');
    assert.ok((value(text, 'cantainer_kernel_changes_total') ?? 0) > 0);
    assert.equal(value(text, 'cantainer_drift_corrections_total'), 0);
    assert.ok((value(text, 'process_resident_memory_bytes') ?? 0) > 1e6);
    assert.match(text, /^cantainer_info\{version="\d+\.\d+\.\d+"\} 1$/mu);

    assert.equal((await scrape(address, '/')).status, 404);
    assert.equal((await scrape(address, '/metrics', 'POST')).status, 405);
    const head = await scrape(address, '/metrics', 'HEAD');
    assert.deepEqual([head.status, head.text], [200, '']);
  });

  it("gives a timed bus's load and the frames it lost for lack of bus time", async () => {
    const address = daemon.metrics?.address;
    assert.ok(address?.kind === 'tcp');
    const [first] = await join2({ bitrate: '5000' });
    const host = kernel.route();
    host.setLinkUp(first!, true);
    host.close();
    // At 5 kbit/s a frame holds the bus for about 25 ms: the first 2048 frames wait (the queue of a sender), the rest
    // find it full; a few cross in the 100 ms.
    const socket = kernel.canSocket(first!);
    socket.sendBatch(Array.from({ length: 2100 }, () => classicFrame({ id: 0x100 })));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const text = (await scrape(address)).text;
    socket.close();
    assert.equal(value(text, 'cantainer_bus_lost_frames_total{bus="powertrain",reason="bus-full"}'), 2100 - 2048);
    assert.equal(value(text, 'cantainer_bus_lost_frames_total{bus="powertrain",reason="unwired"}'), 0);
    const load = value(text, 'cantainer_bus_load_ratio{bus="powertrain"}') ?? 0;
    assert.ok(load > 0 && load <= 1, `load ${load}`);
  });

  it('counts drift put back by cantainer repair, and control requests', async () => {
    await join2();
    const route = kernel.route(kernel.owned(busNamespace(NET)));
    const rules = route.listRules().length;
    route.flushRules();
    route.close();
    const io: CliIo = { out: () => undefined, err: () => undefined };
    const bus = 'powertrain';
    assert.equal(await main(['repair', bus, '--control-socket', control], io), 0);
    const text = (await scrape(daemon.metrics!.address)).text;
    assert.equal(value(text, 'cantainer_drift_corrections_total'), rules);
    assert.equal(value(text, 'cantainer_requests_total{socket="control",method="Bus.Repair",code="200"}'), 1);
    assert.equal(value(text, `cantainer_bus_frames_total{bus="${bus}"}`), 0, 'new rules count from zero');
  });
});
