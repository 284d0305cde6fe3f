// koffi's native module inside the self-contained executable, where `import koffi from 'koffi'` leads (the bundler
// points it here). The module travels as an asset of the executable; a native module can only be loaded from a
// file, so it is written to a private temporary directory, loaded, and the directory removed at once (the loaded
// code stays mapped), the first time the program calls into the C library. koffi's own loader adds only deprecated
// aliases around the same module.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getAsset } from 'node:sea';

/** Where the module may be written: a temporary directory first, then places that are not mounted noexec as often. */
function candidates(): string[] {
  const dirs = [process.env.CANTAINER_TMPDIR, tmpdir(), process.env.XDG_RUNTIME_DIR, process.getuid?.() === 0 ? '/run' : undefined];
  return [...new Set(dirs.filter((dir): dir is string => dir !== undefined && dir !== ''))];
}

function load(): unknown {
  const bytes = new Uint8Array(getAsset('koffi.node'));
  const failures: string[] = [];
  for (const parent of candidates()) {
    let dir: string | undefined;
    try {
      dir = mkdtempSync(join(parent, 'cantainer-koffi-'));
      const file = join(dir, 'koffi.node');
      writeFileSync(file, bytes, { mode: 0o500 });
      const module = { exports: {} as unknown };
      process.dlopen(module, file);
      return module.exports;
    } catch (error) {
      failures.push(`${parent}: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    }
  }
  throw new Error(
    `cannot load the FFI module (koffi.node) from any of ${failures.join('; ')}; set CANTAINER_TMPDIR to a directory that allows executables`,
  );
}

/**
 * Loaded when first used, not when the program starts: commands that never call into the C library (the CLI
 * talking to the daemon, the CNI and netavark plugins) never write or load the module.
 */
let loaded: object | undefined;
const koffi: unknown = new Proxy(
  {},
  {
    get: (_target, key) => Reflect.get((loaded ??= load() as object), key) as unknown,
  },
);
export default koffi;
