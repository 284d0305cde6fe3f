// The JSON server's bounds, with real unix sockets: a stream client that stops reading is dropped once a bounded
// amount waits for it (the others go on receiving everything), and a declared body over the limit is answered 413
// before any of it is read.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryLogger } from '../../../src/log.js';
import { MAX_NESTING, nestedDeeperThan, serveJson, STREAM, type JsonServer, type JsonStream } from '../../../src/transport/json-server.js';

const MAX_STREAM = 64 * 1024;
const PAYLOAD = 'x'.repeat(2000);

describe('the JSON server keeps its memory bounded', () => {
  let dir: string;
  let server: JsonServer;
  let log: ReturnType<typeof memoryLogger>;
  /** The writers of the open streams: each tick sends one object to every stream. */
  const writers = new Set<(value: object) => void>();
  let ticks: NodeJS.Timeout;
  let sent = 0;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cantainer-json-'));
    log = memoryLogger();
    sent = 0;
    const stream: JsonStream = {
      [STREAM]: (write) => {
        writers.add(write);
        return () => writers.delete(write);
      },
    };
    server = await serveJson({
      socketPath: join(dir, 'api.sock'),
      handlers: { '/Stream': () => stream, '/Echo': (body) => body },
      context: undefined,
      log,
      parseBody: (text) => (text === '' ? {} : (JSON.parse(text) as Record<string, unknown>)),
      maxBodyBytes: 1024,
      maxStreamBytes: MAX_STREAM,
    });
    ticks = setInterval(() => {
      if (writers.size === 0) return;
      sent += 1;
      for (const write of writers) write({ n: sent, payload: PAYLOAD });
    }, 1);
  });

  afterEach(async () => {
    clearInterval(ticks);
    writers.clear();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const open = (request: string): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const socket = connect(join(dir, 'api.sock'), () => {
        socket.write(request);
        resolve(socket);
      });
      socket.once('error', reject);
    });

  const until = async (what: string, check: () => boolean, ms = 20_000): Promise<void> => {
    const deadline = Date.now() + ms;
    while (!check()) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };

  it('drops a stream client that stopped reading, with a log line; a client that reads gets every object, in order', async () => {
    const streamRequest = 'POST /Stream HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n';
    const stalled = await open(streamRequest);
    stalled.pause();
    let stalledClosed = false;
    stalled.on('close', () => (stalledClosed = true));
    const reader = await open(streamRequest);
    let text = '';
    reader.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));

    await until('the stalled client to be dropped', () =>
      log.lines.some((line) => line.msg === 'a stream client that stopped reading was dropped'),
    );
    const dropped = log.lines.find((line) => line.msg === 'a stream client that stopped reading was dropped');
    assert.ok(Number(dropped?.unsent) <= MAX_STREAM + 4096, `at most the bound and one object waited: ${String(dropped?.unsent)}`);
    stalled.resume();
    await until('the stalled client to see its connection closed', () => stalledClosed);

    const reached = sent;
    await until('the reader to catch up', () => text.includes(`"n":${reached},`));
    reader.destroy();
    const numbers = text
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => (JSON.parse(line) as { n: number }).n);
    assert.deepEqual(
      numbers,
      Array.from({ length: numbers.length }, (_, i) => numbers[0]! + i),
      'no gap, no repeat',
    );
    assert.ok(numbers.length >= reached - numbers[0]! + 1);
  });

  it('closes every connection after its answer, so that no client reuses one the server may be closing', async () => {
    // Two requests written at once on one connection, as a keep-alive client would send its next one.
    const one = 'POST /Echo HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n{"n": 1}\n';
    const socket = await open(`${one}${one.replace('1}', '2}')}`);
    const text = await new Promise<string>((resolve) => {
      let seen = '';
      socket.on('data', (chunk: Buffer) => (seen += chunk.toString('utf8')));
      socket.on('close', () => {
        resolve(seen);
      });
    });
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/u);
    assert.match(text, /\r\nConnection: close\r\n/u);
    assert.match(text, /\{"n":1\}\n$/u);
    assert.doesNotMatch(text, /"n":2/u, 'the second request got no answer on the closed connection');
  });

  it('answers 413 to a declared body over the limit before reading any of it', async () => {
    const socket = await open('POST /Echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10485760\r\n\r\n');
    const answer = await new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
        if (text.includes('\r\n\r\n') && text.includes('}')) resolve(text);
      });
    });
    socket.destroy();
    assert.match(answer, /^HTTP\/1\.1 413 /u);
    assert.match(answer, /"Err":"request body over 1024 bytes"/u);
  });

  it('refuses a body nested deeper than 64 levels before parsing it, naming the limit', async () => {
    const depth = 100_000;
    const body = `{"a":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    const server2 = await serveJson({
      socketPath: join(dir, 'deep.sock'),
      handlers: { '/Echo': (parsed) => parsed },
      context: undefined,
      log,
      parseBody: (text) => JSON.parse(text) as Record<string, unknown>,
    });
    try {
      const socket = await new Promise<Socket>((resolve) => {
        const s = connect(join(dir, 'deep.sock'), () => {
          s.write(`POST /Echo HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
          resolve(s);
        });
      });
      const answer = await new Promise<string>((resolve) => {
        let text = '';
        socket.on('data', (chunk: Buffer) => {
          text += chunk.toString('utf8');
          if (text.includes('}\n')) resolve(text);
        });
      });
      socket.destroy();
      assert.match(answer, /^HTTP\/1\.1 400 /u);
      const err = (JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { Err: string }).Err;
      assert.match(err, /^body: "\{\\"a\\":\[\[\[+…" is not valid; allowed: JSON nested at most 64 levels deep$/u);
    } finally {
      await server2.close();
    }
    assert.equal(nestedDeeperThan(`${'['.repeat(MAX_NESTING)}${']'.repeat(MAX_NESTING)}`, MAX_NESTING), false);
    assert.equal(nestedDeeperThan(`{"s":"${'['.repeat(500)}"}`, MAX_NESTING), false, 'brackets inside strings do not count');
    assert.equal(nestedDeeperThan(`{"s":"\\"${'['.repeat(2)}"}`, 1), false, 'nor after an escaped quote');
    assert.equal(nestedDeeperThan(`[{"a":[{}]}]`, 3), true);
  });
});
