// The self-contained executable's main script: the CLI, the daemon, the CNI plugin and the netavark plugin in one
// file (src/cli/entry.ts picks which). It runs as a CommonJS script, so no top-level await.
import { runEntry } from '../../src/cli/entry.js';

runEntry(process.argv0, process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`cantainer: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
