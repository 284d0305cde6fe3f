// Lab artefacts: Debian's own kernel (with the CAN modules) and a tiny initramfs, fetched from Debian's package
// registry once and cached outside the repository, so that later runs need no network.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  chmodSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';

export interface LabArtefacts {
  /** Kernel release, e.g. "6.1.0-56-amd64". */
  readonly kernelRelease: string;
  readonly vmlinuz: string;
  /** Directory holding the kernel's modules (what the guest mounts on /lib/modules/<release>). */
  readonly modulesDir: string;
  readonly initrd: string;
}

/** Modules the initramfs loads to reach the host's filesystem over 9p and to build an overlay on it. */
const BOOT_MODULES = ['virtio_pci', '9pnet_virtio', '9p', 'overlay'];

export function labCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.CANTAINER_LAB_CACHE ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'cantainer-lab');
}

export class LabUnavailableError extends Error {}

function run(command: string, args: readonly string[], options: { cwd?: string; timeoutMs?: number } = {}): string {
  try {
    return execFileSync(command, args, {
      cwd: options.cwd,
      encoding: 'utf8',
      timeout: options.timeoutMs ?? 120_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    const detail = error instanceof Error && 'stderr' in error ? String(error.stderr).trim() : String(error);
    throw new LabUnavailableError(`lab: \`${command} ${args.join(' ')}\` failed: ${detail}`);
  }
}

/** The tools the lab needs on the machine that runs it, with the Debian package providing each. */
export const HOST_TOOLS: ReadonlyArray<readonly [string, string]> = [
  ['qemu-system-x86_64', 'qemu-system-x86'],
  ['busybox', 'busybox-static'],
  ['cpio', 'cpio'],
  ['depmod', 'kmod'],
  ['modprobe', 'kmod'],
  ['apt-get', 'apt'],
  ['dpkg-deb', 'dpkg'],
  // Used inside the guest, which runs this machine's binaries.
  ['dockerd', 'docker.io'],
  ['docker-compose', 'docker-compose'],
  ['cansend', 'can-utils'],
  ['nsenter', 'util-linux'],
  ['systemd-socket-activate', 'systemd'],
];

function onPath(tool: string, pathVariable: string): boolean {
  return [...pathVariable.split(':'), '/usr/sbin', '/sbin'].some((dir) => dir !== '' && existsSync(join(dir, tool)));
}

/** Names what is missing to run the lab, as a message with the command that installs it; undefined if nothing. */
export function missingHostTools(pathVariable = process.env.PATH ?? ''): string | undefined {
  const missing = HOST_TOOLS.filter(([tool]) => !onPath(tool, pathVariable));
  if (missing.length === 0) return undefined;
  const packages = [...new Set(missing.map(([, pkg]) => pkg))];
  return `lab: missing ${missing.map(([tool]) => tool).join(', ')}; install with: apt-get install ${packages.join(' ')}`;
}

interface CachedKernel {
  readonly kernelRelease: string;
  readonly root: string;
}

function kernelRecord(cache: string): string {
  return join(cache, 'kernel.json');
}

function readCachedKernel(cache: string): CachedKernel | undefined {
  const record = kernelRecord(cache);
  if (!existsSync(record)) return undefined;
  const parsed = JSON.parse(readFileSync(record, 'utf8')) as Partial<CachedKernel>;
  if (typeof parsed.kernelRelease !== 'string' || typeof parsed.root !== 'string') return undefined;
  if (!existsSync(join(parsed.root, 'boot', `vmlinuz-${parsed.kernelRelease}`))) return undefined;
  return { kernelRelease: parsed.kernelRelease, root: parsed.root };
}

/** Downloads the package `linux-image-amd64` points at, extracts it and indexes its modules. */
function fetchKernel(cache: string, log: (line: string) => void): CachedKernel {
  const depends = run('apt-cache', ['depends', 'linux-image-amd64']);
  const pkg = /Depends:\s*(linux-image-[^\s]+)/u.exec(depends)?.[1];
  if (!pkg) throw new LabUnavailableError('lab: apt-cache knows no linux-image-amd64; run apt-get update');
  log(`lab: fetching ${pkg} from Debian's registry (once; cached in ${cache})`);
  const work = mkdtempSync(join(cache, 'fetch-'));
  try {
    run('apt-get', ['download', '-q', pkg], { cwd: work, timeoutMs: 900_000 });
    const deb = readdirSync(work).find((name) => name.endsWith('.deb'));
    if (!deb) throw new LabUnavailableError(`lab: apt-get download ${pkg} produced no .deb`);
    const extracted = join(work, 'root');
    run('dpkg-deb', ['-x', join(work, deb), extracted], { timeoutMs: 300_000 });
    const kernelRelease = readdirSync(join(extracted, 'lib', 'modules'))[0];
    if (!kernelRelease) throw new LabUnavailableError(`lab: ${deb} holds no modules`);
    run('depmod', ['-b', extracted, kernelRelease]);
    const root = join(cache, 'kernel', kernelRelease);
    rmSync(root, { recursive: true, force: true });
    mkdirSync(join(cache, 'kernel'), { recursive: true });
    renameSync(extracted, root);
    const record: CachedKernel = { kernelRelease, root };
    writeFileSync(kernelRecord(cache), `${JSON.stringify(record, null, 2)}\n`);
    return record;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Module files to insmod, dependencies first, as modprobe resolves them against the extracted tree. */
function bootModuleFiles(kernel: CachedKernel): string[] {
  const files: string[] = [];
  for (const module of BOOT_MODULES) {
    const plan = run('modprobe', ['-d', kernel.root, '-S', kernel.kernelRelease, '--show-depends', module]);
    for (const line of plan.split('\n')) {
      const file = /^insmod (\S+)/u.exec(line)?.[1];
      if (file && !files.includes(file)) files.push(file);
    }
  }
  return files;
}

function buildInitrd(kernel: CachedKernel, initScript: string, target: string): void {
  const staging = mkdtempSync(join(kernel.root, '..', 'initrd-'));
  try {
    for (const dir of ['bin', 'proc', 'sys', 'dev', 'modules', 'lower', 'upper', 'newroot']) mkdirSync(join(staging, dir));
    copyFileSync('/bin/busybox', join(staging, 'bin', 'busybox'));
    chmodSync(join(staging, 'bin', 'busybox'), 0o755);
    bootModuleFiles(kernel).forEach((file, i) => {
      if (file.endsWith('.ko')) copyFileSync(file, join(staging, 'modules', `${String(i).padStart(2, '0')}-${basename(file)}`));
      else throw new LabUnavailableError(`lab: module ${file} is compressed; busybox insmod needs plain .ko files`);
    });
    writeFileSync(join(staging, 'init'), initScript, { mode: 0o755 });
    const list = run('find', ['.', '-mindepth', '1'], { cwd: staging });
    const archive = execFileSync('cpio', ['-o', '-H', 'newc', '-R', '0:0', '--quiet'], {
      cwd: staging,
      input: list,
      maxBuffer: 256 * 1024 * 1024,
    });
    writeFileSync(`${target}.part`, archive);
    renameSync(`${target}.part`, target);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Ensures the kernel and initramfs are in the cache, fetching or building them only when missing. */
export function ensureArtefacts(guestDir: string, log: (line: string) => void = () => undefined): LabArtefacts {
  const cache = labCacheDir();
  mkdirSync(cache, { recursive: true });
  const kernel = readCachedKernel(cache) ?? fetchKernel(cache, log);
  const initScript = readFileSync(join(guestDir, 'init.sh'), 'utf8');
  const digest = createHash('sha256').update(initScript).update(BOOT_MODULES.join(',')).digest('hex').slice(0, 12);
  const initrd = join(kernel.root, '..', `initrd-${kernel.kernelRelease}-${digest}.cpio`);
  if (!existsSync(initrd)) {
    log('lab: building the initramfs');
    buildInitrd(kernel, initScript, initrd);
  }
  return {
    kernelRelease: kernel.kernelRelease,
    vmlinuz: join(kernel.root, 'boot', `vmlinuz-${kernel.kernelRelease}`),
    modulesDir: join(kernel.root, 'lib', 'modules', kernel.kernelRelease),
    initrd,
  };
}
