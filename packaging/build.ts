// `npm run package`: builds what installs cantainer on a host without Node.js into dist/pkg/, from this checkout
// (after `npm run build`), offline but for the npm registry and Debian's packages.
import { mkdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageVersion } from '../src/version.js';
import { buildDeb } from './deb.js';
import { buildImage } from './image.js';
import { buildPlugin } from './plugin.js';
import { buildExecutable } from './sea.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const HELP = `usage: npm run package

Builds into dist/pkg/:
  cantainer-<version>-linux-<arch>   one executable: the CLI, the daemon, the CNI plugin (CNI_COMMAND set) and
                                     the netavark plugin (called as cantainer-netavark); needs no Node.js
  cantainer_<version>_amd64.deb      that executable with the systemd units, the plugins' links, a manual page
  cantainer-image.tar                the image cantainer:<version> (docker load -i): Debian's runtime libraries,
                                     kmod and busybox, and the executable
  plugin/                            the Docker managed plugin: config.json and rootfs/ (the image's root), for
                                     docker plugin create cantainer dist/pkg/plugin
`;

async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HELP);
    return 0;
  }
  if (argv.length > 0) {
    process.stderr.write(`package: unknown argument ${argv.join(' ')}\n${HELP}`);
    return 2;
  }
  const version = packageVersion();
  const out = join(root, 'dist', 'pkg');
  mkdirSync(out, { recursive: true });
  const started = Date.now();
  const sea = await buildExecutable(root, out, version);
  const made = (path: string, bytes: number): void => {
    process.stderr.write(
      `package: ${relative(root, path)} (${(bytes / 1024 / 1024).toFixed(1)} MiB) at ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
  };
  made(sea.executable, sea.bytes);
  const deb = buildDeb(root, out, version, sea.executable);
  made(deb.deb, deb.bytes);
  const image = buildImage(out, version, sea.executable);
  made(image.archive, image.bytes);
  const plugin = buildPlugin(out, version, image.rootfs);
  made(plugin.dir, plugin.bytes);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
