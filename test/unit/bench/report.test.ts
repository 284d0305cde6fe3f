// The benchmark harness's pure parts: percentiles, the union of request intervals, profile summaries, and the
// report's verdicts on the targets.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { percentile, spread } from '../../../bench/stats.js';
import { unionMs } from '../../../bench/compose.js';
import { summariseProfile } from '../../../bench/profile.js';
import { cangwArguments } from '../../../bench/join.js';
import { againstCannelloni, parseResults, renderReport, soakVerdict, timingRowMet, type BenchResults } from '../../../bench/report.js';
import type { TimingResult } from '../../../bench/timing.js';
import type { TunnelResult } from '../../../bench/tunnel.js';
import type { SoakResult } from '../../../bench/soak.js';

describe('benchmark statistics', () => {
  it('takes percentiles by nearest rank: p99 of fewer than 100 samples is the largest', () => {
    const values = [5, 1, 4, 2, 3];
    assert.equal(percentile(values, 50), 3);
    assert.equal(percentile(values, 99), 5);
    assert.equal(percentile(values, 1), 1);
    assert.deepEqual(spread(Array.from({ length: 200 }, (_, i) => i + 1)), { p50: 100, p99: 198, samples: 200 });
    assert.ok(Number.isNaN(percentile([], 50)));
  });

  it('counts time covered by overlapping requests once', () => {
    assert.equal(unionMs([]), 0);
    assert.equal(
      unionMs([
        { start: 0, end: 10 },
        { start: 5, end: 15 },
        { start: 20, end: 25 },
        { start: 21, end: 22 },
      ]),
      20,
    );
  });
});

describe('profile summaries', () => {
  it('sums self and inclusive time per function, counting a recursive function once per stack, idle left out', () => {
    const frame = (functionName: string, line = 0): { functionName: string; url: string; lineNumber: number } => ({
      functionName,
      url: 'file:///x/dist/src/a.js',
      lineNumber: line,
    });
    const profile = {
      nodes: [
        { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 }, children: [2, 5] },
        { id: 2, callFrame: frame('apply', 9), children: [3] },
        { id: 3, callFrame: frame('walk', 19), children: [4] },
        { id: 4, callFrame: frame('walk', 19) },
        { id: 5, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } },
      ],
      samples: [2, 3, 4, 4, 5, 5, 5],
      timeDeltas: [1000, 1000, 1000, 1000, 1000, 1000, 1000],
    };
    const summary = summariseProfile(profile);
    assert.equal(summary.busyMs, 4);
    assert.deepEqual(summary.functions, [
      { function: 'apply dist/src/a.js:10', selfMs: 1, totalMs: 4 },
      { function: 'walk dist/src/a.js:20', selfMs: 3, totalMs: 3 },
    ]);
  });
});

describe('the join baseline', () => {
  it("spells cantainer's rule flags as cangw options", () => {
    assert.deepEqual(
      cangwArguments({ source: 'm1', destination: 'monitor', echo: true, allowToIncomingInterface: true, hopLimit: 1, fd: true }),
      ['-A', '-s', 'm1', '-d', 'monitor', '-e', '-i', '-X', '-l', '1'],
    );
  });
});

