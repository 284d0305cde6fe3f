// The commands that look at buses, with a real dockerd: `ls` and `inspect` report the containers, their interfaces,
// the rules and their counters; `dump` prints what candump prints on the bus's monitor (the same lines, default
// and -L); `send` puts frames on the bus that every member receives once.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { CanSocketPort } from '../../src/kernel/index.js';
import { cansend, containerSocket, ensureDockerWithImages, sh, startCantainerDaemon, waitFor, type RunningDaemon } from '../support/lab.js';

const CONTROL = '/run/cantainer-cli/control.sock';
const cantainer = (args: string): string => sh(`node bin/cantainer ${args} --control-socket ${CONTROL}`, 60_000);

/** Runs a command in the background; resolves with its standard output when it exits. */
function background(command: string): Promise<string> {
  const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${command}: exit ${code ?? 'signal'}: ${out}`));
    });
  });
}

/** Receivers on the monitor of a bus namespace (sockets and can-gw rules), from /proc/net/can: a tracer is ready once its socket shows there. */
function receivers(ns: string): number {
  return Number(sh(`nsenter --net=${ns} sh -c 'cat /proc/net/can/rcvlist_* 2>/dev/null | grep -c " monitor "' || true`).trim() || '0');
}

interface Inspected {
  namespace: string;
  frames: number;
  members: Array<{ container?: string; interface?: string; send?: string[] }>;
  rules: Array<{ source: string; destination: string; handled: number }>;
  drift: string[];
}

describe('ls, inspect, dump and send with a real dockerd', () => {
  let daemon: RunningDaemon;
  let sockets: CanSocketPort[] = [];

  before(async () => {
    ensureDockerWithImages();
    daemon = await startCantainerDaemon(
      [
        '--state-dir',
        '/run/cantainer-cli/state',
        '--control-socket',
        CONTROL,
        '--netns-dir',
        '/run/cantainer-cli/netns',
        '--metrics-listen',
        '9420',
      ],
      '/run/cantainer-cli.log',
    );
    sh('docker network create -d cantainer --ipam-driver null -o fd=true chassis', 60_000);
    sh(
      'docker run -d --name c1 --network chassis lab/canutils sleep 3600 && docker run -d --name c2 --network chassis lab/canutils sleep 3600',
      120_000,
    );
  });

  after(async () => {
    for (const socket of sockets) socket.close();
    sh('docker rm -f c1 c2 >/dev/null 2>&1; docker network rm chassis >/dev/null 2>&1; true', 120_000);
    await daemon.stop();
  });

  it('inspects a bus: its containers and their interfaces from Docker, 2 ends, the mesh rules, no drift', () => {
    const bus = JSON.parse(cantainer('inspect chassis --json')) as Inspected;
    assert.deepEqual(bus.members.map((m) => [m.container, m.interface]).sort(), [
      ['c1', 'can0'],
      ['c2', 'can0'],
    ]);
    // Two members on an FD bus: (2*1 + 2*2) paths, a classic and an FD rule each.
    assert.equal(bus.rules.length, 12);
    assert.deepEqual(bus.drift, []);
    assert.match(cantainer('inspect chassis'), /CONTAINER +INTERFACE +HOST END[\s\S]*\bc1 +can0 +m[0-9a-f]{12}/u);
  });

  it('dumps what candump prints on the monitor, in both formats, and counts the frames in ls', async () => {
    const frames = ['123#DEADBEEF', '12345678#1122', '7DF#R', '321##1' + '11'.repeat(12)];
    const ns = (JSON.parse(cantainer('inspect chassis --json')) as Inspected).namespace;
    const base = receivers(ns);
    const ours = background(`node bin/cantainer dump chassis --count 4 --control-socket ${CONTROL}`);
    const oursLog = background(`node bin/cantainer dump chassis --count 4 --log --control-socket ${CONTROL}`);
    const theirs = background(`nsenter --net=${ns} candump -n 4 monitor`);
    const theirsLog = background(`nsenter --net=${ns} candump -n 4 -L monitor`);
    await waitFor('the four tracers to listen on the monitor', () => receivers(ns) >= base + 4, 20_000);
    cansend('c1', 'can0', frames);
    const [a, b, c, e] = await Promise.all([ours, oursLog, theirs, theirsLog]);
    const lines = (text: string): string[] =>
      text
        .trimEnd()
        .split('\n')
        .map((line) => line.trimEnd());
    assert.deepEqual(lines(a), lines(c.replaceAll('  monitor  ', '  chassis  ')), 'the default format, line for line');
    const strip = (text: string): string[] => lines(text).map((line) => line.replace(/^\(\d{10}\.\d{6}\) \S+ /u, ''));
    assert.deepEqual(strip(b), strip(e), 'the -L format, but for the interface name');
    const stamps = (text: string): string[] => lines(text).map((line) => /^\((\d{10}\.\d{6})\)/u.exec(line)?.[1] ?? line);
    assert.deepEqual(stamps(b), stamps(e), "the kernel's receive times, as candump -L shows them");
    assert.match(lines(b)[0] ?? '', /^\(\d{10}\.\d{6}\) chassis 123#DEADBEEF$/u);
    const listed = JSON.parse(cantainer('ls --json')) as Array<{ name: string; frames: number; members: number }>;
    assert.deepEqual(
      listed.map((bus) => [bus.name, bus.members, bus.frames]),
      [['chassis', 2, 4]],
    );
  });

  it('serves Prometheus metrics: members, the can-gw counters, requests by endpoint, reconciler runs', async () => {
    const answer = await fetch('http://127.0.0.1:9420/metrics');
    assert.equal(answer.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const text = await answer.text();
    const value = (series: string): number | undefined => {
      const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    assert.equal(value('cantainer_buses'), 1);
    assert.equal(value('cantainer_bus_members{bus="chassis"}'), 2);
    assert.equal(value('cantainer_bus_wired{bus="chassis"}'), 1);
    // The 4 frames c1 sent in the test before: each to c2 and to the monitor, then echoed in the monitor and
    // stopped there by the hop limit (its 2 rules), exactly as the frame simulator counts.
    assert.equal(value('cantainer_bus_frames_total{bus="chassis"}'), 4);
    assert.equal(value('cantainer_bus_frames_forwarded_total{bus="chassis"}'), 8);
    assert.equal(value('cantainer_bus_frames_dropped_total{bus="chassis"}'), 0);
    assert.equal(value('cantainer_bus_frames_deleted_total{bus="chassis"}'), 8);
    assert.equal(value('cantainer_requests_total{socket="plugin",method="NetworkDriver.Join",code="200"}'), 2);
    assert.equal(value('cantainer_requests_total{socket="plugin",method="NetworkDriver.CreateNetwork",code="200"}'), 1);
    assert.equal(value('cantainer_request_duration_seconds_count{socket="plugin",method="NetworkDriver.Join"}'), 2);
    assert.ok((value('cantainer_requests_total{socket="control",method="Bus.Inspect",code="200"}') ?? 0) >= 2);
    assert.ok((value('cantainer_reconcile_runs_total') ?? 0) >= 3);
    assert.equal(value('cantainer_drift_corrections_total'), 0);
    assert.equal(value('cantainer_reconcile_failures_total'), 0);
    assert.ok((value('process_resident_memory_bytes') ?? 0) > 10e6);
  });

  it('filters the trace: ids to see, and ! for ids to leave out', async () => {
    const ns = (JSON.parse(cantainer('inspect chassis --json')) as Inspected).namespace;
    const base = receivers(ns);
    const seen = background(
      `node bin/cantainer dump chassis --filter 100/700 --filter '!120/7F0' --log --timeout 3 --control-socket ${CONTROL}`,
    );
    await waitFor('the tracer to listen on the monitor', () => receivers(ns) > base, 20_000);
    cansend('c1', 'can0', ['123#01', '101#02', '201#03']);
    const lines = (await seen)
      .trimEnd()
      .split('\n')
      .map((line) => line.replace(/^\(\d{10}\.\d{6}\) chassis /u, ''));
    // 100-1FF but not 120-12F: 101 only.
    assert.deepEqual(lines, ['101#02']);
  });

  it('sends frames every member receives once', async () => {
    sockets = [containerSocket('c1', 'can0'), containerSocket('c2', 'can0')];
    cantainer('send chassis 7E0#0102 18DAF110#03 123##1AABBCCDDEEFF00112233445566778899');
    const got = await Promise.all(sockets.map((socket) => socket.receiveAll(500)));
    for (const frames of got)
      assert.deepEqual(
        frames.map((f) => [f.kind, f.id.toString(16), f.data.length]),
        [
          ['classic', '7e0', 2],
          ['classic', '18daf110', 1],
          ['fd', '123', 16],
        ],
      );
    assert.match(
      sh(`node bin/cantainer send chassis 12#01 --control-socket ${CONTROL} 2>&1 || true`),
      /frame 1: "12#01" is not valid; allowed: ID#DATA as cansend takes it/u,
    );
  });

  it('writes --log lines canplayer replays for a bus whose name is longer than an interface name (18 characters)', async () => {
    sh('docker network create -d cantainer --ipam-driver null instrument-cluster', 60_000);
    try {
      const ns = (JSON.parse(cantainer('inspect instrument-cluster --json')) as Inspected).namespace;
      const base = receivers(ns);
      const dumping = background(`node bin/cantainer dump instrument-cluster --log --count 1 --control-socket ${CONTROL}`);
      await waitFor('the tracer to listen on the monitor', () => receivers(ns) > base, 20_000);
      cantainer('send instrument-cluster 2A0#0102');
      const line = (await dumping).trim();
      assert.match(line, /^\(\d{10}\.\d{6}\) instrument-clus 2A0#0102$/u, 'cut to the 15 characters an interface name has');
      writeFileSync('/run/cantainer-cli/long.log', `${line}\n`);
      const again = background(`node bin/cantainer dump instrument-cluster --log --interface vcan0 --count 1 --control-socket ${CONTROL}`);
      await waitFor('the tracer to listen on the monitor', () => receivers(ns) > base, 20_000);
      sh(`nsenter --net=${ns} canplayer -I /run/cantainer-cli/long.log monitor=instrument-clus`);
      assert.match((await again).trim(), /^\(\d{10}\.\d{6}\) vcan0 2A0#0102$/u, 'canplayer put the logged frame on the bus');
    } finally {
      sh('docker network rm instrument-cluster', 60_000);
    }
  });

  it('replays a candump -L log into the bus keeping its timing, and canplayer replays what dump --log wrote', async () => {
    writeFileSync(
      '/run/cantainer-cli/replay.log',
      [
        '(1700000000.000000) can0 101#01',
        '(1700000000.200000) can0 102#02',
        '(1700000000.400000) can0 103#03',
        '(1700000000.400000) other 104#04',
      ].join('\n'),
    );
    const started = Date.now();
    cantainer('replay chassis /run/cantainer-cli/replay.log --interface can0');
    const took = Date.now() - started;
    const got = await Promise.all(sockets.map((socket) => socket.receiveAll(500)));
    for (const frames of got)
      assert.deepEqual(
        frames.map((f) => f.id.toString(16)),
        ['101', '102', '103'],
      );
    assert.ok(took >= 400, `the log spans 400 ms; the replay took ${took} ms`);
    cantainer('replay chassis /run/cantainer-cli/replay.log --speed 0');
    assert.deepEqual(
      (await sockets[0]!.receiveAll(500)).map((f) => f.id.toString(16)),
      ['101', '102', '103', '104'],
    );
    // What `dump --log` writes, canplayer reads: the bus's name stands for the interface, mapped onto the monitor.
    const ns = (JSON.parse(cantainer('inspect chassis --json')) as Inspected).namespace;
    const base = receivers(ns);
    const dumping = background(`node bin/cantainer dump chassis --log --count 1 --control-socket ${CONTROL}`);
    await waitFor('the tracer to listen on the monitor', () => receivers(ns) > base, 20_000);
    cantainer('send chassis 1FF#0102');
    const line = (await dumping).trim();
    assert.match(line, /^\(\d{10}\.\d{6}\) chassis 1FF#0102$/u);
    await Promise.all(sockets.map((socket) => socket.receiveAll(300)));
    writeFileSync('/run/cantainer-cli/dump.log', `${line}\n`);
    sh(`nsenter --net=${ns} canplayer -I /run/cantainer-cli/dump.log monitor=chassis`);
    assert.deepEqual(
      (await sockets[1]!.receiveAll(500)).map((f) => f.id.toString(16)),
      ['1ff'],
    );
  });

  it('streams the lifecycle as Docker drives it: network, container, gateway (cantainer events --json)', async () => {
    const following = background(`node bin/cantainer events --json --count 4 --control-socket ${CONTROL}`);
    await waitFor(
      'the event stream to open',
      () => sh('grep -c \'"msg":"stream opened"\' /run/cantainer-cli.log || true').trim() !== '0',
      20_000,
    );
    sh(
      'docker network create -d cantainer --ipam-driver null axle && docker run -d --name a1 --network axle lab/canutils sleep 3600',
      120_000,
    );
    cantainer('gateway add axle chassis');
    const events = (await following)
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; bus?: string; gateway?: string; detail?: string });
    sh('docker rm -f a1 && docker network rm axle', 60_000);
    assert.deepEqual(
      events.map((e) => e.type),
      ['bus-created', 'bus-named', 'member-joined', 'gateway-added'],
    );
    assert.equal(events[1]?.bus, 'axle');
    assert.deepEqual([events[3]?.gateway, events[3]?.detail], ['axle -> chassis', 'wired']);
  });
});
