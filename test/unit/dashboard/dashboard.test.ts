// The dashboard's HTTP side against a daemon with the in-memory kernel: the page and its assets (all from the
// daemon, none from elsewhere), read-only, the topology as the control socket gives it, live counters that move,
// events, a trace of one bus in candump's format with an id filter, the token, and the addresses it refuses.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { request, type ClientRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classicFrame } from '../../../src/can/frame.js';
import { callDaemon } from '../../../src/control/client.js';
import type { Topology } from '../../../src/control/protocol.js';
import { daemonSettings, DAEMON_DEFAULTS } from '../../../src/cli/daemon.js';
import { serveDashboard } from '../../../src/dashboard/server.js';
import type { TopologyUpdate } from '../../../src/dashboard/live.js';
import type { TraceBatch } from '../../../src/dashboard/trace.js';
import { memoryLogger } from '../../../src/log.js';
import type { BusEvent } from '../../../src/service/events.js';
import { httpGet, readEvents, type ServerEvent } from '../../support/http-client.js';
import { sampleHost, type SampleHost } from '../../support/sample-host.js';

const topologies = (events: readonly ServerEvent[]): TopologyUpdate[] =>
  events.filter((e) => e.event === 'topology').map((e) => e.data as TopologyUpdate);

describe('the dashboard', () => {
  let host: SampleHost;
  let port: number;

  before(async () => {
    host = await sampleHost({ httpAddress: { kind: 'tcp', host: '127.0.0.1', port: 0 }, dashboardEveryMs: 200 });
    const address = host.daemon.dashboard?.address;
    assert.ok(address?.kind === 'tcp');
    port = address.port;
  });
  after(async () => {
    await host.close();
  });

  const engine = (): ReturnType<SampleHost['kernel']['canSocket']> =>
    host.kernel.canSocket('can0', { netns: { label: 'engine', path: '/ecu/engine' } });

  it('serves its page, script and style sheet itself, nothing from another origin', async () => {
    const page = await httpGet(port, '/');
    assert.equal(page.status, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(String(page.headers['content-security-policy']), /default-src 'none'; script-src 'self'/u);
    const assets = [...page.text.matchAll(/(?:src|href)="([^"]+)"/gu)].map((m) => m[1] ?? '');
    assert.deepEqual(assets.sort(), ['#buses-heading', '/assets/app.js', '/assets/style.css', 'data:,']);
    for (const [path, type] of [
      ['/assets/app.js', 'text/javascript; charset=utf-8'],
      ['/assets/style.css', 'text/css; charset=utf-8'],
    ] as const) {
      const asset = await httpGet(port, path);
      assert.equal(asset.status, 200, path);
      assert.equal(asset.headers['content-type'], type);
      assert.ok(asset.text.length > 500, path);
      assert.doesNotMatch(asset.text, /https?:\/\/(?!www\.w3\.org\/)/u, `${path} names another origin`);
      const again = await httpGet(port, path, { headers: { 'If-None-Match': String(asset.headers.etag) } });
      assert.equal(again.status, 304);
    }
    assert.equal((await httpGet(port, '/assets/nothing.js')).status, 404);
    assert.equal((await httpGet(port, '/nowhere')).status, 404);
  });

  it('is read-only: anything but GET and HEAD is refused and changes nothing', async () => {
    const before = JSON.stringify((await callDaemon(host.control, 'Topology.Get', {})).buses.map((b) => b.name));
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const answer = await httpGet(port, '/api/topology', { method });
      assert.equal(answer.status, 405, method);
      assert.equal(answer.headers.allow, 'GET, HEAD');
    }
    assert.equal(JSON.stringify((await callDaemon(host.control, 'Topology.Get', {})).buses.map((b) => b.name)), before);
  });

  it('gives the topology the control socket gives, and its picture', async () => {
    const answer = await httpGet(port, '/api/topology');
    assert.equal(answer.status, 200);
    const seen = JSON.parse(answer.text) as Topology;
    const direct = await callDaemon(host.control, 'Topology.Get', {});
    assert.deepEqual(
      seen.buses.map((bus) => [bus.name, bus.members.map((m) => m.name)]),
      direct.buses.map((bus) => [bus.name, bus.members.map((m) => m.name)]),
    );
    assert.deepEqual(seen.gateways, direct.gateways);
    const svg = await httpGet(port, '/api/topology.svg');
    assert.equal(svg.headers['content-type'], 'image/svg+xml; charset=utf-8');
    assert.match(svg.text, /data-key="gateway:powertrain\/body"/u);
    const metrics = await httpGet(port, '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.text, /^cantainer_buses 2$/mu);
  });

  it('pushes counters that move as frames flow, and a new picture when a bus comes and goes', async () => {
    const socket = engine();
    let sent = 0;
    let removed = false;
    const events = await readEvents(
      port,
      '/api/live',
      (seen) => {
        const updates = topologies(seen);
        const first = updates[0];
        const last = updates.at(-1);
        const bus = (update: TopologyUpdate | undefined, name: string): number | undefined =>
          update?.topology.buses.find((b) => b.name === name)?.frames;
        const moved = first !== undefined && (bus(last, 'powertrain') ?? 0) >= (bus(first, 'powertrain') ?? 0) + 5;
        const changes = updates.filter((u, i) => i > 0 && u.shape !== updates[i - 1]?.shape).length;
        return moved && removed && changes >= 2 && updates.at(-1)?.topology.buses.every((b) => b.name !== 'chassis') === true;
      },
      {
        timeoutMs: 10_000,
        onEvent: (event) => {
          if (event.event !== 'topology') return;
          const update = event.data as TopologyUpdate;
          const names = update.topology.buses.map((b) => b.name);
          // First frames, then a bus that comes, then goes.
          if (sent < 5) {
            for (let i = 0; i < 5; i++) socket.send(classicFrame({ id: 0x100, data: [sent++] }));
          } else if (!names.includes('chassis') && !removed) {
            void host.attach('chassis', 'wheel');
          } else if (names.includes('chassis')) {
            void callDaemon(host.control, 'Member.Detach', { bus: 'chassis', member: 'wheel' }).then(() => (removed = true));
          }
        },
      },
    );
    socket.close();
    assert.equal(events[0]?.event, 'hello');
    const busEvents = events.filter((e) => e.event === 'bus-event').map((e) => e.data as BusEvent);
    assert.ok(
      busEvents.some((e) => e.type === 'bus-created' && e.bus === 'chassis'),
      JSON.stringify(busEvents),
    );
    assert.ok(busEvents.some((e) => e.type === 'member-left' && e.bus === 'chassis'));
    const updates = topologies(events);
    const first = updates[0]?.topology.buses.find((b) => b.name === 'powertrain');
    const last = updates.at(-1)?.topology.buses.find((b) => b.name === 'powertrain');
    assert.equal(
      (last?.members.find((m) => m.name === 'engine')?.frames ?? 0) - (first?.members.find((m) => m.name === 'engine')?.frames ?? 0),
      5,
    );
    assert.ok(updates.some((u) => u.topology.buses.some((b) => b.name === 'chassis')));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(host.daemon.dashboard?.live.clients, 0, 'a page that went is no longer fed');
  });

  it("traces a bus in candump's format, only the ids asked for", async () => {
    const socket = engine();
    const events = await readEvents(
      port,
      '/api/trace?bus=powertrain&filter=100,!101',
      (seen) => seen.filter((e) => e.event === 'frames').flatMap((e) => (e.data as TraceBatch).lines).length >= 2,
      {
        onEvent: (event) => {
          if (event.event !== 'start') return;
          for (const id of [0x100, 0x101, 0x200, 0x100]) socket.send(classicFrame({ id, data: [0xde, 0xad] }));
        },
      },
    );
    socket.close();
    assert.deepEqual(events[0], { event: 'start', data: { bus: 'powertrain', fd: false } });
    const lines = events.filter((e) => e.event === 'frames').flatMap((e) => (e.data as TraceBatch).lines);
    assert.equal(lines.length, 2);
    for (const line of lines) assert.match(line, /^\(\d{10}\.\d{6}\) {2}powertrain {2}100 {3}\[2\] {2}DE AD$/u);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(host.daemon.dashboard?.traces(), 0);
    assert.equal([...host.kernel.sockets].filter((s) => !s.closed && s.ifname === 'monitor').length, 0, 'the trace socket is closed');
  });

  it('holds at most 16 traces at once, and closes their sockets when the pages go', async () => {
    const dashboard = host.daemon.dashboard;
    assert.ok(dashboard !== undefined);
    const open: ClientRequest[] = [];
    for (let i = 0; i < 16; i++)
      await new Promise<void>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/api/trace?bus=body', agent: false }, (res) => {
          assert.equal(res.statusCode, 200);
          res.once('data', () => {
            resolve();
          });
        });
        req.on('error', reject);
        req.end();
        open.push(req);
      });
    assert.equal(dashboard.traces(), 16);
    const refused = await httpGet(port, '/api/trace?bus=body');
    assert.deepEqual([refused.status, refused.text], [503, '16 traces are open: close one first\n']);
    for (const req of open) req.destroy();
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(dashboard.traces(), 0);
    assert.equal([...host.kernel.sockets].filter((s) => !s.closed && s.ifname === 'monitor').length, 0);
  });

  it('refuses a trace of an unknown bus or with a bad filter, saying why', async () => {
    const unknown = await httpGet(port, '/api/trace?bus=nowhere');
    assert.deepEqual([unknown.status, unknown.text], [404, 'no bus with name nowhere\n']);
    const bad = await httpGet(port, '/api/trace?bus=powertrain&filter=XYZ');
    assert.equal(bad.status, 400);
    assert.match(bad.text, /^filter: "XYZ" is not valid; allowed: ID or ID\/MASK/u);
  });
});

