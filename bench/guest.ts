// The benchmark sections, run inside the lab VM (`npm run bench` boots it): each prints one `BENCH_RESULT` line of
// JSON that the host turns into BENCHMARKS.md. `node dist/bench/guest.js [section...]` runs some only.
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { measureJoin } from './join.js';
import { measureDaemon } from './daemon.js';
import { measureDataPlane } from './dataplane.js';
import { measureProfiles } from './profiles.js';
import { measureCompose } from './compose.js';
import { measureTunnel } from './tunnel.js';
import { measureSoak } from './soak.js';
import { measureTiming } from './timing.js';
import { SECTIONS, type Section } from './sections.js';

const log = (line: string): void => {
  console.log(`bench: ${line}`);
};

function emit(section: string, value: unknown): void {
  console.log(`BENCH_RESULT ${JSON.stringify({ section, value })}`);
}

function machine(): object {
  const model = cpus()[0]?.model ?? 'unknown';
  const maxHops = readFileSync('/sys/module/can_gw/parameters/max_hops', 'utf8').trim();
  return {
    kernel: release(),
    cpus: cpus().length,
    cpuModel: model,
    memoryMiB: Math.round(totalmem() / 2 ** 20),
    node: process.version,
    canGwMaxHops: Number(maxHops),
  };
}

async function main(argv: readonly string[]): Promise<number> {
  // --quick: small sizes and few samples, to see that every section works (not for figures).
  const quick = argv.includes('--quick');
  const named = SECTIONS.filter((section) => argv.includes(section));
  const wanted = named.length === 0 ? SECTIONS : named;
  emit('machine', machine());
  let failed = 0;
  for (const section of wanted) {
    const started = performance.now();
    log(`${section}: started`);
    try {
      await runSection(section, quick);
    } catch (error) {
      // The other sections still run: one failure costs its own figures only.
      failed += 1;
      log(`${section}: FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    }
    log(`${section}: ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
  return failed === 0 ? 0 : 1;
}

async function runSection(section: Section, quick: boolean): Promise<void> {
  switch (section) {
    case 'join':
      emit(
        section,
        await measureJoin(
          quick ? [1, 10] : [1, 10, 50, 100],
          (members) =>
            quick
              ? { ours: 3, baseline: 2 }
              : members <= 10
                ? { ours: 20, baseline: 10 }
                : members <= 50
                  ? { ours: 15, baseline: 5 }
                  : { ours: 10, baseline: 3 },
          log,
        ),
      );
      break;
    case 'daemon':
      emit(section, await measureDaemon(quick ? 1 : 9, log));
      break;
    case 'dataplane':
      emit(section, await measureDataPlane(quick ? [2, 10] : [2, 10, 50], quick ? 2000 : 20_000, quick ? 1 : 3, log));
      break;
    case 'tunnel':
      emit(section, await measureTunnel(quick ? 2000 : 20_000, quick ? 1 : 3, log));
      break;
    case 'timing':
      emit(section, await measureTiming(quick ? 1 : 3, log));
      break;
    case 'compose':
      emit(section, await measureCompose(20, quick ? 1 : 3, log));
      break;
    case 'profile':
      emit(section, await measureProfiles(30, log));
      break;
    case 'soak':
      emit(section, await measureSoak(quick ? 100 : 5000, log));
      break;
  }
}

process.exitCode = await main(process.argv.slice(2));
