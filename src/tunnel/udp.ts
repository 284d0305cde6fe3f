// A UDP tunnel, as cannelloni runs one: frames of the bus gathered into datagrams of the format version 2, each sent
// when the next frame would not fit in the MTU or once the timeout has passed since the last datagram went (at once
// when the link has been quiet that long: a lone frame does not wait for company that is not coming); datagrams
// from the peer (or from the `allow` entries) decoded onto the bus. Sequence numbers of arriving datagrams are
// followed to count losses and late datagrams, which UDP does not prevent.
import { lookup } from 'node:dns/promises';
import type { CanFrame } from '../can/frame.js';
import { decodePacket, encodedSize, encodePacket, PACKET_HEADER_SIZE } from '../cannelloni/codec.js';
import {
  canonicalAddress,
  DEFAULT_TUNNEL_MTU,
  DEFAULT_TUNNEL_TIMEOUT_US,
  parseAddress,
  type NetAddress,
  type Tunnel,
} from '../bus/tunnel.js';
import { socketAddress, UdpSocket } from '../kernel/udp-socket.js';
import { allowCheck, reportedAddress, type AddressCheck } from './allow.js';
import type { BusSide, TunnelCarrier } from './bus-side.js';
import { countDrop, type TunnelCounters } from './counters.js';
import type { RateLimitedLog } from './warnings.js';
import { errorMessage } from '../errors.js';

/** Room asked of the kernel for datagrams not read yet: bursts are lost in the default buffer (cannelloni issue 72). */
const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

export class UdpCarrier implements TunnelCarrier {
  readonly #tunnel: Tunnel;
  readonly #bus: BusSide;
  readonly #counters: TunnelCounters;
  readonly #warnings: RateLimitedLog;
  readonly #fields: Readonly<Record<string, string>>;
  readonly #allowed: AddressCheck | undefined;
  readonly #listen: NetAddress;
  readonly #payload: number;
  readonly #timeoutUs: number;
  #socket: UdpSocket | undefined;
  /** Where datagrams go, as sendto takes it. */
  #to: Buffer | undefined;
  /** The peer's address in canonical form, as arriving datagrams are compared with it. */
  #peerKey: string | undefined;
  #pending: CanFrame[] = [];
  #pendingBytes = PACKET_HEADER_SIZE;
  #timer: NodeJS.Timeout | undefined;
  /** When the last datagram went (performance.now(), ms). */
  #sentAt = -Infinity;
  #sequence = 0;
  #lastSequence: number | undefined;
  /** Sequence numbers skipped and not seen since: a datagram that comes late is taken off the losses. */
  readonly #skipped = new Set<number>();

  constructor(tunnel: Tunnel, bus: BusSide, counters: TunnelCounters, warnings: RateLimitedLog, fields: Readonly<Record<string, string>>) {
    this.#tunnel = tunnel;
    this.#bus = bus;
    this.#counters = counters;
    this.#warnings = warnings;
    this.#fields = fields;
    this.#allowed = allowCheck(tunnel.allow);
    this.#listen = parseAddress('listen', tunnel.listen ?? '', { literal: true });
    // What fits in one datagram on a link of this MTU: IP and UDP headers come off.
    this.#payload = (tunnel.mtu ?? DEFAULT_TUNNEL_MTU) - (this.#listen.family === 6 ? 40 : 20) - 8;
    this.#timeoutUs = tunnel.timeoutUs ?? DEFAULT_TUNNEL_TIMEOUT_US;
  }

