#!/usr/bin/env node
// Runs the unit suite (every compiled test file under dist/test/unit) with node:test, the browser suite
// (dist/test/browser: the dashboard in headless Chromium), then the lab suite
// (lab/suite.ts, the files lab/files.ts names). Node 20's `node --test <dir>` neither globs nor picks up .ts
// files and then passes with zero tests, so this script lists the files itself and fails when it finds none.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const testRoot = join(root, 'dist', 'test', 'unit');

function findTests(dir) {
  return readdirSync(dir)
    .flatMap((entry) => {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) return findTests(path);
      return entry.endsWith('.test.js') ? [path] : [];
    })
    .sort();
}

const files = findTests(testRoot);
if (files.length === 0) {
  console.error(`run-tests: no *.test.js files under ${relative(root, testRoot)}; run "npm run build" first`);
  process.exit(1);
}
console.log(`unit suite: ${files.length} test files`);
const unit = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...files], { stdio: 'inherit' });
if (unit.status !== 0) process.exit(unit.status ?? 1);

if (process.argv.includes('--unit-only')) process.exit(0);

// The dashboard in headless Chromium (Debian's package), against a daemon on the in-memory kernel.
const browserFiles = findTests(join(root, 'dist', 'test', 'browser'));
console.log(`browser suite: ${browserFiles.length} test files`);
const browser = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...browserFiles], { stdio: 'inherit' });
if (browser.status !== 0) process.exit(browser.status ?? 1);
if (process.env.CANTAINER_SKIP_LAB === '1') {
  console.log('lab suite: SKIPPED (CANTAINER_SKIP_LAB=1); the real-kernel tests did not run');
  process.exit(0);
}
const lab = spawnSync(process.execPath, [join(root, 'dist', 'lab', 'suite.js')], { stdio: 'inherit' });
process.exit(lab.status ?? 1);
