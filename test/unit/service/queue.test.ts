import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KeyedQueue } from '../../../src/service/queue.js';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('KeyedQueue', () => {
  it('runs the tasks of one key one at a time, in arrival order', async () => {
    const queue = new KeyedQueue();
    const events: string[] = [];
    const task = (name: string) => async (): Promise<string> => {
      events.push(`start ${name}`);
      await tick();
      await tick();
      events.push(`end ${name}`);
      return name;
    };
    const results = await Promise.all([queue.run('bus', task('a')), queue.run('bus', task('b')), queue.run('bus', task('c'))]);
    assert.deepEqual(results, ['a', 'b', 'c']);
    assert.deepEqual(events, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });

  it('runs tasks of different keys side by side', async () => {
    const queue = new KeyedQueue();
    const events: string[] = [];
    let release: () => void = () => undefined;
    const blocked = queue.run('x', () => new Promise<void>((resolve) => (release = resolve)).then(() => events.push('x done')));
    await queue.run('y', () => events.push('y done'));
    assert.deepEqual(events, ['y done'], 'y did not wait for x');
    release();
    await blocked;
    assert.deepEqual(events, ['y done', 'x done']);
  });

  it('goes on with the next task after one fails, and forgets idle keys', async () => {
    const queue = new KeyedQueue();
    const failing = queue.run('bus', () => {
      throw new Error('boom');
    });
    const next = queue.run('bus', () => 'next');
    await assert.rejects(failing, /boom/u);
    assert.equal(await next, 'next');
    await tick();
    assert.equal(queue.busy, 0);
  });
});
