// The container image: a root made of Debian's own packages (the C and C++ runtime the executable links against,
// kmod for modprobe, busybox for a shell) plus the self-contained executable, written as one archive that both
// `docker load` (manifest.json) and OCI tools (index.json) read. Built with apt-get download, dpkg-deb and tar:
// no engine, no registry. The same root is the managed plugin's rootfs.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageArch } from './names.js';

/**
 * What the root is made of: node's runtime libraries, kmod (the daemon loads can-gw with modprobe), busybox. The
 * names are Debian 12's, the release the package is built on (Debian 13 has libssl3t64 and gcc-14-base).
 */
export const IMAGE_PACKAGES = [
  'libc6',
  'libgcc-s1',
  // Holds the copyright of libgcc-s1 and libstdc++6, whose documentation directories link to it.
  'gcc-12-base',
  'libstdc++6',
  'kmod',
  'libkmod2',
  'liblzma5',
  'libzstd1',
  'libssl3',
  'busybox-static',
] as const;

/** The busybox commands the root offers: a shell and what an init container or a person debugging needs. */
const BUSYBOX_COMMANDS = ['sh', 'cat', 'cp', 'echo', 'env', 'ip', 'ln', 'ls', 'mkdir', 'mv', 'ps', 'rm', 'sleep', 'test', 'true'];

export interface ImageResult {
  /** The archive `docker load` takes. */
  readonly archive: string;
  readonly bytes: number;
  /** The image's tag: cantainer:<version>. */
  readonly tag: string;
  /** The root the image holds, left in place for the managed plugin. */
  readonly rootfs: string;
  /** Debian's packages the root was made of, as name_version. */
  readonly packages: readonly string[];
}

/** Where downloaded packages are kept between builds (outside the checkout). */
function packageCache(): string {
  return process.env.CANTAINER_PKG_CACHE ?? join(homedir(), '.cache', 'cantainer-pkg', 'debs');
}

/**
 * The .deb files of `names` as apt on this machine would install them now, downloaded into the cache unless
 * already there (the file names carry the versions, so a newer version is fetched when apt has one).
 */
