// `npm run demo`: cantainer at work on any Linux machine with QEMU, even one without CAN modules or Docker. Boots the
// lab, starts dockerd and the cantainer daemon, brings up the vehicle example (examples/vehicle), makes its ECUs
// talk for a few seconds while printing what crosses each bus (candump style, from each bus's monitor interface),
// then takes everything down. The guest side is lab/guest/demo.sh.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chooseAccelerator } from './accel.js';
import { ensureArtefacts, missingHostTools } from './artefacts.js';
import { runInLab } from './vm.js';

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
  const result = await runInLab(artefacts, guestDir, {
    script: 'sh lab/guest/demo.sh',
    cwd: projectRoot,
    timeoutMs: 600_000,
    accel,
    onConsole: (text) => {
      // The guest's kernel lines (bracketed timestamps) are noise here.
      const shown = text
        .split('\n')
        .filter((line) => !/^\[\s*\d+\.\d+\]/u.test(line) && !line.startsWith('CANTAINER_LAB_READY'))
        .join('\n');
      process.stdout.write(shown);
    },
  });
  console.log(
    `\ndemo: ${result.status === 0 ? 'done' : `failed (status ${result.status ?? 'none'})`} in ${(result.totalMs / 1000).toFixed(0)} s`,
  );
  return result.status ?? 1;
}

process.exitCode = await main();
