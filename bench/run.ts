// `npm run bench [-- SECTION...] [--quick]`: boots the lab VM, runs the benchmark sections inside it (join,
// dataplane, tunnel, daemon, profile, compose, soak; all by default) and writes BENCHMARKS.md. Sections not run keep their last
// results (read back from the report's raw JSON), so one section can be measured again alone.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chooseAccelerator } from '../lab/accel.js';
import { ensureArtefacts, missingHostTools } from '../lab/artefacts.js';
import { runInLab } from '../lab/vm.js';
import { buildExecutable } from '../packaging/sea.js';
import { packageVersion } from '../src/version.js';
import { parseResults, renderReport, type BenchResults } from './report.js';
import { SECTIONS } from './sections.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const guestDir = join(root, 'lab', 'guest');
const REPORT = join(root, 'BENCHMARKS.md');

const HELP = `usage: npm run bench [-- SECTION...] [--quick] [--timeout SECONDS]

Runs the benchmarks in the lab VM and writes BENCHMARKS.md. Sections: ${SECTIONS.join(', ')} (all by default).
--quick      small sizes and few samples, to see that the sections work; BENCHMARKS.md is left alone
--render     write BENCHMARKS.md again from its raw results and bench/analysis.md, running nothing
--timeout S  give up after S seconds (default 3600)
`;

function previous(): BenchResults {
  if (!existsSync(REPORT)) return {};
  const match = /## Raw results\n\n```json\n([\s\S]*?)\n```/u.exec(readFileSync(REPORT, 'utf8'));
  return match?.[1] === undefined ? {} : (JSON.parse(match[1]) as BenchResults);
}

/** Writes BENCHMARKS.md: the results, the hand-written reading of them (bench/analysis.md), the machine. */
function writeReport(results: BenchResults, accel: string, totalSeconds: number, commit?: string): void {
  const analysisFile = join(root, 'bench', 'analysis.md');
  const analysis = existsSync(analysisFile) ? readFileSync(analysisFile, 'utf8') : '';
  const hostCpu = /^model name\s*:\s*(.+)$/mu.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  const old = existsSync(REPORT) ? /\(commit ([0-9a-f]+); (\d+) min\)/u.exec(readFileSync(REPORT, 'utf8')) : null;
  const facts =
    commit === 'unchanged' && old !== null ? { commit: old[1] ?? head, totalSeconds: Number(old[2]) * 60 } : { commit: head, totalSeconds };
  const lab =
    commit === 'unchanged'
      ? (/\((TCG|KVM)[,)]/u.exec(existsSync(REPORT) ? readFileSync(REPORT, 'utf8') : '')?.[1]?.toLowerCase() ?? accel)
      : accel;
  writeFileSync(REPORT, renderReport(results, { date: new Date().toISOString().slice(0, 10), hostCpu, accel: lab, ...facts }, analysis));
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HELP);
    return 0;
  }
  if (argv.includes('--render')) {
    writeReport(previous(), 'render', 0, 'unchanged');
    console.error('bench: BENCHMARKS.md written again from its raw results');
    return 0;
  }
  const unknown = argv.filter(
    (arg, i) => !(SECTIONS as readonly string[]).includes(arg) && arg !== '--quick' && arg !== '--timeout' && argv[i - 1] !== '--timeout',
  );
  if (unknown.length > 0) {
    process.stderr.write(`bench: unknown argument ${unknown.join(' ')}\n${HELP}`);
    return 2;
  }
  const missing = missingHostTools();
  if (missing) {
    console.error(missing);
    return 2;
  }
  const quick = argv.includes('--quick');
  const at = argv.indexOf('--timeout');
  const timeoutS = at >= 0 ? Number(argv[at + 1]) : 3600;
  const sections = SECTIONS.filter((section) => argv.includes(section));
  const log = (line: string): void => {
    console.error(line);
  };
  if (sections.length === 0 || sections.includes('daemon')) {
    // The daemon section measures the self-contained executable beside the checkout: built now, from this checkout.
    log(`bench: built ${(await buildExecutable(root, join(root, 'dist', 'pkg'), packageVersion())).executable}`);
  }
  const artefacts = ensureArtefacts(guestDir, log);
  const accel = await chooseAccelerator(artefacts, guestDir, log);
  const started = Date.now();
  let pending = '';
  const result = await runInLab(artefacts, guestDir, {
    script: `sh lab/guest/bench.sh ${sections.length === 0 ? 'all' : sections.join(' ')}${quick ? ' --quick' : ''}`,
    cwd: root,
    timeoutMs: timeoutS * 1000,
    accel,
    memoryMb: 3072,
    onConsole: (text) => {
      // Whole lines only: the console arrives in pieces.
      const lines = (pending + text).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) if (line.startsWith('bench: ') || /error|Error/u.test(line)) process.stderr.write(`${line}\n`);
    },
  });
  const measured = parseResults(result.output);
  if (result.status !== 0)
    process.stderr.write(
      `${result.output.slice(-4000)}\nbench: the guest failed (status ${result.status ?? 'none'}${result.timedOut ? ', timed out' : ''}); the sections it finished are written\n`,
    );
  if (quick) {
    process.stdout.write(`${JSON.stringify(measured, null, 1)}\n`);
    return 0;
  }
  writeReport({ ...previous(), ...measured }, accel, (Date.now() - started) / 1000);
  console.error(
    `bench: BENCHMARKS.md written with ${
      Object.keys(measured)
        .filter((key) => key !== 'machine')
        .join(', ') || 'no section'
    } (${Math.round((Date.now() - started) / 1000)} s)`,
  );
  return result.status === 0 ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
