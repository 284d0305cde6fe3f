// Section 3: `docker compose up` of 20 ECUs on one cantainer bus with a real dockerd: the total time, and the share
// of it spent inside the daemon (the union of its requests' intervals, from its request log). Against the same 20
// containers on a bridge network, in the same VM.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { median } from './stats.js';

export interface ComposeResult {
  readonly services: number;
  readonly rounds: number;
  /** Seconds for `up -d`, median of the rounds. */
  readonly upSeconds: number;
  readonly bridgeUpSeconds: number;
  /** Seconds within `up` when at least one plugin request was being handled by the daemon, and their share. */
  readonly daemonSeconds: number;
  readonly daemonShare: number;
  readonly requests: number;
  /** The busiest methods, by their summed time. */
  readonly methods: ReadonlyArray<{ readonly method: string; readonly count: number; readonly totalSeconds: number }>;
  /** Rounds that failed once (the engine, not the plugin, under emulation) and were run again. */
  readonly retried: readonly string[];
  readonly composeVersion: string;
  readonly dockerVersion: string;
}

const DIR = '/run/cantainer-bench/compose';
const PLUGIN = '/run/docker/plugins/cantainer.sock';

function composeFile(services: number, driver: 'cantainer' | 'bridge'): string {
  const lines = ['version: "2.4"', 'services:'];
  for (let i = 1; i <= services; i++)
    lines.push(`  ecu${i}:`, '    image: lab/canutils', '    command: ["sleep", "3600"]', '    networks: [bus]');
  lines.push('networks:', '  bus:', `    driver: ${driver}`);
  return `${lines.join('\n')}\n`;
}

function compose(file: string, ...args: string[]): void {
  // Under emulation twenty containers at once can keep the engine busy past docker-compose's 60 s HTTP timeout.
  const run = spawnSync('docker-compose', ['-p', 'benchecus', '-f', file, ...args], {
    encoding: 'utf8',
    timeout: 900_000,
    env: { ...process.env, COMPOSE_HTTP_TIMEOUT: '600' },
  });
  if (run.status !== 0)
    throw new Error(
      `docker-compose ${args.join(' ')}: exit ${run.status ?? run.signal ?? '?'}: ${run.stderr.split('\n').slice(-8).join('\n')}`,
    );
}

interface Request {
  readonly method: string;
  readonly start: number;
  readonly end: number;
}

function requests(logFile: string, from: number, to: number): Request[] {
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((line) => line.includes('"msg":"request'))
    .map((line) => JSON.parse(line) as { time: string; method: string; ms: number })
    .map((entry) => ({ method: entry.method, end: Date.parse(entry.time), start: Date.parse(entry.time) - entry.ms }))
    .filter((request) => request.end >= from && request.start <= to);
}

/** Milliseconds covered by at least one interval. */
export function unionMs(intervals: ReadonlyArray<{ readonly start: number; readonly end: number }>): number {
  const sorted = [...intervals].sort((a, b) => a.start - b.start);
  let total = 0;
  let [start, end] = [Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY];
  for (const interval of sorted) {
    if (interval.start > end) {
      if (end > start) total += end - start;
      [start, end] = [interval.start, interval.end];
    } else {
      end = Math.max(end, interval.end);
    }
  }
  if (end > start) total += end - start;
  return total;
}

export async function measureCompose(services: number, rounds: number, log: (line: string) => void): Promise<ComposeResult> {
  mkdirSync(DIR, { recursive: true });
  const logFile = join(DIR, 'daemon.log');
  rmSync(logFile, { force: true });
  const out = openSync(logFile, 'a');
  const daemon = spawn(
    process.execPath,
    [
      'bin/cantainer',
      'daemon',
      '--log-level',
      'info',
      '--state-dir',
      join(DIR, 'state'),
      '--control-socket',
      join(DIR, 'control.sock'),
      '--netns-dir',
      join(DIR, 'netns'),
    ],
    { stdio: ['ignore', out, out] },
  );
  try {
    for (let i = 0; i < 300 && !readFileSync(logFile, 'utf8').includes('serving the Docker network plugin'); i++)
      await new Promise((resolve) => setTimeout(resolve, 100));
    const files = { cantainer: join(DIR, 'cantainer.yaml'), bridge: join(DIR, 'bridge.yaml') };
    writeFileSync(files.cantainer, composeFile(services, 'cantainer'));
    writeFileSync(files.bridge, composeFile(services, 'bridge'));
    const ours: number[] = [];
    const bridge: number[] = [];
    const inside: number[] = [];
    let seen: Request[] = [];
    const retried: string[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const [kind, file] of [
        ['bridge', files.bridge],
        ['cantainer', files.cantainer],
      ] as const) {
        let from = Date.now();
        try {
          compose(file, 'up', '-d');
        } catch (error) {
          // Docker under emulation sometimes fails a container's start (its network hook times out): the round
          // is run again from nothing, and the failure reported.
          retried.push(
            `${kind} round ${round + 1}: ${error instanceof Error ? (error.message.split('\n').find((line) => line.startsWith('ERROR')) ?? error.message) : String(error)}`,
          );
          compose(file, 'down', '--timeout', '1');
          from = Date.now();
          compose(file, 'up', '-d');
        }
        const to = Date.now();
        compose(file, 'down', '--timeout', '1');
        if (kind === 'bridge') {
          bridge.push((to - from) / 1000);
          continue;
        }
        ours.push((to - from) / 1000);
        const during = requests(logFile, from, to);
        inside.push(unionMs(during) / 1000);
        seen = during;
      }
    }
    const methods = new Map<string, { count: number; totalSeconds: number }>();
    for (const request of seen) {
      const entry = methods.get(request.method) ?? { count: 0, totalSeconds: 0 };
      methods.set(request.method, { count: entry.count + 1, totalSeconds: entry.totalSeconds + (request.end - request.start) / 1000 });
    }
    const upSeconds = median(ours);
    const daemonSeconds = median(inside);
    const result: ComposeResult = {
      services,
      rounds,
      upSeconds,
      bridgeUpSeconds: median(bridge),
      daemonSeconds,
      daemonShare: daemonSeconds / upSeconds,
      requests: seen.length,
      methods: [...methods.entries()]
        .map(([method, entry]) => ({ method, count: entry.count, totalSeconds: Math.round(entry.totalSeconds * 1000) / 1000 }))
        .sort((a, b) => b.totalSeconds - a.totalSeconds),
      retried,
      composeVersion: execFileSync('docker-compose', ['version', '--short'], { encoding: 'utf8' }).trim(),
      dockerVersion: execFileSync('docker', ['version', '--format', '{{.Server.Version}}'], { encoding: 'utf8' }).trim(),
    };
    log(
      `compose up of ${services} ECUs: ${upSeconds.toFixed(1)} s (bridge ${result.bridgeUpSeconds.toFixed(1)} s), inside the daemon ${daemonSeconds.toFixed(2)} s (${(100 * result.daemonShare).toFixed(1)}%), ${seen.length} requests`,
    );
    return result;
  } finally {
    daemon.kill('SIGTERM');
    await new Promise((resolve) => daemon.once('exit', resolve));
    rmSync(PLUGIN, { force: true });
  }
}
