// TCP tunnels, as cannelloni speaks TCP: each side sends CANNELLONIv1, then frames back to back. A server takes many
// clients at once, each a member of the bus: a frame from one client goes on the bus and to every other client,
// once. A client reconnects by itself, backing off. A peer that stops reading is disconnected once its unsent bytes
// pass a bound, so that it can neither grow the daemon's memory nor hold the bus back.
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { CanFrame } from '../can/frame.js';
import { encodeFrames, StreamDecoder, TCP_HANDSHAKE } from '../cannelloni/codec.js';
import { canonicalAddress, parseAddress, type Tunnel } from '../bus/tunnel.js';
import { allowCheck, type AddressCheck } from './allow.js';
import type { BusSide, TunnelCarrier } from './bus-side.js';
import { countDrop, type DropCause, type TunnelCounters } from './counters.js';
import type { RateLimitedLog } from './warnings.js';

/** Bytes a peer may leave unread before it counts as too slow. */
export const MAX_UNSENT_BYTES = 1024 * 1024;
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
}

/** One connection: the handshake both ways, frames decoded as they arrive, writes bounded. */
class StreamPeer {
  readonly name: string;
  readonly socket: Socket;
  readonly #decoder = new StreamDecoder();
  readonly #context: Context;
  readonly #timer: NodeJS.Timeout;

  constructor(socket: Socket, name: string, context: Context, onFrames: (peer: StreamPeer, frames: CanFrame[]) => void) {
    this.socket = socket;
    this.name = name;
    this.#context = context;
    socket.setNoDelay(true);
    socket.write(TCP_HANDSHAKE);
    context.counters.bytesOut += TCP_HANDSHAKE.length;
    this.#timer = setTimeout(() => {
      if (!this.#decoder.handshaken) this.drop('handshake', 'no handshake within 10 s');
    }, HANDSHAKE_TIMEOUT_MS);
    this.#timer.unref();
    socket.on('data', (chunk: Buffer) => {
      context.counters.bytesIn += chunk.length;
      const { frames, problem } = this.#decoder.push(chunk);
      if (frames.length > 0) onFrames(this, frames);
      if (problem !== undefined) this.drop(problem.cause, problem.message);
    });
  }

  /** The peer's handshake has come: frames may go to it. */
  get ready(): boolean {
    return this.#decoder.handshaken && !this.socket.destroyed;
  }

  /** Sends encoded frames; a peer too far behind is disconnected instead. Returns whether they went. */
  write(bytes: Buffer): boolean {
    if (this.socket.writableLength + bytes.length > MAX_UNSENT_BYTES) {
      this.drop('slow-peer', `more than ${MAX_UNSENT_BYTES} bytes unread`);
      return false;
    }
    this.socket.write(bytes);
    return true;
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
    clearTimeout(this.#timer);
    this.socket.destroy();
  }
}

function peerName(socket: Socket): string {
  const address = canonicalAddress(socket.remoteAddress ?? '?');
  return address.includes(':') ? `[${address}]:${socket.remotePort ?? 0}` : `${address}:${socket.remotePort ?? 0}`;
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
    const bytes = encodeFrames(frames);
    for (const client of this.#clients) {
      if (client === except || !client.ready) continue;
      if (client.write(bytes)) {
        reached += 1;
        this.#context.counters.bytesOut += bytes.length;
      }
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
    if (peer.write(bytes)) {
      this.#context.counters.framesOut += frames.length;
      this.#context.counters.bytesOut += bytes.length;
    }
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
