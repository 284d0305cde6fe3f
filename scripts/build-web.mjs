// Builds the dashboard's assets (web/) into dist/src/dashboard/assets.js, the module src/dashboard/assets.d.ts
// declares: the page and its style sheet as they are, the script bundled for browsers by esbuild (type-checked by
// `tsc -p web/tsconfig.json` in `npm run lint`). Embedded in the code, they ship in the package and the executable.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const web = join(root, 'web');
const out = join(root, 'dist', 'src', 'dashboard', 'assets.js');

const script = await build({
  entryPoints: [join(web, 'app.ts')],
  bundle: true,
  write: false,
  format: 'esm',
  platform: 'browser',
  target: ['chrome100', 'firefox100', 'safari15'],
  legalComments: 'none',
  logLevel: 'warning',
});
const files = {
  'index.html': { type: 'text/html; charset=utf-8', body: readFileSync(join(web, 'index.html'), 'utf8') },
  'style.css': { type: 'text/css; charset=utf-8', body: readFileSync(join(web, 'style.css'), 'utf8') },
  'app.js': { type: 'text/javascript; charset=utf-8', body: script.outputFiles[0].text },
};
const assets = Object.fromEntries(
  Object.entries(files).map(([name, file]) => [
    name,
    { ...file, etag: `"${createHash('sha256').update(file.body).digest('base64url').slice(0, 22)}"` },
  ]),
);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `// Made by scripts/build-web.mjs from web/: do not edit.\nexport const ASSETS = ${JSON.stringify(assets, null, 1)};\n`);
