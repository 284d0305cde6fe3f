// The daemon's log lines: JSON, filtered by level, and split between the standard streams by level (Docker logs a
// managed plugin's standard error at error level, so info lines must not go there).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createLogger, type LogLevel } from '../../src/log.js';

describe('the log', () => {
  it('writes one JSON object a line from the level asked up, and tells the writer each line’s level', () => {
    const lines: Array<[string, LogLevel]> = [];
    const log = createLogger(
      'info',
      (line, at) => lines.push([line, at]),
      () => new Date('2026-12-04T00:00:00Z'),
    );
    log.debug('hidden');
    log.info('joined', { bus: 'powertrain', members: 3, gone: undefined });
    log.error('failed');
    assert.deepEqual(lines, [
      ['{"time":"2026-12-04T00:00:00.000Z","level":"info","msg":"joined","bus":"powertrain","members":3}\n', 'info'],
      ['{"time":"2026-12-04T00:00:00.000Z","level":"error","msg":"failed"}\n', 'error'],
    ]);
  });

  it('sends debug and info to standard output, warnings and errors to standard error', () => {
    const module = fileURLToPath(new URL('../../src/log.js', import.meta.url));
    const script = `import { writeToStdio } from ${JSON.stringify(module)}; for (const at of ['debug', 'info', 'warn', 'error']) writeToStdio(at + '\\n', at);`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, 'debug\ninfo\n');
    assert.equal(run.stderr, 'warn\nerror\n');
  });
});