describe('BENCHMARKS.md', () => {
  const results: BenchResults = {
    machine: { kernel: '6.1.0', cpus: 2, cpuModel: 'QEMU', memoryMiB: 3000, node: 'v20', canGwMaxHops: 1 },
    join: [
      { members: 10, ours: { p50: 20, p99: 30, samples: 20 }, baseline: { p50: 2000, p99: 2100, samples: 10 }, rules: 20, spawns: 23 },
      {
        members: 50,
        ours: { p50: 90, p99: 120, samples: 15 },
        baseline: { p50: 10_800, p99: 11_000, samples: 5 },
        rules: 100,
        spawns: 103,
      },
    ],
    dataplane: [
      {
        members: 2,
        fd: false,
        ours: {
          fps: 9500,
          sent: 100,
          received: 100,
          lost: 0,
          duplicates: 0,
          outOfOrder: 0,
          latencyUs: { p50: 30, p99: 50, samples: 1000 },
        },
        baseline: {
          fps: 10_000,
          sent: 100,
          received: 100,
          lost: 0,
          duplicates: 0,
          outOfOrder: 0,
          latencyUs: { p50: 25, p99: 40, samples: 1000 },
        },
      },
      {
        members: 50,
        fd: true,
        ours: {
          fps: 5000,
          sent: 100,
          received: 98,
          lost: 2,
          duplicates: 0,
          outOfOrder: 0,
          latencyUs: { p50: 300, p99: 500, samples: 1000 },
        },
        baseline: {
          fps: 10_000,
          sent: 100,
          received: 100,
          lost: 0,
          duplicates: 0,
          outOfOrder: 0,
          latencyUs: { p50: 25, p99: 40, samples: 1000 },
        },
      },
    ],
  };

  it('reads the guest output back, ignoring everything but result lines', () => {
    const output = [
      'bench: join: started',
      `BENCH_RESULT ${JSON.stringify({ section: 'join', value: results.join })}`,
      'noise BENCH_RESULT {"section":"machine","value":{"cpus":2}}',
    ].join('\n');
    assert.deepEqual(parseResults(output), { join: results.join, machine: { cpus: 2 } });
  });

  it('gives each section its table and a verdict on its target, and keeps the raw results', () => {
    const text = renderReport(
      results,
      { date: '2026-11-26', commit: 'abcdef1234567890', hostCpu: 'Some CPU', accel: 'tcg', totalSeconds: 600 },
      'Reading the figures.',
    );
    assert.match(text, /^# Benchmarks\n\nWritten by `npm run bench` on 2026-11-26 \(commit abcdef123456; 10 min\)/u);
    assert.match(text, /\| 50 \| 90\.0 \| 120 \| 15 \| 10800 \| 11000 \| 5 \| 103 \(100 rules\) \| 120x \|/u);
    assert.match(text, /Target: at least 100x faster at 50 members: \*\*met\*\*: 120x\./u);
    assert.match(text, /\| classic \(8 bytes\) \| 2 \| 9500 \| 0\/100 \| 0 \| 0 \| 30 \/ 50 \| 95% \| 19000 \(190%\) \| 10000 \|/u);
    assert.match(text, /Target: at least 90% of the baseline's throughput with zero loss, exactly once: \*\*missed\*\* in FD 50\./u);
    assert.ok(!text.includes('## 3.'), 'a section not measured is left out');
    const raw = /```json\n([\s\S]*?)\n```/u.exec(text)?.[1];
    assert.deepEqual(JSON.parse(raw ?? '{}'), results);
  });

  it('judges a timed bus row within 5% of the formula with every frame accounted for, and reports arbitration', () => {
    const row = {
      label: '8-byte standard',
      bitrate: 500_000,
      measuredFps: 4000,
      formulaFps: 4100,
      bitsPerFrame: 122,
      sent: 15000,
      received: 12000,
      busFull: 3000,
      unwired: 0,
      inOrder: true,
      writesTaken: true,
    };
    assert.equal(timingRowMet(row), true);
    assert.equal(timingRowMet({ ...row, measuredFps: 3800 }), false, '7% slow');
    assert.equal(timingRowMet({ ...row, busFull: 2999 }), false, 'a frame unaccounted for');
    assert.equal(timingRowMet({ ...row, inOrder: false }), false);
    const timing: TimingResult = {
      rows: [row, { ...row, label: '64-byte FD with BRS', dbitrate: 2_000_000, measuredFps: 3000 }],
      arbitration: {
        bitrate: 125_000,
        frameUs: 976,
        share: 0.991,
        floodFrames: 3500,
        sparseSent: 400,
        sparseReceived: [],
        waitUs: { p50: 1500, p99: 2900, max: 3100 },
      },
    };
    const text = renderReport({ timing }, { date: '2026-12-04', commit: 'abc', hostCpu: 'x', accel: 'tcg', totalSeconds: 60 }, '');
    assert.match(text, /\| 8-byte standard \| 500k \| 122\.0 \| 4100 \| 4000 \| 0\.976 \| 15000 \| 12000 \| 3000 \| yes \|/u);
    assert.match(text, /\| 64-byte FD with BRS \| 500k \/ 2M \|/u);
    assert.match(text, /\*\*missed\*\* in 64-byte FD with BRS at 500k\./u);
    assert.match(text, /99\.1% were 0x100 \(target 95%\)\. 0x050: 0 of 400 received, .* p99 2\.90 ms/u);
  });

  it('judges a tunnel against cannelloni on each target: frames delivered, rate, nothing lost over TCP, p99', () => {
    const figures = (received: number, fps: number, p99: number, lost = 0): TunnelResult['ours'] => ({
      fps,
      sent: 1000,
      received,
      lost,
      duplicates: 0,
      outOfOrder: 0,
      latencyUs: { p50: 100, p99, samples: 1000 },
    });
    const row = (ours: TunnelResult['ours'], theirs?: TunnelResult['ours']): TunnelResult => ({
      transport: 'tcp',
      fd: false,
      ours,
      baseline: figures(1000, 20_000, 50),
      counters: {},
      ...(theirs === undefined ? {} : { cannelloni: theirs }),
    });
    assert.equal(againstCannelloni(row(figures(1000, 9000, 900))), undefined, 'no reference, no verdict');
    assert.deepEqual(againstCannelloni(row(figures(1000, 9000, 900), figures(990, 8000, 1000))), {
      delivered: true,
      rate: true,
      tail: true,
      tcpLossless: true,
    });
    assert.deepEqual(againstCannelloni(row(figures(980, 7000, 1100, 20), figures(990, 8000, 1000))), {
      delivered: false,
      rate: false,
      tail: false,
      tcpLossless: false,
    });
  });

  it('calls a soak flat only when memory, descriptors, join latency and the kernel objects did not grow after its first tenth', () => {
    const window = (from: number, rssMiB: number, fds: number, p50: number): SoakResult['windows'][number] => ({
      fromCycle: from,
      toCycle: from + 99,
      joinMs: { p50, p99: p50 * 2, samples: 100 },
      rssMiB,
      fds,
    });
    const soak = (last: SoakResult['windows'][number], linksAfter = 10): SoakResult => ({
      cycles: 1000,
      gatewayCycles: 100,
      residents: 4,
      seconds: 60,
      windows: [window(1, 40, 30, 10), window(101, 60, 30, 10), window(501, 62, 30, 10.5), last],
      linksBefore: 10,
      linksAfter,
    });
    assert.deepEqual(soakVerdict(soak(window(901, 64, 30, 11))), { rssMiB: 4, fds: 0, joinRatio: 1.1, flat: true });
    assert.equal(soakVerdict(soak(window(901, 90, 30, 11))).flat, false, '30 MiB more');
    assert.equal(soakVerdict(soak(window(901, 60, 31, 10))).flat, false, 'a descriptor more');
    assert.equal(soakVerdict(soak(window(901, 60, 30, 20))).flat, false, 'joins twice as slow');
    assert.equal(soakVerdict(soak(window(901, 60, 30, 10), 12)).flat, false, 'kernel objects left behind');
  });
});
