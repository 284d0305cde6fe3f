// Regenerates test/fixtures/golden/*.json: boots the lab, runs lab/golden/capture.sh (iproute2 and can-utils under
// strace) and stores, per command, the exact bytes it sent to and received from the kernel.
// Usage: node dist/lab/golden.js
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureArtefacts } from './artefacts.js';
import { chooseAccelerator } from './accel.js';
import { runInLab } from './vm.js';

const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const guestDir = join(projectRoot, 'lab', 'guest');
const fixtureDir = join(projectRoot, 'test', 'fixtures', 'golden');

export interface GoldenCapture {
  readonly name: string;
  readonly command: string;
  readonly exitStatus: number;
  /** Datagrams in the order the tool exchanged them, as hex. */
  readonly exchanges: ReadonlyArray<{ readonly direction: 'sent' | 'received'; readonly hex: string }>;
}

/** Parses strace output with full hex dumps (-e write=all -e read=all) into the datagrams it shows. */
export function parseStrace(text: string): GoldenCapture['exchanges'] {
  const exchanges: Array<{ direction: 'sent' | 'received'; hex: string }> = [];
  let current: { direction: 'sent' | 'received'; hex: string } | undefined;
  for (const line of text.split('\n')) {
    const call = /^(sendto|sendmsg|recvfrom|recvmsg)\(/u.exec(line)?.[1];
    if (call !== undefined) {
      current = { direction: call.startsWith('send') ? 'sent' : 'received', hex: '' };
      exchanges.push(current);
    } else if (line.startsWith(' | ') && current) {
      // " | 00000  2c 00 ... 00  ascii |": the hex area is 49 columns from column 10.
      current.hex += (line.slice(10, 59).match(/[0-9a-f]{2}/gu) ?? []).join('');
    }
  }
  return exchanges.filter((exchange) => exchange.hex.length > 0);
}

function parseCaptures(output: string): GoldenCapture[] {
  const captures: GoldenCapture[] = [];
  for (const block of output.split('=== capture ').slice(1)) {
    const [name = '', ...rest] = block.split('\n');
    const body = rest.join('\n');
    const command = /^=== command (.*)$/mu.exec(body)?.[1] ?? '';
    const status = /^=== status (\d+)$/mu.exec(body)?.[1];
    const strace = body.slice(0, body.indexOf('=== end'));
    captures.push({ name: name.trim(), command, exitStatus: status === undefined ? 0 : Number(status), exchanges: parseStrace(strace) });
  }
  return captures;
}

async function main(): Promise<number> {
  const artefacts = ensureArtefacts(guestDir, (line) => {
    console.error(line);
  });
  const accel = await chooseAccelerator(artefacts, guestDir, (line) => {
    console.error(line);
  });
  const result = await runInLab(artefacts, guestDir, { script: 'sh lab/golden/capture.sh', cwd: projectRoot, timeoutMs: 300_000, accel });
  if (result.status !== 0) {
    console.error(result.output);
    console.error(`golden: capture failed with status ${result.status}`);
    return 1;
  }
  const versions = /iproute2-[\w.]+|ip utility, iproute2-[\w.]+/u.exec(result.output)?.[0];
  mkdirSync(fixtureDir, { recursive: true });
  const captures = parseCaptures(result.output);
  for (const capture of captures) {
    const fixture = {
      ...capture,
      kernel: artefacts.kernelRelease,
      regenerate: 'node dist/lab/golden.js (see lab/golden/capture.sh)',
      ...(versions ? { tools: versions } : {}),
    };
    writeFileSync(join(fixtureDir, `${capture.name}.json`), `${JSON.stringify(fixture, null, 2)}\n`);
  }
  console.error(`golden: wrote ${captures.length} fixtures to ${fixtureDir}`);
  return 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = await main();
