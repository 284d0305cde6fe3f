// Other Debian roots for the guest: Podman 5 and netavark need trixie's glibc; the Debian package is proved on a
// bookworm host that has Docker and no Node.js. Each is made once with debootstrap into the lab cache (about 35 s
// and 400 MB), then booted as the guest's root with this machine's root shared beside it at /host, for node and
// the checkout (lab/vm.ts).
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

interface RootRecipe {
  readonly suite: string;
  /** The cache directory's name: one root per recipe. */
  readonly name: string;
  readonly packages: readonly string[];
  /** Whose versions to record. */
  readonly reported: readonly string[];
  /** A file whose presence says the root is whole. */
  readonly marker: string;
  readonly why: string;
}

/** kmod for modprobe; libstdc++6 for this machine's node; the rest for Podman 5 with netavark. */
const TRIXIE: RootRecipe = {
  suite: 'trixie',
  name: 'trixie',
  packages: [
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
  ],
  reported: ['podman', 'netavark', 'crun'],
  marker: 'usr/bin/podman',
  why: 'Podman 5 and netavark',
};

/**
 * A Debian bookworm host as a user has it, without Node.js: Docker's engine, systemd's tools (the socket activation
 * the package's units use) and init-system-helpers (its maintainer scripts); libstdc++6 for the lab's own node,
 * which runs the tests from /host.
 */
const BOOKWORM_DOCKER: RootRecipe = {
  suite: 'bookworm',
  name: 'bookworm-docker',
  packages: [
    'docker.io',
    'containerd',
    'runc',
    'iptables',
    'iproute2',
    'can-utils',
    'kmod',
    'libstdc++6',
    'busybox-static',
    'systemd',
    'init-system-helpers',
    'docker-registry',
  ],
  reported: ['docker.io', 'systemd', 'docker-registry'],
  // The registry the managed plugin is pushed to and installed from (test/lab/install/plugin.test.ts).
  marker: 'usr/bin/docker-registry',
  why: 'Docker, a registry and no Node.js',
};

/** The install VM's memory: two engines' data, the image, the plugin twice and a registry live on its tmpfs. */
export const INSTALL_VM_MEMORY_MB = 3072;

/** A root made once with debootstrap into the lab cache, then reused. */
function ensureRoot(recipe: RootRecipe, log: (line: string) => void): GuestRoot {
  const base = join(labCacheDir(), 'roots', recipe.name);
  const record = join(base, 'root.json');
  if (existsSync(record)) {
    const root = JSON.parse(readFileSync(record, 'utf8')) as GuestRoot;
    if (existsSync(join(root.path, recipe.marker))) return root;
  }
  log(`lab: making a Debian ${recipe.suite} root with ${recipe.why} (once; cached in ${base})`);
  mkdirSync(base, { recursive: true });
  const work = join(base, 'making');
  rmSync(work, { recursive: true, force: true });
  execFileSync('debootstrap', ['--variant=minbase', `--include=${recipe.packages.join(',')}`, recipe.suite, work, MIRROR], {
    timeout: 1_200_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const versions = Object.fromEntries(
    recipe.reported.map((name) => [
      name,
      execFileSync('dpkg-query', [`--admindir=${join(work, 'var', 'lib', 'dpkg')}`, '-W', '-f=${Version}', name], {
        encoding: 'utf8',
      }).trim(),
    ]),
  );
  const path = join(base, 'root');
  rmSync(path, { recursive: true, force: true });
  renameSync(work, path);
  const root: GuestRoot = { suite: recipe.suite, path, versions };
  writeFileSync(record, `${JSON.stringify(root, null, 2)}\n`);
  return root;
}

/** The trixie root with Podman 5 and netavark, made on first use. */
export function ensureTrixieRoot(log: (line: string) => void = () => undefined): GuestRoot {
  return ensureRoot(TRIXIE, log);
}

/** The bookworm root with Docker and without Node.js, where the Debian package is installed, made on first use. */
export function ensureBookwormDockerRoot(log: (line: string) => void = () => undefined): GuestRoot {
  return ensureRoot(BOOKWORM_DOCKER, log);
}
