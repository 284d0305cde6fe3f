// Another Debian root for the guest, for what this machine's libraries cannot run: Podman 5 and netavark need
// trixie's glibc. Made once with debootstrap into the lab cache (about 35 s and 400 MB), then booted as the guest's
// root with this machine's root shared beside it at /host, for node and the checkout (lab/vm.ts).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { labCacheDir } from './artefacts.js';

export interface GuestRoot {
  readonly suite: string;
  readonly path: string;
  /** Versions of the packages tests care about, as dpkg reports them. */
  readonly versions: Readonly<Record<string, string>>;
}

const MIRROR = 'http://deb.debian.org/debian';
/** kmod for modprobe; libstdc++6 for this machine's node; the rest for Podman 5 with netavark. */
const PACKAGES = [
  'podman',
  'netavark',
  'aardvark-dns',
  'conmon',
  'crun',
  'catatonit',
  'iproute2',
  'can-utils',
  'kmod',
  'libstdc++6',
  'busybox-static',
];
const REPORTED = ['podman', 'netavark', 'crun'];

/** The trixie root with Podman 5 and netavark, made on first use. */
export function ensureTrixieRoot(log: (line: string) => void = () => undefined): GuestRoot {
  const base = join(labCacheDir(), 'roots', 'trixie');
  const record = join(base, 'root.json');
  if (existsSync(record)) {
    const root = JSON.parse(readFileSync(record, 'utf8')) as GuestRoot;
    if (existsSync(join(root.path, 'usr', 'bin', 'podman'))) return root;
  }
  log(`lab: making a Debian trixie root with Podman 5 and netavark (once; cached in ${base})`);
  mkdirSync(base, { recursive: true });
  const work = join(base, 'making');
  rmSync(work, { recursive: true, force: true });
  execFileSync('debootstrap', ['--variant=minbase', `--include=${PACKAGES.join(',')}`, 'trixie', work, MIRROR], {
    timeout: 1_200_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const versions = Object.fromEntries(
    REPORTED.map((name) => [
      name,
      execFileSync('dpkg-query', [`--admindir=${join(work, 'var', 'lib', 'dpkg')}`, '-W', '-f=${Version}', name], {
        encoding: 'utf8',
      }).trim(),
    ]),
  );
  const path = join(base, 'root');
  rmSync(path, { recursive: true, force: true });
  renameSync(work, path);
  const root: GuestRoot = { suite: 'trixie', path, versions };
  writeFileSync(record, `${JSON.stringify(root, null, 2)}\n`);
  return root;
}
