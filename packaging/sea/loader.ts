// The self-contained executable's main script: it runs the bundled program (an asset of the executable) with V8's
// code cache for it. The cache is made at build time by a warm start: the daemon run from the bundle until it
// answers a request that needs its buses, then the cache taken, so it holds every function a start compiles, not
// only the top level (Node.js's own `useCodeCache` compiles without running). The executable then starts without
// compiling what its start runs. A cache V8 refuses (another V8) only costs the compile.
import { getAsset, isSea } from 'node:sea';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { Script } from 'node:vm';
import { BUNDLE_ASSET, CACHE_ASSET } from './loader-names.js';

/** CommonJS's wrapper, the same at build time and at run time: the cache is only taken for the same source. */
function wrapped(source: string): string {
  return `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
}

function cache(): Uint8Array | undefined {
  try {
    return new Uint8Array(getAsset(CACHE_ASSET));
  } catch {
    return undefined;
  }
}

type CommonJsMain = (exports: unknown, req: NodeJS.Require, mod: NodeJS.Module, filename: string, dirname: string) => void;

/**
 * The build's warm start (never inside the executable): runs the bundle the environment names, asks the daemon's
 * socket until a request that needs the buses is answered, writes the cache and exits.
 */
function warmStart(script: Script, cacheFile: string, socket: string): void {
  const ask = (): void => {
    const asking = request({ socketPath: socket, path: '/NetworkDriver.EndpointOperInfo', method: 'POST' }, (answer) => {
      answer.resume();
      answer.on('end', () => {
        if (answer.statusCode !== 200) {
          setTimeout(ask, 20);
          return;
        }
        writeFileSync(cacheFile, script.createCachedData());
        process.exit(0);
      });
    });
    asking.on('error', () => setTimeout(ask, 20));
    asking.end(JSON.stringify({ NetworkID: '0'.repeat(64), EndpointID: '0'.repeat(64) }));
  };
  setTimeout(ask, 20);
}

const inExecutable = isSea();
const warm = inExecutable ? undefined : process.env.CANTAINER_SEA_WARM;
const source = inExecutable ? getAsset(BUNDLE_ASSET, 'utf8') : readFileSync(process.env.CANTAINER_SEA_BUNDLE ?? '', 'utf8');
const cachedData = inExecutable ? cache() : undefined;
const script = new Script(wrapped(source), { filename: BUNDLE_ASSET, ...(cachedData === undefined ? {} : { cachedData }) });
// For the build's tests: whether V8 took the cache.
if (process.env.CANTAINER_SEA_REPORT === '1')
  process.stderr.write(
    `cantainer: code cache ${cachedData === undefined ? 'none' : script.cachedDataRejected === true ? 'refused' : 'taken'}\n`,
  );
(script.runInThisContext() as CommonJsMain)(module.exports, require, module, __filename, __dirname);
if (warm !== undefined) warmStart(script, warm, process.env.CANTAINER_SEA_WARM_SOCKET ?? '');
