// TCP tunnels, as cannelloni speaks TCP: each side sends CANNELLONIv1, then frames back to back. A server takes many
// clients at once, each a member of the bus: a frame from one client goes on the bus and to every other client,
// once. A client reconnects by itself, backing off. A peer that reads slowly is never disconnected for it: its
// frames wait in a bounded queue of its own (when full, its oldest frames are dropped and counted); only a peer that
// makes no progress at all for a stated time is disconnected, so that none can grow the daemon's memory or hold the
// bus back.
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { CanFrame } from '../can/frame.js';
import { encodeFrames, StreamDecoder, TCP_HANDSHAKE } from '../cannelloni/codec.js';
import { formatAddress, parseAddress, type Tunnel } from '../bus/tunnel.js';
import { allowCheck, reportedAddress, type AddressCheck } from './allow.js';
import type { BusSide, TunnelCarrier } from './bus-side.js';
import { countDrop, type DropCause, type TunnelCounters } from './counters.js';
import type { RateLimitedLog } from './warnings.js';

/** How much a TCP peer may be behind. */
export interface StreamLimits {
  /** Bytes of frames queued for one peer beyond what its socket holds; past it, the peer's oldest frames are dropped. */
  readonly queueBytes: number;
  /** A peer with frames waiting that takes none of them for this long is disconnected. */
  readonly stallMs: number;
}

export const DEFAULT_STREAM_LIMITS: StreamLimits = { queueBytes: 8 * 1024 * 1024, stallMs: 30_000 };
/** Bytes handed to a peer's socket at once; more wait in its queue, where the oldest can still be dropped. */
const SOCKET_BYTES = 256 * 1024;
/** Clients one server takes at once. */
export const MAX_CLIENTS = 64;
/** How long a new connection has to send its handshake. */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** Reconnection delays of a client: from the first to the longest. */
export const RECONNECT_FIRST_MS = 100;
export const RECONNECT_MAX_MS = 5000;

interface Context {
  readonly bus: BusSide;
  readonly counters: TunnelCounters;
  readonly warnings: RateLimitedLog;
  readonly fields: Readonly<Record<string, string>>;
  readonly limits?: StreamLimits;
}

/** Frames encoded once for every peer, and how many there are (to count them if they are dropped). */
interface Encoded {
  readonly bytes: Buffer;
  readonly frames: number;
}

/** One connection: the handshake both ways, frames decoded as they arrive, writes queued and bounded. */
class StreamPeer {
  readonly name: string;
  readonly socket: Socket;
  readonly #decoder = new StreamDecoder();
  readonly #context: Context;
  readonly #limits: StreamLimits;
  readonly #handshakeTimer: NodeJS.Timeout;
  readonly #stallTimer: NodeJS.Timeout;
  readonly #queue: Encoded[] = [];
  #queuedBytes = 0;
  /** When the peer last took frames (its socket drained, or it had nothing waiting). */
  #progressAt = Date.now();

  constructor(socket: Socket, name: string, context: Context, onFrames: (peer: StreamPeer, frames: CanFrame[]) => void) {
    this.socket = socket;
    this.name = name;
    this.#context = context;
    this.#limits = context.limits ?? DEFAULT_STREAM_LIMITS;
    socket.setNoDelay(true);
    socket.write(TCP_HANDSHAKE);
    context.counters.bytesOut += TCP_HANDSHAKE.length;
    this.#handshakeTimer = setTimeout(() => {
      if (!this.#decoder.handshaken) this.drop('handshake', 'no handshake within 10 s');
    }, HANDSHAKE_TIMEOUT_MS);
    this.#handshakeTimer.unref();
    this.#stallTimer = setInterval(
      () => {
        this.#checkProgress();
      },
      Math.max(10, Math.min(1000, this.#limits.stallMs / 4)),
    );
    this.#stallTimer.unref();
    socket.on('data', (chunk: Buffer) => {
      context.counters.bytesIn += chunk.length;
      const { frames, problem } = this.#decoder.push(chunk);
      if (frames.length > 0) onFrames(this, frames);
      if (problem !== undefined) this.drop(problem.cause, problem.message);
    });
    socket.on('drain', () => {
      this.#progressAt = Date.now();
      this.#flush();
    });
  }

