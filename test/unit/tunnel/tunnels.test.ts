// Tunnels end to end on the fake kernel: two or three "hosts" in this process, each with its own kernel, state and
// daemon parts, joined by real UDP and TCP sockets on loopback. Frames go from ECU sockets through the simulated
// can-gw rules, the tunnel's pair, cannelloni's format on the wire, and back onto the other bus.
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpPeer } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classicFrame, fdFrame, type CanFrame } from '../../../src/can/frame.js';
import { formatCansend } from '../../../src/can/text.js';
import { decodePacket, encodeFrames, encodePacket, StreamDecoder, TCP_HANDSHAKE } from '../../../src/cannelloni/codec.js';
import type { Tunnel } from '../../../src/bus/tunnel.js';
import type { TunnelCounters } from '../../../src/tunnel/counters.js';
import { silentLogger } from '../../../src/log.js';
import { BusService } from '../../../src/service/buses.js';
import { StateStore } from '../../../src/state/store.js';
import { TunnelHost } from '../../../src/tunnel/host.js';
import type { StreamLimits } from '../../../src/tunnel/tcp.js';
import type { CanSocketPort } from '../../../src/kernel/port.js';
import { FakeKernel } from '../../support/fake-kernel.js';
import { ecu } from '../../support/ecus.js';
import { projectPath } from '../../support/helpers.js';

interface Site {
  readonly dir: string;
  readonly kernel: FakeKernel;
  readonly service: BusService;
  readonly host: TunnelHost;
  readonly ecus: Record<string, CanSocketPort>;
}

const sites: Site[] = [];

async function site(ecus: readonly string[], options: { fd?: boolean; dir?: string; streamLimits?: StreamLimits } = {}): Promise<Site> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'cantainer-tunnel-'));
  const kernel = new FakeKernel();
  const service = new BusService({ kernel, store: new StateStore(dir), log: silentLogger });
  service.start();
  const host = new TunnelHost({
    kernel,
    log: silentLogger,
    ...(options.streamLimits === undefined ? {} : { streamLimits: options.streamLimits }),
  });
  if (service.byName('powertrain') === undefined)
    await service.createBus({ id: 'P', name: 'powertrain', fd: options.fd ?? true, members: [] });
  const sockets: Record<string, CanSocketPort> = {};
  for (const name of ecus) {
    await service.addMember('P', ecu(kernel, name));
    sockets[name] = kernel.canSocket('can0', { netns: { label: name, path: `/ecu/${name}` }, fd: true });
  }
  const made = { dir, kernel, service, host, ecus: sockets };
  sites.push(made);
  return made;
}

async function addTunnel(at: Site, tunnel: Tunnel): Promise<void> {
  await at.service.addTunnel('powertrain', tunnel);
  const failures = await at.host.sync(at.service.list());
  assert.deepEqual([...failures.values()], []);
}

async function freePort(kind: 'udp' | 'udp6' | 'tcp'): Promise<number> {
  if (kind === 'tcp') {
    const server = createServer();
    await new Promise<void>((resolve) => {
      server.listen(0, '127.0.0.1', resolve);
    });
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) =>
      server.close(() => {
        resolve();
      }),
    );
    return port;
  }
  const socket = createSocket(kind === 'udp6' ? 'udp6' : 'udp4');
  await new Promise<void>((resolve) => {
    socket.bind(0, kind === 'udp6' ? '::1' : '127.0.0.1', resolve);
  });
  const { port } = socket.address();
  socket.close();
  return port;
}

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

/** What each ECU of the sites received, as cansend text, once everything in flight has arrived. */
async function received(...at: Site[]): Promise<Record<string, string[]>> {
  const entries = await Promise.all(
    at
      .flatMap((s) => Object.entries(s.ecus))
      .map(async ([name, socket]) => [name, (await socket.receiveAll(150)).map(formatCansend)] as const),
  );
  return Object.fromEntries(entries);
}

async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const frames = (n: number, base = 0x100): CanFrame[] =>
  Array.from({ length: n }, (_, i) => classicFrame({ id: base + i, data: [i & 0xff, 0xaa] }));
