// The self-contained executable: the compiled code bundled into one CommonJS script (esbuild), made into a Node.js
// single executable application (node --experimental-sea-config) whose main script is a small loader
// (sea/loader.ts) and whose assets are the bundle, V8's code cache for it made by a warm start, and koffi's native
// module; injected into a stripped copy of this machine's node binary (postject). Nothing is downloaded.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { build, type BuildOptions, type Plugin } from 'esbuild';
import { inject } from 'postject';
import { executableName } from './names.js';
import { BUNDLE_ASSET, CACHE_ASSET } from './sea/loader-names.js';

/** The fuse Node.js looks for to know that a blob was injected (the same string in every Node.js release). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

export interface SeaResult {
  readonly executable: string;
  readonly bytes: number;
}

/** The native module koffi would load on this machine (its platform package, e.g. @koromix/koffi-linux-x64). */
function koffiNativeModule(root: string): string {
  const arch = process.arch;
  const require = createRequire(join(root, 'package.json'));
  const pkg = require.resolve(`@koromix/koffi-linux-${arch}/package.json`);
  return join(pkg, '..', `linux_${arch}`, 'koffi.node');
}

/** Points `koffi` at the loader that takes the native module from the executable's assets. */
function koffiFromAsset(loader: string): Plugin {
  return {
    name: 'koffi-from-asset',
    setup(bundle) {
      // esbuild runs the filter as a Go regular expression, which takes no flags.
      bundle.onResolve({ filter: /^koffi$/ }, () => ({ path: loader }));
    },
  };
}

/**
 * Runs `task` without the warnings postject's ELF library prints for every note section without a name in the
 * string table (node's own build has such sections; the blob goes in all the same). Other warnings pass.
 */
async function quietly(task: () => Promise<void>): Promise<void> {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!/Can't find string offset for section name/u.test(args.map(String).join(' '))) warn(...args);
  };
  try {
    await task();
  } finally {
    console.warn = warn;
  }
}

/** One CommonJS script for Node.js 20 from `entry` and what it imports. */
async function bundle(entry: string, outfile: string, options: Omit<BuildOptions, 'entryPoints' | 'outfile'>): Promise<void> {
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile,
    logLevel: 'warning',
    ...options,
  });
}

/**
 * V8's code cache for the bundle, made by starting the daemon from it (through the loader, with this machine's node:
 * the executable is a copy of it, so its V8 takes the cache) until it answers a request that needs its buses.
 * Undefined, with a warning, when the daemon cannot start here: the executable then compiles as it goes.
 */
function warmCache(loader: string, bundle: string, work: string): string | undefined {
  const dir = join(work, 'warm');
  const cache = join(work, CACHE_ASSET);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const run = spawnSync(
    process.execPath,
    [
      loader,
      'daemon',
      '--log-level',
      'error',
      ...['--socket', join(dir, 'plugin.sock'), '--control-socket', join(dir, 'control.sock')],
      ...['--state-dir', join(dir, 'state'), '--netns-dir', join(dir, 'netns'), '--docker-socket', join(dir, 'none.sock')],
    ],
    {
      // No PATH: the daemon finds no modprobe, so a build never loads kernel modules on the machine it runs on.
      env: { CANTAINER_SEA_WARM: cache, CANTAINER_SEA_BUNDLE: bundle, CANTAINER_SEA_WARM_SOCKET: join(dir, 'plugin.sock'), PATH: '' },
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  rmSync(dir, { recursive: true, force: true });
  if (run.status === 0 && existsSync(cache)) return cache;
  console.warn(
    `package: the warm start for the code cache failed (${run.error?.message ?? `status ${String(run.status)}`}): ${run.stderr.slice(-400)}`,
  );
  return undefined;
}

export async function buildExecutable(root: string, out: string, version: string): Promise<SeaResult> {
  const work = join(out, 'sea');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const script = join(work, BUNDLE_ASSET);
  const loader = join(work, 'loader.cjs');
  await bundle(join(root, 'dist', 'packaging', 'sea', 'entry.js'), script, {
    plugins: [koffiFromAsset(join(root, 'dist', 'packaging', 'sea', 'koffi-native.js'))],
    define: { CANTAINER_BUNDLED_VERSION: JSON.stringify(version) },
    // The licences of what is bundled stay with it.
    legalComments: 'eof',
    // version.ts reads package.json through import.meta only when no version was bundled, which never happens here.
    logOverride: { 'empty-import-meta': 'silent' },
  });
  // The loader is CommonJS's main script: it hands its module and require on to the bundle.
  await bundle(join(root, 'dist', 'packaging', 'sea', 'loader.js'), loader, { logOverride: { 'commonjs-variable-in-esm': 'silent' } });
  const cache = warmCache(loader, script, work);
  const config = join(work, 'sea-config.json');
  const blob = join(work, 'sea-prep.blob');
  writeFileSync(
    config,
    JSON.stringify({
      main: loader,
      output: blob,
      disableExperimentalSEAWarning: true,
      assets: {
        [BUNDLE_ASSET]: script,
        ...(cache === undefined ? {} : { [CACHE_ASSET]: cache }),
        'koffi.node': koffiNativeModule(root),
      },
    }),
  );
  // Quiet when it works; when it fails, the error carries what it printed.
  execFileSync(process.execPath, ['--experimental-sea-config', config], { stdio: 'pipe' });
  const executable = join(out, executableName(version));
  // node's symbols are for debugging it, not for running it: 12 MiB less without them.
  execFileSync('strip', ['--strip-all', '--remove-section=.comment', '-o', executable, process.execPath], { stdio: 'pipe' });
  chmodSync(executable, 0o755);
  await quietly(() => inject(executable, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: SEA_FUSE }));
  return { executable, bytes: statSync(executable).size };
}
