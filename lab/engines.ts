// Newer Docker engines for the lab's version matrix: Debian's `docker.io` and `containerd` from the trixie and sid
// suites, downloaded with a private apt configuration (this machine's own sources stay untouched), extracted into
// the lab cache once, and started in the guest in place of this machine's engine (lab/guest/docker.sh).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { labCacheDir } from './artefacts.js';

export const MATRIX_SUITES = ['trixie', 'sid'] as const;
export type MatrixSuite = (typeof MATRIX_SUITES)[number];

export interface Engine {
  readonly suite: MatrixSuite;
  /** The extracted packages: usr/sbin/dockerd, usr/bin/containerd, ... */
  readonly root: string;
  readonly version: string;
}

const PACKAGES = ['docker.io', 'containerd'];
const MIRROR = 'http://deb.debian.org/debian';

function apt(args: string[], dir: string, cwd?: string): string {
  const options = [
    '-o',
    `Dir::Etc::sourcelist=${join(dir, 'sources.list')}`,
    '-o',
    'Dir::Etc::sourceparts=-',
    '-o',
    `Dir::State::Lists=${join(dir, 'lists')}`,
    '-o',
    `Dir::Cache=${join(dir, 'cache')}`,
    '-o',
    'APT::Get::List-Cleanup=0',
    '-q',
  ];
  return execFileSync('apt-get', [...options, ...args], { cwd, encoding: 'utf8', timeout: 900_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The engine of `suite`, fetched and extracted on first use. */
export function ensureEngine(suite: MatrixSuite, log: (line: string) => void = () => undefined): Engine {
  const base = join(labCacheDir(), 'engines', suite);
  const record = join(base, 'engine.json');
  if (existsSync(record)) {
    const engine = JSON.parse(readFileSync(record, 'utf8')) as Engine;
    if (existsSync(join(engine.root, 'usr', 'sbin', 'dockerd'))) return engine;
  }
  log(`lab: fetching ${PACKAGES.join(' and ')} from Debian ${suite} (once; cached in ${base})`);
  const aptDir = join(base, 'apt');
  for (const dir of ['lists/partial', 'cache/archives/partial']) mkdirSync(join(aptDir, dir), { recursive: true });
  writeFileSync(join(aptDir, 'sources.list'), `deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${MIRROR} ${suite} main\n`);
  apt(['update'], aptDir);
  const work = mkdtempSync(join(base, 'fetch-'));
  try {
    apt(['download', ...PACKAGES], aptDir, work);
    const debs = readdirSync(work).filter((name) => name.endsWith('.deb'));
    if (debs.length !== PACKAGES.length)
      throw new Error(`lab: apt-get download ${PACKAGES.join(' ')} from ${suite} gave ${debs.join(', ') || 'nothing'}`);
    const extracted = join(work, 'root');
    for (const deb of debs) execFileSync('dpkg-deb', ['-x', join(work, deb), extracted], { timeout: 300_000 });
    const version = /docker\.io_([^_]+)_/u.exec(debs.find((name) => name.startsWith('docker.io_')) ?? '')?.[1] ?? 'unknown';
    const root = join(base, 'root');
    rmSync(root, { recursive: true, force: true });
    renameSync(extracted, root);
    const engine: Engine = { suite, root, version: decodeURIComponent(version) };
    writeFileSync(record, `${JSON.stringify(engine, null, 2)}\n`);
    return engine;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
