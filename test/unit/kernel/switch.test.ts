// Switching the thread into a namespace and back: a failure to come back must end the process, never leave it
// serving from a bus's namespace (#22).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { NamespaceRestoreError } from '../../../src/kernel/errors.js';
import { switchedAndBack } from '../../../src/kernel/netns.js';
import { projectPath } from '../../support/helpers.js';

describe('a switch into a namespace and back', () => {
  it('returns what ran inside, or throws what it threw, after coming back', () => {
    const steps: string[] = [];
    const back = (): void => {
      steps.push('back');
    };
    assert.equal(
      switchedAndBack(
        () => steps.push('enter'),
        () => 42,
        back,
      ),
      42,
    );
    assert.throws(
      () =>
        switchedAndBack(
          () => steps.push('enter'),
          () => {
            throw new Error('inside');
          },
          back,
        ),
      /inside/u,
    );
    assert.deepEqual(steps, ['enter', 'back', 'enter', 'back']);
  });

  it('runs nothing when entering fails', () => {
    let ran = false;
    assert.throws(
      () =>
        switchedAndBack(
          () => {
            throw new Error('EINVAL');
          },
          () => (ran = true),
          () => (ran = true),
        ),
      /EINVAL/u,
    );
    assert.equal(ran, false);
  });

  it('hands a failure to come back to the fatal handler, and nothing of what ran inside to the caller', () => {
    const fatal = (error: NamespaceRestoreError): never => {
      throw Object.assign(new Error('fatal'), { seen: error });
    };
    assert.throws(
      () =>
        switchedAndBack(
          () => undefined,
          () => 'from the wrong namespace',
          () => {
            throw new Error('setns: EPERM');
          },
          fatal,
        ),
      (error: unknown) => {
        const seen = (error as { seen?: unknown }).seen;
        return seen instanceof NamespaceRestoreError && seen.code === 'ENSRESTORE' && /setns: EPERM; the process ends/u.test(seen.message);
      },
    );
  });

  it('ends the process by default, saying why on stderr', () => {
    const module = projectPath('dist', 'src', 'kernel', 'netns.js');
    const script = `import { switchedAndBack } from ${JSON.stringify(module)};
switchedAndBack(() => {}, () => 1, () => { throw new Error('setns: EPERM'); });
console.log('still serving');`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(child.status, 70, child.stderr);
    assert.equal(child.stdout, '');
    const line = JSON.parse(child.stderr.trim()) as { level: string; code: string; msg: string };
    assert.equal(line.level, 'error');
    assert.equal(line.code, 'ENSRESTORE');
    assert.match(line.msg, /could not switch back to the original network namespace: setns: EPERM/u);
  });
});
