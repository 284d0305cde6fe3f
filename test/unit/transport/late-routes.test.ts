// A server that listens before its routes are loaded (the daemon's plugin socket at start): the early answers come at
// once, every other request waits for the routes and is then answered by them, exactly once; routes that never
// come turn waiting requests into a 503 naming why.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryLogger } from '../../../src/log.js';
import { serveJsonLate, type LateJsonServer } from '../../../src/transport/json-server.js';
import { post } from '../../support/plugin-client.js';

interface Counter {
  calls: number;
}

describe('a JSON server whose routes come later', () => {
  let dir: string;
  let socket: string;
  let late: LateJsonServer<Counter>;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cantainer-late-'));
    socket = join(dir, 'plugin.sock');
    late = await serveJsonLate<Counter>({
      socketPath: socket,
      early: { '/Plugin.Activate': { Implements: ['NetworkDriver'] } },
      log: memoryLogger(),
      parseBody: (text) => (text === '' ? {} : (JSON.parse(text) as Record<string, unknown>)),
    });
  });

  afterEach(async () => {
    await late.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers the early paths at once and holds the others until the routes are given', async () => {
    const activated = await post(socket, '/Plugin.Activate', undefined, 5_000);
    assert.equal(activated.status, 200);
    assert.deepEqual(activated.body, { Implements: ['NetworkDriver'] });

    const context: Counter = { calls: 0 };
    const order: string[] = [];
    const held = post(socket, '/Count', { n: 1 }, 5_000).then((answer) => {
      order.push('answered');
      return answer;
    });
    // Long enough for the request to have reached the server and be waiting there.
    await new Promise((resolve) => setTimeout(resolve, 100));
    order.push('provided');
    const recorded: string[] = [];
    late.provide(
      {
        handlers: {
          '/Count': (body, counter) => {
            counter.calls += 1;
            return { calls: counter.calls, n: body.n };
          },
          '/Plugin.Activate': () => ({ Implements: ['NetworkDriver'], loaded: true }),
        },
        context,
      },
      (method, status) => recorded.push(`${method} ${status}`),
    );
    const answer = await held;
    assert.deepEqual(order, ['provided', 'answered']);
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body, { calls: 1, n: 1 });
    assert.equal(context.calls, 1);
    // Once given, the routes answer every path, the early ones too; unknown paths are 404 as usual.
    assert.deepEqual((await post(socket, '/Plugin.Activate', undefined, 5_000)).body, { Implements: ['NetworkDriver'], loaded: true });
    assert.equal((await post(socket, '/Nothing', {}, 5_000)).status, 404);
    assert.deepEqual(recorded, ['Count 200', 'Plugin.Activate 200', 'other 404']);
  });

  it('answers waiting requests 503 with the reason when the routes never come', async () => {
    const held = post(socket, '/Count', {}, 5_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    late.fail(new Error('the state file is not JSON'));
    const answer = await held;
    assert.equal(answer.status, 503);
    assert.match(String(answer.body.Err), /could not start: the state file is not JSON/u);
    // The early answers still come; a later request is refused the same way.
    assert.equal((await post(socket, '/Plugin.Activate', undefined, 5_000)).status, 200);
    assert.equal((await post(socket, '/Count', {}, 5_000)).status, 503);
  });
});