  async start(): Promise<void> {
    const listen = this.#listen;
    const family = listen.family === 6 ? 6 : 4;
    const peer = parseAddress('peer', this.#tunnel.peer ?? '', { literal: false });
    const resolved = peer.family === undefined ? await lookup(peer.host, { family: family === 6 ? 0 : 4 }) : { address: peer.host };
    this.#to = socketAddress(family, resolved.address, peer.port);
    this.#peerKey = canonicalAddress(resolved.address);
    const socket = UdpSocket.open({ family, address: listen.host, port: listen.port, receiveBufferBytes: RECEIVE_BUFFER_BYTES });
    socket.listen(
      (datagrams) => {
        for (const datagram of datagrams) this.#receive(datagram.data, datagram.address, datagram.port);
      },
      (error) => {
        this.#warnings.warn('udp-error', 'a UDP tunnel socket failed', { ...this.#fields, error: error.message });
      },
    );
    this.#socket = socket;
  }

  peers(): undefined {
    return undefined;
  }

  #receive(message: Buffer, from: string, port: number): void {
    const address = reportedAddress(from);
    if (this.#allowed === undefined ? address !== this.#peerKey : !this.#allowed(address)) {
      countDrop(this.#counters, 'not-allowed');
      this.#warnings.warn('not-allowed', 'a datagram from an address the tunnel does not take: dropped', {
        ...this.#fields,
        from: `${address}:${port}`,
      });
      return;
    }
    this.#counters.packetsIn += 1;
    this.#counters.bytesIn += message.length;
    const decoded = decodePacket(message);
    if (decoded.problem !== undefined) {
      countDrop(this.#counters, decoded.problem.cause);
      this.#warnings.warn(`wire-${decoded.problem.cause}`, 'a malformed datagram came through a tunnel', {
        ...this.#fields,
        from: `${address}:${port}`,
        problem: decoded.problem.message,
      });
      if (decoded.frames.length === 0) return;
    }
    this.#followSequence(decoded.sequence);
    this.#bus.put(decoded.frames);
  }

  /**
   * Follows sequence numbers: those skipped are lost until they come late (then they count as reordered instead);
   * a number from behind that was never skipped is a duplicate or a restarted peer, and the count starts again there.
   */
  #followSequence(sequence: number): void {
    const last = this.#lastSequence;
    this.#lastSequence = sequence;
    if (last === undefined) return;
    const ahead = (sequence - last - 1) & 0xff;
    if (ahead < 128) {
      for (let k = 1; k <= ahead; k++) this.#skipped.add((last + k) & 0xff);
      this.#skipped.delete(sequence);
      this.#counters.packetsLost += ahead;
      return;
    }
    if (this.#skipped.delete(sequence)) {
      this.#counters.packetsLost -= 1;
      this.#counters.reordered += 1;
      this.#lastSequence = last;
      return;
    }
    this.#skipped.clear();
    this.#counters.sequenceRestarts += 1;
  }

  send(frames: readonly CanFrame[]): void {
    if (this.#socket === undefined) return;
    for (const frame of frames) {
      const size = encodedSize(frame);
      if (this.#pendingBytes + size > this.#payload) this.#flush();
      this.#pending.push(frame);
      this.#pendingBytes += size;
    }
    if (this.#pending.length === 0 || this.#timer !== undefined) return;
    // Frames wait only while a datagram went less than the timeout ago: under load datagrams go full or once per
    // timeout, as cannelloni's do; on a quiet link a frame goes at once, without a timer's wake-up.
    const wait = this.#sentAt + this.#timeoutUs / 1000 - performance.now();
    if (wait <= 0) this.#flush();
    else
      this.#timer = setTimeout(() => {
        this.#flush();
      }, Math.ceil(wait));
  }

  #flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const frames = this.#pending;
    const socket = this.#socket;
    const to = this.#to;
    if (frames.length === 0 || socket === undefined || to === undefined) return;
    this.#pending = [];
    this.#pendingBytes = PACKET_HEADER_SIZE;
    this.#sentAt = performance.now();
    const packet = encodePacket(this.#sequence, frames);
    this.#sequence = (this.#sequence + 1) & 0xff;
    this.#counters.packetsOut += 1;
    this.#counters.framesOut += frames.length;
    this.#counters.bytesOut += packet.length;
    try {
      socket.send(packet, to);
    } catch (error) {
      countDrop(this.#counters, 'send-failed');
      this.#warnings.warn('send-failed', 'a UDP tunnel could not send a datagram', { ...this.#fields, error: errorMessage(error) });
    }
  }

  close(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending = [];
    this.#socket?.close();
    this.#socket = undefined;
  }
}