export function debianPackages(names: readonly string[], cache = packageCache()): string[] {
  mkdirSync(cache, { recursive: true });
  // Asked from an empty directory: apt leaves out of the list what the current directory already holds.
  const empty = mkdtempSync(join(tmpdir(), 'cantainer-apt-'));
  const uris = execFileSync('apt-get', ['download', '--print-uris', ...names], { encoding: 'utf8', cwd: empty });
  rmSync(empty, { recursive: true });
  const files = [...uris.matchAll(/^'[^']+' (\S+\.deb) /gmu)].map((match) => match[1] ?? '');
  if (files.length !== names.length) throw new Error(`apt-get knows ${files.length} of the packages ${names.join(', ')}`);
  const paths = files.map((file) => join(cache, file));
  if (paths.some((path) => !existsSync(path)))
    execFileSync('apt-get', ['download', '-q', ...names], { cwd: cache, stdio: ['ignore', 'ignore', 'pipe'] });
  for (const path of paths) if (!existsSync(path)) throw new Error(`apt-get download did not leave ${path}`);
  return paths;
}

/** Unpacks the packages and keeps of their documentation only the copyright files. */
function unpack(rootfs: string, debs: readonly string[]): void {
  for (const deb of debs) execFileSync('dpkg-deb', ['-x', deb, rootfs]);
  for (const dir of ['usr/share/man', 'usr/share/info', 'usr/share/locale', 'usr/share/lintian', 'usr/share/bug', 'usr/share/doc-base'])
    rmSync(join(rootfs, dir), { recursive: true, force: true });
  // Character set converters: nothing in the image converts text.
  rmSync(join(rootfs, 'usr/lib/x86_64-linux-gnu/gconv'), { recursive: true, force: true });
  const docs = join(rootfs, 'usr/share/doc');
  for (const name of readdirSync(docs)) {
    const dir = join(docs, name);
    if (!lstatSync(dir).isDirectory()) continue;
    for (const file of readdirSync(dir)) if (file !== 'copyright') rmSync(join(dir, file), { recursive: true, force: true });
  }
}

/** The few files a root needs that no package gives: users, directories the daemon writes to, /var/run. */
function finish(rootfs: string, executable: string): void {
  for (const dir of ['bin', 'usr/bin', 'etc', 'proc', 'sys', 'dev', 'run', 'root', 'var/lib/cantainer', 'opt/cni/bin'])
    mkdirSync(join(rootfs, dir), { recursive: true });
  copyFileSync(executable, join(rootfs, 'usr/bin/cantainer'));
  chmodSync(join(rootfs, 'usr/bin/cantainer'), 0o755);
  symlinkSync('cantainer', join(rootfs, 'usr/bin/cantainer-netavark'));
  for (const command of BUSYBOX_COMMANDS) symlinkSync('busybox', join(rootfs, 'bin', command));
  mkdirSync(join(rootfs, 'tmp'), { mode: 0o1777 });
  chmodSync(join(rootfs, 'tmp'), 0o1777);
  symlinkSync('../run', join(rootfs, 'var/run'));
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\n');
}

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

export function buildImage(out: string, version: string, executable: string, date = new Date()): ImageResult {
  const stage = join(out, 'image');
  rmSync(stage, { recursive: true, force: true });
  const rootfs = join(stage, 'rootfs');
  const archiveDir = join(stage, 'archive');
  const blobs = join(archiveDir, 'blobs', 'sha256');
  mkdirSync(rootfs, { recursive: true });
  mkdirSync(blobs, { recursive: true });
  const debs = debianPackages(IMAGE_PACKAGES);
  unpack(rootfs, debs);
  finish(rootfs, executable);

  // One layer, the same bytes for the same inputs: sorted names, one time stamp, root's ownership.
  const epoch = Math.floor(date.getTime() / 1000);
  const layerTmp = join(blobs, 'layer.tmp');
  const tarFlags = ['--sort=name', `--mtime=@${epoch}`, '--owner=0', '--group=0', '--numeric-owner', '--format=gnu'];
  execFileSync('tar', [...tarFlags, '-C', rootfs, '-cf', layerTmp, ...readdirSync(rootfs).sort()]);
  const layer = readFileSync(layerTmp);
  const layerDigest = sha256(layer);
  renameSync(layerTmp, join(blobs, layerDigest));
  const created = date.toISOString();
  const tag = `cantainer:${version}`;
  const packages = debs.map((deb) => (deb.split('/').pop() ?? deb).replace(/_[^_]+\.deb$/u, ''));
  const config = JSON.stringify({
    created,
    architecture: packageArch(),
    os: 'linux',
    config: {
      Entrypoint: ['/usr/bin/cantainer'],
      Cmd: ['daemon'],
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      WorkingDir: '/',
      Labels: {
        'org.opencontainers.image.title': 'cantainer',
        'org.opencontainers.image.description': 'virtual CAN buses for containers: the daemon, the CLI and the CNI plugin',
        'org.opencontainers.image.version': version,
        'org.opencontainers.image.licenses': 'Apache-2.0',
      },
    },
    rootfs: { type: 'layers', diff_ids: [`sha256:${layerDigest}`] },
    history: [{ created, created_by: `npm run package: cantainer ${version} on Debian's ${packages.join(' ')}` }],
  });
  const configDigest = sha256(config);
  writeFileSync(join(blobs, configDigest), config);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${configDigest}`, size: Buffer.byteLength(config) },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${layerDigest}`, size: layer.length }],
  });
  const manifestDigest = sha256(manifest);
  writeFileSync(join(blobs, manifestDigest), manifest);
  writeFileSync(join(archiveDir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(archiveDir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: `sha256:${manifestDigest}`,
          size: Buffer.byteLength(manifest),
          annotations: { 'io.containerd.image.name': `docker.io/library/${tag}`, 'org.opencontainers.image.ref.name': version },
        },
      ],
    }),
  );
  // What `docker load` reads on every engine since 1.10.
  writeFileSync(
    join(archiveDir, 'manifest.json'),
    JSON.stringify([{ Config: `blobs/sha256/${configDigest}`, RepoTags: [tag], Layers: [`blobs/sha256/${layerDigest}`] }]),
  );
  const archive = join(out, 'cantainer-image.tar');
  execFileSync('tar', [...tarFlags, '-C', archiveDir, '-cf', archive, 'blobs', 'index.json', 'manifest.json', 'oci-layout']);
  rmSync(archiveDir, { recursive: true, force: true });
  return { archive, bytes: statSync(archive).size, tag, rootfs, packages };
}
