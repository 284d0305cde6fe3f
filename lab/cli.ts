// `node dist/lab/cli.js run [--console] [--timeout S] [--root trixie|bookworm-docker] -- <shell command>`: runs a command
// in the lab guest and exits with its status; with --root, on that Debian root of lab/roots.ts instead of this machine's;
// with --console, the guest kernel's console lines are shown too.
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { ensureArtefacts, missingHostTools } from './artefacts.js';
import { runInLab } from './vm.js';
import { chooseAccelerator } from './accel.js';
import { jobLines } from './console.js';
import { ensureBookwormDockerRoot, ensureTrixieRoot, INSTALL_VM_MEMORY_MB } from './roots.js';

const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const guestDir = join(projectRoot, 'lab', 'guest');

async function main(argv: string[]): Promise<number> {
  const missing = missingHostTools();
  if (missing) {
    console.error(missing);
    return 2;
  }
  let timeoutS = 120;
  const rest = [...argv];
  if (rest[0] === 'run') rest.shift();
  const allConsole = rest[0] === '--console';
  if (allConsole) rest.shift();
  if (rest[0] === '--timeout') {
    timeoutS = Number(rest[1]);
    rest.splice(0, 2);
  }
  let root: string | undefined;
  let memoryMb: number | undefined;
  if (rest[0] === '--root') {
    if (rest[1] === 'bookworm-docker') memoryMb = INSTALL_VM_MEMORY_MB;
    const roots = { trixie: ensureTrixieRoot, 'bookworm-docker': ensureBookwormDockerRoot };
    const ensure = rest[1] === 'trixie' || rest[1] === 'bookworm-docker' ? roots[rest[1]] : undefined;
    if (ensure === undefined) {
      console.error(`lab: --root ${rest[1] ?? ''}: the other roots are ${Object.keys(roots).join(' and ')}`);
      return 2;
    }
    root = ensure((line) => {
      console.error(line);
    }).path;
    rest.splice(0, 2);
  }
  if (rest[0] === '--') rest.shift();
  const artefacts = ensureArtefacts(guestDir, (line) => {
    console.error(line);
  });
  const accel = await chooseAccelerator(artefacts, guestDir, (line) => {
    console.error(line);
  });
  // The job's output; the guest kernel's console too with --console.
  const shown = allConsole
    ? { write: (text: string) => process.stderr.write(text), end: () => undefined }
    : jobLines((text) => process.stderr.write(text));
  const result = await runInLab(artefacts, guestDir, {
    script: rest.join(' '),
    timeoutMs: timeoutS * 1000,
    accel,
    // What the job writes to $CANTAINER_ARTIFACTS comes back beside the checkout's build.
    artifactsDir: join(projectRoot, 'dist', 'artifacts'),
    ...(root === undefined ? {} : { root }),
    ...(memoryMb === undefined ? {} : { memoryMb }),
    onConsole: (text) => {
      shown.write(text);
    },
  });
  shown.end();
  console.error(
    `lab: status ${result.status}, boot ${result.bootMs} ms, total ${result.totalMs} ms${result.timedOut ? ' (timed out)' : ''}`,
  );
  return result.status ?? 1;
}

process.exitCode = await main(process.argv.slice(2));