const texts = (list: readonly CanFrame[]): string[] => list.map(formatCansend);

afterEach(async () => {
  for (const s of sites.splice(0)) {
    for (const socket of Object.values(s.ecus)) socket.close();
    await s.host.close();
    rmSync(s.dir, { recursive: true, force: true });
  }
});

describe('a bus spanning two hosts over a UDP tunnel', () => {
  async function pair(fd = true): Promise<[Site, Site]> {
    const [portA, portB] = [await freePort('udp'), await freePort('udp')];
    const a = await site(['a1', 'a2'], { fd });
    const b = await site(['b1', 'b2'], { fd });
    await addTunnel(a, { name: 'to-b', transport: 'udp', listen: `127.0.0.1:${portA}`, peer: `127.0.0.1:${portB}`, allow: [] });
    await addTunnel(b, { name: 'to-a', transport: 'udp', listen: `127.0.0.1:${portB}`, peer: `127.0.0.1:${portA}`, allow: [] });
    return [a, b];
  }

  it('every member on either host receives each frame exactly once, in order; the sender none', async () => {
    const [a, b] = await pair();
    const sent = [
      ...frames(20),
      fdFrame({ id: 0x7ff, brs: true, data: new Uint8Array(64).fill(3) }),
      classicFrame({ id: 0x1234567, extended: true, rtr: true, data: new Uint8Array(2) }),
    ];
    for (const frame of sent) a.ecus.a1!.send(frame);
    assert.deepEqual(await received(a, b), { a1: [], a2: texts(sent), b1: texts(sent), b2: texts(sent) });
    const back = frames(5, 0x300);
    for (const frame of back) b.ecus.b2!.send(frame);
    assert.deepEqual(await received(a, b), { a1: texts(back), a2: texts(back), b1: texts(back), b2: [] });
    const counters = a.host.views()[0]!.counters;
    assert.equal(counters.framesOut, 22);
    assert.equal(counters.framesIn, 5);
    assert.deepEqual(counters.dropped, {});
    assert.equal(b.host.views()[0]!.counters.framesIn, 22);
  });

  it('batches frames into datagrams up to the MTU, and the sequence numbers show no gap', async () => {
    const [a, b] = await pair();
    const sent = frames(400);
    for (const frame of sent) a.ecus.a1!.send(frame);
    assert.deepEqual((await received(b)).b1, texts(sent));
    const out = a.host.views()[0]!.counters;
    // 400 frames of 7 bytes; 1472 bytes per datagram leave room for 209 after the 5-byte header.
    assert.ok(out.packetsOut >= 2 && out.packetsOut < 400, `${out.packetsOut} datagrams`);
    const into = b.host.views()[0]!.counters;
    assert.equal(into.packetsIn, out.packetsOut);
    assert.equal(into.packetsLost, 0);
    assert.equal(into.reordered, 0);
  });

  it('drops FD frames for a classic bus, counted, and carries the classic ones', async () => {
    const [, b] = await pair(false);
    const port = Number(b.service.get('P')!.tunnels![0]!.listen!.split(':')[1]);
    // From the peer's address (the port does not matter, as with cannelloni), as a cannelloni with an FD bus would.
    const spoof = createSocket('udp4');
    await new Promise<void>((resolve) => {
      spoof.bind(0, '127.0.0.1', resolve);
    });
    await new Promise<void>((resolve) => {
      spoof.send(encodePacket(0, [fdFrame({ id: 0x10, data: [1] }), classicFrame({ id: 0x11, data: [2] })]), port, '127.0.0.1', () => {
        resolve();
      });
    });
    spoof.close();
    assert.deepEqual(await received(b), { b1: ['011#02'], b2: ['011#02'] });
    assert.deepEqual(b.host.views()[0]!.counters.dropped, { 'fd-on-classic': 1 });
  });

  it('drops datagrams from addresses other than the peer, or outside --allow, counted', async () => {
    const [, b] = await pair();
    const port = Number(b.service.get('P')!.tunnels![0]!.listen!.split(':')[1]);
    const stranger = createSocket('udp4');
    await new Promise<void>((resolve) => {
      stranger.bind(0, '127.0.0.2', resolve);
    });
    await new Promise<void>((resolve) => {
      stranger.send(encodePacket(0, frames(1)), port, '127.0.0.1', () => {
        resolve();
      });
    });
    assert.deepEqual(await received(b), { b1: [], b2: [] });
    assert.deepEqual(b.host.views()[0]!.counters.dropped, { 'not-allowed': 1 });
    // Allowed by prefix, it is taken.
    const tunnel = b.service.get('P')!.tunnels![0]!;
    await addTunnel(b, { ...tunnel, allow: ['127.0.0.0/30'] });
    await new Promise<void>((resolve) => {
      stranger.send(encodePacket(0, frames(1)), port, '127.0.0.1', () => {
        resolve();
      });
    });
    stranger.close();
    assert.deepEqual(await received(b), { b1: ['100#00AA'], b2: ['100#00AA'] });
  });

  it('knows its peer however its address is written: [0:0:0:0:0:0:0:1] is ::1, both ways', async () => {
    const [portA, portB] = [await freePort('udp6'), await freePort('udp6')];
    const a = await site(['a1'], { fd: false });
    const b = await site(['b1'], { fd: false });
    await addTunnel(a, { name: 'to-b', transport: 'udp', listen: `[::1]:${portA}`, peer: `[0:0:0:0:0:0:0:1]:${portB}`, allow: [] });
    await addTunnel(b, { name: 'to-a', transport: 'udp', listen: `[0::1]:${portB}`, peer: `[::1]:${portA}`, allow: [] });
    a.ecus.a1!.send(frames(1)[0]!);
    b.ecus.b1!.send(frames(1, 0x200)[0]!);
    assert.deepEqual(await received(a, b), { a1: ['200#00AA'], b1: ['100#00AA'] });
    assert.deepEqual(a.host.views()[0]!.counters.dropped, {});
    assert.deepEqual(b.host.views()[0]!.counters.dropped, {});
  });

  it('puts on the bus exactly what cannelloni 2.1.2 put on its bus for each recorded datagram, and counts the bad ones by cause', async () => {
    const recorded = JSON.parse(readFileSync(projectPath('test', 'fixtures', 'cannelloni', 'cannelloni-2.1.2.json'), 'utf8')) as {
      received: Array<{ datagram: string; onBus: string[] }>;
    };
    const b = await site(['b1']);
    const [portB, portPeer] = [await freePort('udp'), await freePort('udp')];
    await addTunnel(b, { name: 'cannelloni', transport: 'udp', listen: `127.0.0.1:${portB}`, peer: `127.0.0.1:${portPeer}`, allow: [] });
    const peer = createSocket('udp4');
    await new Promise<void>((resolve) => {
      peer.bind(portPeer, '127.0.0.1', resolve);
    });
    for (const { datagram } of recorded.received)
      await new Promise<void>((resolve) => {
        peer.send(Buffer.from(datagram, 'hex'), portB, '127.0.0.1', () => {
          resolve();
        });
      });
    peer.close();
    assert.deepEqual(
      (await received(b)).b1,
      recorded.received.flatMap((entry) => entry.onBus),
    );
    assert.deepEqual(b.host.views()[0]!.counters.dropped, { version: 1, 'op-code': 1, incomplete: 1, length: 2 });
  });

  it('counts datagrams lost from the sequence numbers, takes late ones off as reordered, and counts each restart of the numbers apart', async () => {
    const b = await site(['b1']);
    const [portB, portPeer] = [await freePort('udp'), await freePort('udp')];
    await addTunnel(b, { name: 'seq', transport: 'udp', listen: `127.0.0.1:${portB}`, peer: `127.0.0.1:${portPeer}`, allow: [] });
    const peer = createSocket('udp4');
    await new Promise<void>((resolve) => {
      peer.bind(portPeer, '127.0.0.1', resolve);
    });
    const sequence = [0, 1, 3, 2, 6, 7, 0, 1, 255, 2];
    for (const [i, seq] of sequence.entries()) {
      await new Promise<void>((resolve) => {
        peer.send(encodePacket(seq, [classicFrame({ id: 0x10 + i, data: [] })]), portB, '127.0.0.1', () => {
          resolve();
        });
      });
      await sleep(5);
    }
    peer.close();
    assert.equal((await received(b)).b1?.length, sequence.length, 'every frame is delivered, late or not');
    // 2 skipped then late; 4 and 5 lost; 0 after 7 is a restart; 255 after 1 is a restart again, then 0 and 1 skipped.
    const { packetsLost, reordered, sequenceRestarts } = b.host.views()[0]!.counters;
    assert.deepEqual({ packetsLost, reordered, sequenceRestarts }, { packetsLost: 4, reordered: 1, sequenceRestarts: 2 });
  });

  /** A site with one ECU and a UDP tunnel to a plain socket of this test, which collects the datagrams it gets. */
  async function towardsPlainPeer(name: string, timeoutUs: number): Promise<{ b: Site; datagrams: Buffer[]; peer: UdpPeer }> {
    const b = await site(['b1']);
    const [portB, portPeer] = [await freePort('udp'), await freePort('udp')];
    await addTunnel(b, { name, transport: 'udp', listen: `127.0.0.1:${portB}`, peer: `127.0.0.1:${portPeer}`, timeoutUs, allow: [] });
    const peer = createSocket('udp4');
    const datagrams: Buffer[] = [];
    peer.on('message', (message) => datagrams.push(message));
    await new Promise<void>((resolve) => {
      peer.bind(portPeer, '127.0.0.1', resolve);
    });
    return { b, datagrams, peer };
  }

  it('sends a lone frame on a quiet link at once; frames within the timeout of the last datagram wait and go together', async () => {
    const { b, datagrams, peer } = await towardsPlainPeer('slow', 1_000_000);
    try {
      b.ecus.b1!.send(classicFrame({ id: 0x100, data: [1] }));
      // Well inside the 1 s timeout: the link was quiet, so the frame did not wait for it.
      await until('the first datagram', () => datagrams.length === 1, 800);
      const more = frames(3, 0x200);
      for (const frame of more) b.ecus.b1!.send(frame);
      await sleep(100);
      assert.equal(datagrams.length, 1, 'frames right after a datagram wait for the timeout');
      await until('the second datagram', () => datagrams.length === 2, 3000);
      assert.deepEqual(decodePacket(datagrams[1]!).frames.map(formatCansend), texts(more));
    } finally {
      peer.close();
    }
  });

  it('sends what cannelloni expects: one datagram per frame with --timeout-us 0, sequence numbers counting up', async () => {
    const { b, datagrams, peer } = await towardsPlainPeer('cannelloni', 0);
    b.ecus.b1!.send(classicFrame({ id: 0x123, data: [0xde, 0xad, 0xbe, 0xef] }));
    await until('a datagram', () => datagrams.length === 1);
    b.ecus.b1!.send(fdFrame({ id: 0x124, brs: true, data: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] }));
    await until('two datagrams', () => datagrams.length === 2);
    peer.close();
    assert.deepEqual(
      datagrams.map((d) => d.toString('hex')),
      ['02000000010000012304deadbeef', '0200010001000001248c05' + '0102030405060708090a0b0c'],
    );
    assert.deepEqual(
      datagrams.map((d) => decodePacket(d).sequence),
      [0, 1],
    );
  });
});

