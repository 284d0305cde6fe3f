import { join } from 'node:path';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';

/** The checkout's root: tests run compiled from dist/test/, so it is found from this file's place there. */
const PROJECT_ROOT = join(import.meta.dirname, '..', '..', '..');

/** A path inside the checkout (`projectPath('test', 'fixtures', 'golden')`), wherever the test file sits. */
export function projectPath(...parts: string[]): string {
  return join(PROJECT_ROOT, ...parts);
}

/** Bytes from hex written with any spacing, so that expected layouts can be laid out field by field. */
export function hex(...parts: string[]): Buffer {
  return Buffer.from(parts.join('').replace(/\s+/gu, ''), 'hex');
}

/** A small deterministic PRNG (mulberry32) for reproducible random inputs. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Polls `condition` until it holds; fails naming `what` after `timeoutMs`. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A TCP port free on `host` now (the kernel's pick, released at once): for a listener a test starts next. */
export async function freeTcpPort(host: string): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === 'object' && address !== null ? address.port : 0;
}

/** A UDP port free on 127.0.0.1 now (the kernel's pick, released at once): for a tunnel a test starts next. */
export async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => {
    socket.bind(0, '127.0.0.1', resolve);
  });
  const { port } = socket.address();
  socket.close();
  return port;
}
