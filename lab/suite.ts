// Runs the real-kernel test suite (the files lab/files.ts names) in lab VMs and reports what ran.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { INSTALL_FILES, LAB_FILES, MATRIX_FILES, TRIXIE_FILES } from './files.js';
import { fileURLToPath } from 'node:url';
import { ensureArtefacts, missingHostTools } from './artefacts.js';
import { chooseAccelerator } from './accel.js';
import { ensureEngine, MATRIX_SUITES } from './engines.js';
import { ensureBookwormDockerRoot, ensureTrixieRoot, INSTALL_VM_MEMORY_MB } from './roots.js';
import { runInLab, type Accelerator } from './vm.js';
import type { LabArtefacts } from './artefacts.js';

const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const guestDir = join(projectRoot, 'lab', 'guest');
// The whole suite takes about half an hour under TCG; the crash test (10 compose cycles, 6 min) is the largest part.
// At full size (npm run test:full) its 30 cycles alone take about 26 minutes, and the fuzz and floods grow too.
const SUITE_TIMEOUT_MS = (process.env.CANTAINER_FULL === '1' ? 110 : 50) * 60_000;

/**
 * npm run test:full passes CANTAINER_FULL=1 on to the tests in the VM: full-size fuzz, soak and flood counts;
 * CANTAINER_CHAOS_CYCLES (the crash test's compose cycles) goes along when set.
 */
function fullSize(): Record<string, string> {
  const cycles = process.env.CANTAINER_CHAOS_CYCLES;
  return {
    ...(process.env.CANTAINER_FULL === '1' ? { CANTAINER_FULL: '1' } : {}),
    ...(cycles === undefined || cycles === '' ? {} : { CANTAINER_CHAOS_CYCLES: cycles }),
  };
}