  /** The peer's handshake has come: frames may go to it. */
  get ready(): boolean {
    return this.#decoder.handshaken && !this.socket.destroyed;
  }

  /** Sends encoded frames, or queues them behind those the peer has not taken yet; the oldest go when full. */
  send(encoded: Encoded): void {
    if (this.socket.writableLength === 0 && this.#queue.length === 0) this.#progressAt = Date.now();
    this.#queue.push(encoded);
    this.#queuedBytes += encoded.bytes.length;
    this.#flush();
    let dropped = 0;
    while (this.#queuedBytes > this.#limits.queueBytes && this.#queue.length > 1) {
      const oldest = this.#queue.shift();
      if (oldest === undefined) break;
      this.#queuedBytes -= oldest.bytes.length;
      dropped += oldest.frames;
    }
    if (dropped > 0) {
      countDrop(this.#context.counters, 'queue-full', dropped);
      this.#context.warnings.warn('queue-full', 'a tunnel peer is further behind than its queue holds: its oldest frames were dropped', {
        ...this.#context.fields,
        peer: this.name,
        queueBytes: String(this.#limits.queueBytes),
      });
    }
  }

  #flush(): void {
    while (this.#queue.length > 0 && this.socket.writableLength < SOCKET_BYTES && !this.socket.destroyed) {
      const next = this.#queue.shift();
      if (next === undefined) break;
      this.#queuedBytes -= next.bytes.length;
      this.socket.write(next.bytes);
    }
  }

  #checkProgress(): void {
    if (this.socket.writableLength === 0 && this.#queue.length === 0) {
      this.#progressAt = Date.now();
      return;
    }
    if (Date.now() - this.#progressAt > this.#limits.stallMs)
      this.drop(
        'slow-peer',
        `took no frames for ${this.#limits.stallMs / 1000} s with ${this.#queuedBytes + this.socket.writableLength} bytes waiting`,
      );
  }