describe('the dashboard behind a token', () => {
  let dir: string;
  let host: SampleHost;
  let port: number;
  const TOKEN = 'k3y-0f-the-d4shboard-2026';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cantainer-token-'));
    writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
    chmodSync(join(dir, 'token'), 0o600);
    host = await sampleHost({ httpAddress: { kind: 'tcp', host: '127.0.0.1', port: 0 }, httpTokenFile: join(dir, 'token') });
    const address = host.daemon.dashboard?.address;
    assert.ok(address?.kind === 'tcp');
    port = address.port;
  });
  after(async () => {
    await host.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers only requests that show it, as a bearer token or the cookie the page sets', async () => {
    for (const path of ['/', '/api/topology', '/api/live', '/metrics', '/assets/app.js'])
      assert.equal((await httpGet(port, path)).status, 401, path);
    const wrong = await httpGet(port, '/api/topology', { headers: { Authorization: 'Bearer not-the-token-at-all' } });
    assert.equal(wrong.status, 401);
    assert.equal((await httpGet(port, '/api/topology', { headers: { Authorization: `Bearer ${TOKEN}` } })).status, 200);
    const opened = await httpGet(port, `/?token=${TOKEN}`);
    assert.equal(opened.status, 303);
    assert.equal(opened.headers.location, '/');
    const cookie = String(opened.headers['set-cookie']?.[0]).split(';')[0] ?? '';
    assert.match(String(opened.headers['set-cookie']?.[0]), /HttpOnly; SameSite=Strict/u);
    assert.equal((await httpGet(port, '/', { headers: { Cookie: cookie } })).status, 200);
    const live = await readEvents(port, '/api/live', (events) => events.some((e) => e.event === 'topology'), {
      headers: { Cookie: cookie },
    });
    assert.equal(live[0]?.event, 'hello');
    assert.equal((await httpGet(port, '/?token=wrong-token-guess-1234')).status, 401);
  });
});