describe('TCP tunnels: a server with many clients, clients that reconnect', () => {
  async function star(): Promise<[Site, Site, Site, number]> {
    const port = await freePort('tcp');
    const a = await site(['a1', 'a2']);
    const b = await site(['b1']);
    const c = await site(['c1']);
    await addTunnel(a, { name: 'server', transport: 'tcp-server', listen: `127.0.0.1:${port}`, allow: [] });
    await addTunnel(b, { name: 'client', transport: 'tcp-client', peer: `127.0.0.1:${port}`, allow: [] });
    await addTunnel(c, { name: 'client', transport: 'tcp-client', peer: `127.0.0.1:${port}`, allow: [] });
    await until('both clients connected', () => a.host.views()[0]!.peers?.length === 2);
    await until('the clients ready', () => [b, c].every((s) => s.host.views()[0]!.peers?.length === 1));
    return [a, b, c, port];
  }

  it("a frame from one client reaches the server's bus and every other client once, in order", async () => {
    const [a, b, c] = await star();
    const sent = [...frames(30), fdFrame({ id: 0x42, esi: true, data: new Uint8Array(48).fill(9) })];
    for (const frame of sent) b.ecus.b1!.send(frame);
    assert.deepEqual(await received(a, b, c), { a1: texts(sent), a2: texts(sent), b1: [], c1: texts(sent) });
    const fromServer = frames(7, 0x500);
    for (const frame of fromServer) a.ecus.a2!.send(frame);
    assert.deepEqual(await received(a, b, c), { a1: texts(fromServer), a2: [], b1: texts(fromServer), c1: texts(fromServer) });
    assert.equal(a.host.views()[0]!.counters.connects, 2);
  });

  it('speaks to a plain cannelloni client byte for byte: handshake, then frames back to back', async () => {
    const [a, , , port] = await star();
    const raw = connect({ host: '127.0.0.1', port });
    const got: Buffer[] = [];
    raw.on('data', (chunk: Buffer) => got.push(chunk));
    await new Promise<void>((resolve) => {
      raw.once('connect', resolve);
    });
    raw.write(Buffer.concat([TCP_HANDSHAKE, encodeFrames([classicFrame({ id: 0x211, data: [0xca, 0xfe] })]).subarray(0, 3)]));
    await until('the server counts three peers', () => a.host.views()[0]!.peers?.length === 3);
    // The rest of the frame, split mid-frame as TCP may (cannelloni issue 73).
    raw.write(encodeFrames([classicFrame({ id: 0x211, data: [0xca, 0xfe] })]).subarray(3));
    assert.deepEqual((await received(a)).a1, ['211#CAFE']);
    a.ecus.a1!.send(classicFrame({ id: 0x201, data: [1, 2] }));
    await until('a frame to the raw client', () => Buffer.concat(got).length >= 12 + 7);
    raw.destroy();
    assert.equal(Buffer.concat(got).toString('hex'), '43414e4e454c4c4f4e4976310000020102' + '0102');
  });

  it('disconnects a client whose handshake is wrong, counted, and goes on with the others', async () => {
    const [a, b, c, port] = await star();
    const raw = connect({ host: '127.0.0.1', port });
    raw.on('error', () => undefined);
    raw.resume(); // reading, so that the end of the connection is seen
    await new Promise<void>((resolve) => {
      raw.once('connect', resolve);
    });
    raw.write('GET / HTTP/1.1\r\n\r\n');
    await new Promise<void>((resolve) =>
      raw.once('close', () => {
        resolve();
      }),
    );
    assert.deepEqual(a.host.views()[0]!.counters.dropped, { handshake: 1 });
    b.ecus.b1!.send(classicFrame({ id: 0x1, data: [] }));
    assert.deepEqual(await received(a, b, c), { a1: ['001#'], a2: ['001#'], b1: [], c1: ['001#'] });
  });

  it('refuses connections from outside --allow, counted', async () => {
    const port = await freePort('tcp');
    const a = await site(['a1']);
    await addTunnel(a, { name: 'server', transport: 'tcp-server', listen: `127.0.0.1:${port}`, allow: ['127.0.0.2'] });
    const raw = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.1' });
    raw.on('error', () => undefined);
    raw.resume();
    await new Promise<void>((resolve) =>
      raw.once('close', () => {
        resolve();
      }),
    );
    assert.deepEqual(a.host.views()[0]!.counters.dropped, { 'not-allowed': 1 });
    const allowed = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' });
    await new Promise<void>((resolve) => {
      allowed.once('connect', resolve);
    });
    allowed.write(TCP_HANDSHAKE);
    await until('the allowed client counted', () => a.host.views()[0]!.peers?.length === 1);
    allowed.destroy();
  });

  it('a client reconnects by itself when the server goes away and comes back, and the bus goes on', async () => {
    const [a, b] = await star();
    await a.host.close();
    await until('the client notices', () => b.host.views()[0]!.peers?.length === 0);
    b.ecus.b1!.send(classicFrame({ id: 0x2, data: [] }));
    await sleep(50);
    assert.ok((b.host.views()[0]!.counters.dropped['not-connected'] ?? 0) >= 1, 'frames with no server to go to are counted');
    // The far daemon starts again: a new host on the same state.
    const again = new TunnelHost({ kernel: a.kernel, log: silentLogger });
    sites.push({ ...a, host: again, ecus: {} });
    await again.sync(a.service.list());
    await until('the client is back', () => b.host.views()[0]!.peers?.length === 1 && again.views()[0]!.peers?.length === 2, 10_000);
    b.ecus.b1!.send(classicFrame({ id: 0x3, data: [3] }));
    assert.deepEqual((await received(a)).a1, ['003#03']);
  });

  /** A plain cannelloni client on the server of `a`, handshaken, with what it decodes. */
  async function rawClient(a: Site, port: number, peers: number): Promise<{ socket: Socket; frames: CanFrame[] }> {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => {
      socket.once('connect', resolve);
    });
    const decoder = new StreamDecoder();
    const got: CanFrame[] = [];
    socket.on('data', (chunk: Buffer) => got.push(...decoder.push(chunk).frames));
    socket.write(TCP_HANDSHAKE);
    await until('the client to be a peer', () => a.host.views()[0]!.peers?.length === peers);
    return { socket, frames: got };
  }

  const big = (i: number): CanFrame => fdFrame({ id: 0x600 + (i % 0x100), data: new Uint8Array(64).fill(i & 0xff) });

  it('carries a real bus at its busiest, 8000 classic frames/s paced, with nothing lost, twice or out of order', async () => {
    const [a, b] = await star();
    const sent = Array.from({ length: 16_000 }, (_, i) => classicFrame({ id: 0x100 + (i % 0x600), data: [i & 0xff, (i >> 8) & 0xff] }));
    const got: CanFrame[] = [];
    const listener = b.kernel.canSocket('can0', { netns: { label: 'b1-tap', path: '/ecu/b1' }, fd: true });
    listener.listen(
      (frames) => got.push(...frames),
      () => undefined,
    );
    const started = performance.now();
    for (let i = 0; i < sent.length; i += 8) {
      // 8 frames each millisecond, as a 1 Mbit/s bus at full load carries them.
      while (performance.now() - started < i / 8) await new Promise((resolve) => setImmediate(resolve));
      for (const frame of sent.slice(i, i + 8)) a.ecus.a1!.send(frame);
    }
    await until('every frame at the client', () => got.length >= sent.length, 20_000);
    listener.close();
    assert.deepEqual(got.map(formatCansend), texts(sent));
    assert.deepEqual(a.host.views()[0]!.counters.dropped, {});
    assert.deepEqual(b.host.views()[0]!.counters.dropped, {});
  });

  it('a client that reads slowly loses nothing: a burst bigger than its socket waits in its own queue, in order', async () => {
    const port = await freePort('tcp');
    const a = await site(['a1']);
    await addTunnel(a, { name: 'server', transport: 'tcp-server', listen: `127.0.0.1:${port}`, allow: [] });
    const slow = await rawClient(a, port, 1);
    slow.socket.pause();
    // 20000 FD frames: 1.4 MB, far more than a socket holds; the client reads nothing for a while.
    const sent = Array.from({ length: 20_000 }, (_, i) => big(i));
    for (let i = 0; i < sent.length; i += 500) {
      for (const frame of sent.slice(i, i + 500)) a.ecus.a1!.send(frame);
      await sleep(1);
    }
    await sleep(300);
    slow.socket.resume();
    await until('every frame at the slow client', () => slow.frames.length >= sent.length, 20_000);
    slow.socket.destroy();
    assert.deepEqual(slow.frames.map(formatCansend), texts(sent));
    assert.deepEqual(a.host.views()[0]!.counters.dropped, {});
  });

  it("drops a stalled client's oldest frames when its queue is full, counted, and disconnects it once it took nothing for the stated time", async () => {
    const port = await freePort('tcp');
    const a = await site(['a1'], { streamLimits: { queueBytes: 64 * 1024, stallMs: 1500 } });
    await addTunnel(a, { name: 'server', transport: 'tcp-server', listen: `127.0.0.1:${port}`, allow: [] });
    const reader = await rawClient(a, port, 1);
    const stalled = await rawClient(a, port, 2);
    stalled.socket.pause();
    const counters = (): TunnelCounters => a.host.views()[0]!.counters;
    const sent: CanFrame[] = [];
    // Until its queue is full: the kernel's buffers on loopback take megabytes first, more or fewer as the machine is loaded.
    for (const deadline = Date.now() + 30_000; counters().droppedFrames['queue-full'] === undefined && Date.now() < deadline;) {
      for (let i = 0; i < 200; i++) {
        const frame = big(sent.length);
        sent.push(frame);
        a.ecus.a1!.send(frame);
      }
      await sleep(2);
    }
    assert.ok((counters().droppedFrames['queue-full'] ?? 0) > 0, 'frames were dropped for the stalled client');
    assert.equal(counters().dropped['slow-peer'], undefined, 'not disconnected for being behind');
    await until('the stalled client to be disconnected', () => counters().dropped['slow-peer'] === 1, 10_000);
    assert.equal(a.host.views()[0]!.peers?.length, 1, 'the other client stays');
    await until('every frame at the client that reads', () => reader.frames.length >= sent.length, 10_000);
    assert.deepEqual(reader.frames.map(formatCansend), texts(sent), 'the client that reads lost nothing');
    reader.socket.destroy();
    stalled.socket.destroy();
  });
});

