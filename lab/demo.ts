// `npm run demo`: cantainer at work on any Linux machine with QEMU, even one without CAN modules or Docker. Boots the
// lab, starts dockerd and the cantainer daemon, brings up the vehicle example (examples/vehicle), makes its ECUs
// talk for a few seconds while printing what crosses each bus (candump style, from each bus's monitor interface),
// then takes everything down. The guest side is lab/guest/demo.sh.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chooseAccelerator } from './accel.js';
import { ensureArtefacts, missingHostTools } from './artefacts.js';
import { runInLab } from './vm.js';
import { jobLines } from './console.js';

const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const guestDir = join(projectRoot, 'lab', 'guest');

async function main(): Promise<number> {
  const missing = missingHostTools();
  if (missing) {
    console.error(missing);
    return 2;
  }
  const log = (line: string): void => {
    console.error(line);
  };
  const artefacts = ensureArtefacts(guestDir, log);
  const accel = await chooseAccelerator(artefacts, guestDir, log);
  console.log(`demo: booting Debian's kernel ${artefacts.kernelRelease} in QEMU (${accel.toUpperCase()}); about a minute under emulation`);
  const shown = jobLines((text) => process.stdout.write(text));
  const result = await runInLab(artefacts, guestDir, {
    script: 'sh lab/guest/demo.sh',
    cwd: projectRoot,
    timeoutMs: 600_000,
    accel,
    artifactsDir: join(projectRoot, 'dist', 'artifacts'),
    // The guest's kernel lines are noise here, its power-off included: the demo ends with its own last line.
    onConsole: (text) => {
      shown.write(text);
    },
  });
  shown.end();
  console.log(
    `\ndemo: ${result.status === 0 ? 'done' : `failed (status ${result.status ?? 'none'})`} in ${(result.totalMs / 1000).toFixed(0)} s`,
  );
  return result.status ?? 1;
}

process.exitCode = await main();