function summaryNumber(output: string, key: string): number | undefined {
  const match = new RegExp(`ℹ ${key} (\\d+)`, 'u').exec(output);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

export async function runLabSuite(): Promise<number> {
  const missing = missingHostTools();
  if (missing) {
    console.error(`${missing}\nlab: the real-kernel suite cannot run; set CANTAINER_SKIP_LAB=1 to skip it explicitly`);
    return 1;
  }
  const files = LAB_FILES;
  const absent = [...LAB_FILES, ...MATRIX_FILES, ...TRIXIE_FILES].filter((file) => !existsSync(join(projectRoot, file)));
  if (absent.length > 0) {
    console.error(`lab: test files named in lab/files.ts are not built: ${absent.join(', ')}; run "npm run build" first`);
    return 1;
  }
  const log = (line: string): void => {
    console.log(line);
  };
  const artefacts = ensureArtefacts(guestDir, log);
  const accel = await chooseAccelerator(artefacts, guestDir, log);
  console.log(`lab suite: ${files.length} test files, kernel ${artefacts.kernelRelease}, ${accel.toUpperCase()}`);
  const run = () =>
    runInLab(artefacts, guestDir, {
      script: `exec node --test --test-concurrency=1 --test-reporter=spec ${files.join(' ')}`,
      cwd: projectRoot,
      env: { CANTAINER_IN_LAB: '1', ...fullSize() },
      artifactsDir: join(projectRoot, 'dist', 'artifacts'),
      timeoutMs: SUITE_TIMEOUT_MS,
      accel,
      onConsole: (text) => process.stdout.write(text),
    });
  let result = await run();
  if (result.bootFailed) {
    // Rare under TCG: a guest that prints nothing and never reaches its first command. One retry.
    console.log(
      `lab: the guest did not boot (${(result.totalMs / 1000).toFixed(1)} s); console tail:\n${result.console.split('\n').slice(-20).join('\n')}\nlab: retrying once`,
    );
    result = await run();
  }
  const tests = summaryNumber(result.output, 'tests');
  const failed = summaryNumber(result.output, 'fail');
  const seconds = (ms: number | undefined): string => (ms === undefined ? '?' : (ms / 1000).toFixed(1));
  console.log(
    `lab suite: ${tests ?? 0} tests, ${failed ?? '?'} failed, exit status ${result.status ?? 'none'}; boot ${seconds(result.bootMs)} s, whole run ${seconds(result.totalMs)} s${result.timedOut ? ', TIMED OUT' : ''}`,
  );
  for (const line of result.output.split('\n').filter((text) => text.includes('measure: ')))
    console.log(`lab ${line.trim().replace(/^ℹ /u, '')}`);
  const e2e = /Docker driver with a real dockerd \((\d+)(?:\.\d+)?ms\)/u.exec(result.output)?.[1];
  if (e2e !== undefined)
    console.log(`lab engine bookworm (this machine's docker.io): Docker e2e suite ${(Number(e2e) / 1000).toFixed(0)} s`);
  if (result.status === null) {
    console.log('lab: the guest did not finish; last console lines:');
    console.log(result.console.split('\n').slice(-30).join('\n'));
  }
  const ok = result.status === 0 && tests !== undefined && tests > 0;
  const matrix = process.env.CANTAINER_LAB_MATRIX === '0' ? true : await runEngineMatrix(artefacts, accel);
  const trixie = process.env.CANTAINER_LAB_TRIXIE === '0' ? true : await runTrixieSuite(artefacts, accel);
  // The install VM runs in test:full (or when asked): it builds the packages and boots a root of its own.
  const install =
    process.env.CANTAINER_FULL === '1' || process.env.CANTAINER_LAB_INSTALL === '1' ? await runInstallSuite(artefacts, accel) : true;
  return ok && matrix && trixie && install ? 0 : 1;
}

/** The Docker e2e suite on Debian trixie's and sid's engines, one VM each; reports each engine's wall time. */
async function runEngineMatrix(artefacts: LabArtefacts, accel: Accelerator): Promise<boolean> {
  let ok = true;
  for (const suite of MATRIX_SUITES) {
    const engine = ensureEngine(suite, (line) => {
      console.log(line);
    });
    console.log(`lab engine ${suite}: docker.io ${engine.version}`);
    const started = Date.now();
    const result = await runInLab(artefacts, guestDir, {
      script: `exec node --test --test-concurrency=1 --test-reporter=spec ${MATRIX_FILES.join(' ')}`,
      cwd: projectRoot,
      env: { CANTAINER_IN_LAB: '1', CANTAINER_LAB_ENGINE_ROOT: engine.root },
      timeoutMs: SUITE_TIMEOUT_MS,
      accel,
      onConsole: (text) => process.stdout.write(text),
    });
    const tests = summaryNumber(result.output, 'tests');
    const failed = summaryNumber(result.output, 'fail');
    const engineOk = result.status === 0 && tests !== undefined && tests > 0;
    const e2e = /Docker driver with a real dockerd \((\d+)(?:\.\d+)?ms\)/u.exec(result.output)?.[1];
    const suiteTime = e2e === undefined ? '?' : (Number(e2e) / 1000).toFixed(0);
    console.log(
      `lab engine ${suite} (docker.io ${engine.version}): ${tests ?? 0} tests, ${failed ?? '?'} failed; Docker e2e suite ${suiteTime} s, whole VM ${((Date.now() - started) / 1000).toFixed(0)} s${result.timedOut ? ', TIMED OUT' : ''}`,
    );
    ok &&= engineOk;
  }
  return ok;
}

/** Runs test files in a VM booted on another root (lab/roots.ts) and reports what ran; true when all passed. */
async function runOnRoot(
  artefacts: LabArtefacts,
  accel: Accelerator,
  run: {
    label: string;
    root: { path: string; versions: Record<string, string> };
    files: readonly string[];
    env?: Record<string, string>;
    memoryMb?: number;
  },
): Promise<boolean> {
  const versions = Object.entries(run.root.versions)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
  console.log(`lab root ${run.label} (${versions}): ${run.files.length} test files`);
  const started = Date.now();
  const result = await runInLab(artefacts, guestDir, {
    script: `exec node --test --test-concurrency=1 --test-reporter=spec ${run.files.join(' ')}`,
    cwd: projectRoot,
    env: { CANTAINER_IN_LAB: '1', ...run.env },
    timeoutMs: SUITE_TIMEOUT_MS,
    accel,
    root: run.root.path,
    ...(run.memoryMb === undefined ? {} : { memoryMb: run.memoryMb }),
    onConsole: (text) => process.stdout.write(text),
  });
  const tests = summaryNumber(result.output, 'tests');
  const failed = summaryNumber(result.output, 'fail');
  console.log(
    `lab root ${run.label}: ${tests ?? 0} tests, ${failed ?? '?'} failed; whole VM ${((Date.now() - started) / 1000).toFixed(0)} s${result.timedOut ? ', TIMED OUT' : ''}`,
  );
  return result.status === 0 && tests !== undefined && tests > 0;
}

/** The tests that need a newer userland (Podman 5, netavark), in a VM booted on a Debian trixie root. */
async function runTrixieSuite(artefacts: LabArtefacts, accel: Accelerator): Promise<boolean> {
  const root = ensureTrixieRoot((line) => {
    console.log(line);
  });
  return runOnRoot(artefacts, accel, { label: 'trixie', root, files: TRIXIE_FILES });
}

/** What `npm run package` builds, built now and installed into a bookworm root with Docker, in a VM of its own. */
async function runInstallSuite(artefacts: LabArtefacts, accel: Accelerator): Promise<boolean> {
  const root = ensureBookwormDockerRoot((line) => {
    console.log(line);
  });
  execFileSync(process.execPath, [join(projectRoot, 'dist', 'packaging', 'build.js')], { cwd: projectRoot, stdio: 'inherit' });
  return runOnRoot(artefacts, accel, {
    label: 'bookworm with Docker (installing the packages)',
    root,
    files: INSTALL_FILES,
    env: { CANTAINER_PKG_DIR: join(projectRoot, 'dist', 'pkg') },
    memoryMb: INSTALL_VM_MEMORY_MB,
  });
}

process.exitCode = await runLabSuite();