describe('where the dashboard listens', () => {
  it('refuses a non-local address without a token, and a token without an address', () => {
    const base = { ...DAEMON_DEFAULTS };
    assert.throws(
      () => daemonSettings({ ...base, httpListen: '0.0.0.0:8080' }),
      (error: Error) =>
        error.message ===
        '--http-listen: "0.0.0.0:8080" is not valid; allowed: a local address (PORT, 127.0.0.1:PORT, [::1]:PORT, a unix socket); to listen on others, give --http-token FILE',
    );
    assert.throws(
      () => daemonSettings({ ...base, httpToken: '/etc/token' }),
      /^InvalidValueError: --http-token: "\/etc\/token" is not valid/u,
    );
    assert.throws(
      () => daemonSettings({ ...base, httpListen: 'nowhere' }),
      /--http-listen: "nowhere" is not valid; allowed: PORT or :PORT/u,
    );
    assert.deepEqual(daemonSettings({ ...base, httpListen: '8080' }).httpAddress, { kind: 'tcp', host: '127.0.0.1', port: 8080 });
    assert.deepEqual(daemonSettings({ ...base, httpListen: '0.0.0.0:8080', httpToken: '/etc/token' }).httpTokenFile, '/etc/token');
  });

  it('refuses a token file that is missing or holds no usable token, naming the option and the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cantainer-token-'));
    try {
      writeFileSync(join(dir, 'short'), 'abc\n');
      const context = { buses: undefined as never };
      for (const [file, why] of [
        [join(dir, 'short'), /a token of 16 or more characters/u],
        [join(dir, 'missing'), /a readable file holding a token/u],
      ] as const)
        await assert.rejects(
          serveDashboard({
            address: { kind: 'tcp', host: '0.0.0.0', port: 0 },
            tokenFile: file,
            context,
            kernel: undefined as never,
            log: memoryLogger(),
          }),
          (error: Error) => error.message.startsWith(`--http-token: "${file}" is not valid`) && why.test(error.message),
        );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