  drop(cause: DropCause, detail: string): void {
    if (this.socket.destroyed) return;
    countDrop(this.#context.counters, cause);
    this.#context.warnings.warn(`drop-${cause}`, 'a tunnel peer was disconnected', {
      ...this.#context.fields,
      peer: this.name,
      cause,
      detail,
    });
    this.socket.destroy();
  }

  close(): void {
    clearTimeout(this.#handshakeTimer);
    clearInterval(this.#stallTimer);
    this.#queue.length = 0;
    this.#queuedBytes = 0;
    this.socket.destroy();
  }
}

function peerName(socket: Socket): string {
  const address = reportedAddress(socket.remoteAddress ?? '?');
  return formatAddress(address, socket.remotePort ?? 0);
}

export class TcpServerCarrier implements TunnelCarrier {
  readonly #tunnel: Tunnel;
  readonly #context: Context;
  readonly #allowed: AddressCheck | undefined;
  readonly #clients = new Set<StreamPeer>();
  #server: Server | undefined;

  constructor(tunnel: Tunnel, context: Context) {
    this.#tunnel = tunnel;
    this.#context = context;
    this.#allowed = allowCheck(tunnel.allow);
  }

  async start(): Promise<void> {
    const listen = parseAddress('listen', this.#tunnel.listen ?? '', { literal: true });
    const server = createServer((socket) => {
      this.#accept(socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: listen.host, port: listen.port, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (error) => {
      this.#context.warnings.warn('tcp-server-error', 'a TCP tunnel server failed', { ...this.#context.fields, error: error.message });
    });
    this.#server = server;
  }

  #accept(socket: Socket): void {
    const { counters, warnings, fields } = this.#context;
    const name = peerName(socket);
    socket.on('error', () => undefined); // a reset peer: 'close' follows and does the rest
    if (this.#allowed !== undefined && !this.#allowed(socket.remoteAddress ?? '')) {
      countDrop(counters, 'not-allowed');
      warnings.warn('not-allowed', 'a connection from an address the tunnel does not take: refused', { ...fields, peer: name });
      socket.destroy();
      return;
    }
    if (this.#clients.size >= MAX_CLIENTS) {
      countDrop(counters, 'too-many-clients');
      warnings.warn('too-many-clients', `a tunnel server has ${MAX_CLIENTS} clients already: connection refused`, {
        ...fields,
        peer: name,
      });
      socket.destroy();
      return;
    }
    const client = new StreamPeer(socket, name, this.#context, (from, frames) => {
      const sent = this.#context.bus.put(frames);
      // The other clients are members of the bus too: they get what this one sent, as the bus's members do.
      if (sent.length > 0) this.#fanOut(sent, from);
    });
    this.#clients.add(client);
    counters.connects += 1;
    socket.on('close', () => {
      client.close();
      if (this.#clients.delete(client)) counters.disconnects += 1;
    });
  }

  #fanOut(frames: readonly CanFrame[], except?: StreamPeer): number {
    let reached = 0;
    const encoded = { bytes: encodeFrames(frames), frames: frames.length };
    for (const client of this.#clients) {
      if (client === except || !client.ready) continue;
      client.send(encoded);
      reached += 1;
      this.#context.counters.bytesOut += encoded.bytes.length;
    }
    return reached;
  }

  send(frames: readonly CanFrame[]): void {
    if (this.#fanOut(frames) === 0) countDrop(this.#context.counters, 'not-connected', frames.length);
    else this.#context.counters.framesOut += frames.length;
  }

  peers(): string[] {
    return [...this.#clients].filter((client) => client.ready).map((client) => client.name);
  }

  close(): void {
    for (const client of this.#clients) client.close();
    this.#clients.clear();
    this.#server?.close();
    this.#server = undefined;
  }
}

export class TcpClientCarrier implements TunnelCarrier {
  readonly #tunnel: Tunnel;
  readonly #context: Context;
  #peer: StreamPeer | undefined;
  #timer: NodeJS.Timeout | undefined;
  #delayMs = RECONNECT_FIRST_MS;
  #closed = false;

  constructor(tunnel: Tunnel, context: Context) {
    this.#tunnel = tunnel;
    this.#context = context;
  }

  start(): Promise<void> {
    // A server that is not there yet is not an error: the client keeps trying, as cannelloni's does.
    this.#connect();
    return Promise.resolve();
  }

  #connect(): void {
    this.#timer = undefined;
    if (this.#closed) return;
    const { host, port } = parseAddress('peer', this.#tunnel.peer ?? '', { literal: false });
    const socket = connect({ host, port });
    socket.on('error', () => undefined); // refused, reset, unreachable: 'close' follows and schedules the next try
    socket.once('connect', () => {
      this.#context.counters.connects += 1;
      const peer = new StreamPeer(socket, peerName(socket), this.#context, (_from, frames) => {
        this.#context.bus.put(frames);
      });
      this.#peer = peer;
      socket.on('data', () => {
        // The server answered as cannelloni does: the connection works, so the next failure starts from short waits.
        if (peer.ready) this.#delayMs = RECONNECT_FIRST_MS;
      });
    });
    socket.once('close', () => {
      if (this.#peer?.socket === socket) {
        this.#peer.close();
        this.#peer = undefined;
        this.#context.counters.disconnects += 1;
      }
      if (this.#closed) return;
      this.#timer = setTimeout(() => {
        this.#connect();
      }, this.#delayMs);
      this.#delayMs = Math.min(this.#delayMs * 2, RECONNECT_MAX_MS);
    });
  }

  send(frames: readonly CanFrame[]): void {
    const peer = this.#peer;
    if (peer?.ready !== true) {
      countDrop(this.#context.counters, 'not-connected', frames.length);
      return;
    }
    const bytes = encodeFrames(frames);
    peer.send({ bytes, frames: frames.length });
    this.#context.counters.framesOut += frames.length;
    this.#context.counters.bytesOut += bytes.length;
  }

  peers(): string[] {
    return this.#peer?.ready === true ? [this.#peer.name] : [];
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#peer?.close();
    this.#peer = undefined;
  }
}