describe('tunnels are state like everything else', () => {
  it('come back with their bus after a restart, and go with it', async () => {
    const a = await site(['a1']);
    const port = await freePort('udp');
    await addTunnel(a, { name: 'cannelloni', transport: 'udp', listen: `127.0.0.1:${port}`, peer: '127.0.0.1:20000', allow: [] });
    await a.host.close();
    const service = new BusService({ kernel: a.kernel, store: new StateStore(a.dir), log: silentLogger });
    service.start();
    const host = new TunnelHost({ kernel: a.kernel, log: silentLogger });
    sites.push({ ...a, service, host, ecus: {} });
    await host.sync(service.list());
    assert.deepEqual(
      host.views().map((view) => [view.bus, view.tunnel.name, view.state, view.detail]),
      [['powertrain', 'cannelloni', 'up', undefined]],
    );
    await service.removeBus('P');
    await host.sync(service.list());
    assert.deepEqual(host.views(), []);
  });

  it('two tunnels may not listen on the same address and port; the error names both', async () => {
    const a = await site([]);
    await addTunnel(a, { name: 'one', transport: 'tcp-server', listen: '127.0.0.1:20400', allow: [] });
    await assert.rejects(
      a.service.addTunnel('powertrain', { name: 'two', transport: 'tcp-server', listen: '127.0.0.1:20400', allow: [] }),
      /tunnel one of bus powertrain listens on TCP 127.0.0.1:20400 already/u,
    );
  });

  it('a tunnel whose port another program holds fails to start, saying why', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => {
      holder.listen(0, '127.0.0.1', resolve);
    });
    const { port } = holder.address() as { port: number };
    const a = await site([]);
    await a.service.addTunnel('powertrain', { name: 'taken', transport: 'tcp-server', listen: `127.0.0.1:${port}`, allow: [] });
    const failures = await a.host.sync(a.service.list());
    holder.close();
    assert.match([...failures.values()].join(), /EADDRINUSE/u);
    assert.equal(a.host.views()[0]!.state, 'failed');
  });
});
