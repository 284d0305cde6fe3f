// A UDP socket made here rather than by node:dgram, for what a tunnel needs and dgram cannot give: many datagrams
// read per wake-up (recvmmsg, each with its sender's address), and a receive buffer beyond net.core.rmem_max
// (SO_RCVBUFFORCE, as root), without which a burst from the far side is lost before it is read.
import { KernelError } from './errors.js';
import {
  AF_INET,
  AF_INET6,
  bind,
  close,
  formatIp6,
  getsockname,
  getsockoptInt,
  MSG_DONTWAIT,
  parseIp,
  sendTo,
  setsockoptInt,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  socket,
  SOL_SOCKET,
  watchReadable,
  watchWritable,
} from './libc.js';
import { ReceiveBatch } from './message-batch.js';
import { Errno } from '../netlink/errno.js';

/** Datagrams read per recvmmsg call, each into a buffer that holds the largest there is. */
const BATCH = 32;
const DATAGRAM_BYTES = 65536;
/** Datagrams read per wake-up at most, before the event loop gets its turn. */
const MAX_PER_WAKE = 256;
/** Datagrams held while the socket's send buffer is full; beyond that, send throws. */
const MAX_QUEUED = 1024;

export interface Datagram {
  /** A view of the receive buffer: valid only during the call it is handed to. */
  readonly data: Buffer;
  /** The sender's address as the C library writes it (IPv4-mapped senders of an IPv6 socket as ::ffff:a.b.c.d). */
  readonly address: string;
  readonly port: number;
}

export interface UdpSocketOptions {
  readonly family: 4 | 6;
  readonly address: string;
  readonly port: number;
  /** Asked of the kernel past net.core.rmem_max when the process may (CAP_NET_ADMIN), else up to that cap. */
  readonly receiveBufferBytes?: number;
}

/** A destination in the form sendto takes; an IPv4 address to an IPv6 socket becomes IPv4-mapped. */
export function socketAddress(family: 4 | 6, address: string, port: number): Buffer {
  const what = `the address ${JSON.stringify(address)}`;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`${what}: port ${port} is not 0..65535`);
  const v4 = parseIp(AF_INET, address);
  // An IPv6 socket reaches an IPv4 address through its IPv4-mapped form, ::ffff:a.b.c.d.
  const six = v4 === undefined ? parseIp(AF_INET6, address) : Buffer.concat([Buffer.alloc(10), Buffer.from([0xff, 0xff]), v4]);
  const ip = family === 4 ? v4 : six;
  if (ip === undefined) throw new RangeError(`${what} is not an ${family === 4 ? 'IPv4' : 'IP'} address`);
  // struct sockaddr_in (16 bytes, the address at 4) or sockaddr_in6 (28 bytes, the address at 8).
  const sockaddr = Buffer.alloc(family === 4 ? 16 : 28);
  sockaddr.writeUInt16LE(family === 4 ? AF_INET : AF_INET6, 0);
  sockaddr.writeUInt16BE(port, 2);
  ip.copy(sockaddr, family === 4 ? 4 : 8);
  return sockaddr;
}

export class UdpSocket {
  readonly #fd: number;
  readonly #label: string;
  readonly #batch = new ReceiveBatch(BATCH, DATAGRAM_BYTES, { names: true });
  readonly #queue: Array<{ readonly data: Uint8Array; readonly to: Buffer }> = [];
  #readable: { close(): void } | undefined;
  #writable: { close(): void } | undefined;
  #closed = false;
  #onError: ((error: Error) => void) | undefined;
  /** The last sender's address bytes and their text: a tunnel hears from one peer, so the text is made once. */
  #lastName = Buffer.alloc(0);
  #lastAddress = '';

  private constructor(fd: number, label: string) {
    this.#fd = fd;
    this.#label = label;
  }

  static open(options: UdpSocketOptions): UdpSocket {
    const label = options.family === 6 ? `[${options.address}]:${options.port}` : `${options.address}:${options.port}`;
    const address = socketAddress(options.family, options.address, options.port);
    const fd = socket(
      options.family === 6 ? AF_INET6 : AF_INET,
      SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
      0,
      () => `opening a UDP socket for ${label}`,
    );
    try {
      if (options.receiveBufferBytes !== undefined) {
        const what = (): string => `sizing the receive buffer of the UDP socket on ${label}`;
        try {
          setsockoptInt(fd, SOL_SOCKET, SO_RCVBUFFORCE, options.receiveBufferBytes, what);
        } catch (error) {
          // Without CAP_NET_ADMIN: as much as net.core.rmem_max allows.
          if (!(error instanceof KernelError) || error.errno !== Errno.EPERM) throw error;
          setsockoptInt(fd, SOL_SOCKET, SO_RCVBUF, options.receiveBufferBytes, what);
        }
      }
      bind(fd, address, () => `binding a UDP socket to ${label}`);
    } catch (error) {
      close(fd);
      throw error;
    }
    return new UdpSocket(fd, label);
  }

  /** The port bound (the one the kernel chose, when 0 was asked). */
  get port(): number {
    return getsockname(this.#fd, () => `reading the address of the UDP socket on ${this.#label}`).readUInt16BE(2);
  }

  /** The receive buffer the kernel gave, in bytes (it counts its own overhead in: twice what was asked). */
  get receiveBufferBytes(): number {
    return getsockoptInt(this.#fd, SOL_SOCKET, SO_RCVBUF, () => `reading the receive buffer of the UDP socket on ${this.#label}`);
  }

  /**
   * Hands datagrams over as they arrive, in order, many per call. An error of the socket goes to `onError` (also
   * that of a datagram that waited to be sent and was then refused); the socket stays open. A datagram longer than 64 KiB cannot be: UDP carries at most 65507 bytes.
   */
  listen(onDatagrams: (datagrams: Datagram[]) => void, onError: (error: Error) => void): void {
    if (this.#closed || this.#readable !== undefined) return;
    this.#onError = onError;
    const what = (): string => `receiving on the UDP socket on ${this.#label}`;
    this.#readable = watchReadable(this.#fd, () => {
      let read = 0;
      try {
        while (read < MAX_PER_WAKE && !this.#closed) {
          const count = this.#batch.receive(this.#fd, MSG_DONTWAIT, what);
          if (count === 0) break;
          read += count;
          const datagrams: Datagram[] = [];
          for (let i = 0; i < count; i++) datagrams.push(this.#datagram(i));
          onDatagrams(datagrams);
          if (count < BATCH) break;
        }
      } catch (error) {
        onError(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  #datagram(i: number): Datagram {
    const name = this.#batch.name(i);
    const port = name.readUInt16BE(2);
    // The same host as last time (the port, bytes 2-3, aside): the text is known already.
    const last = this.#lastName;
    const known =
      name.length === last.length && name.compare(last, 0, 2, 0, 2) === 0 && name.compare(last, 4, last.length, 4, name.length) === 0;
    if (!known) {
      this.#lastName = Buffer.from(name);
      this.#lastAddress = name.readUInt16LE(0) === AF_INET ? name.subarray(4, 8).join('.') : formatIp6(name.subarray(8, 24));
    }
    return { data: this.#batch.frame(i), address: this.#lastAddress, port };
  }

  /**
   * Sends one datagram to `to` (made by socketAddress). When the socket's buffer is full the datagram waits, in
   * order, until there is room; throws what the kernel says, or when MAX_QUEUED datagrams are waiting already.
   */
  send(data: Uint8Array, to: Buffer): void {
    if (this.#closed) return;
    if (this.#queue.length === 0 && sendTo(this.#fd, data, to, () => `sending a datagram from ${this.#label}`) !== undefined) return;
    if (this.#queue.length >= MAX_QUEUED)
      throw new KernelError(
        `sending a datagram from ${this.#label}`,
        Errno.ENOBUFS,
        `the socket's buffer and ${MAX_QUEUED} datagrams waiting are full`,
      );
    this.#queue.push({ data: Uint8Array.from(data), to });
    this.#writable ??= watchWritable(this.#fd, () => {
      this.#flushQueue();
    });
  }

  #flushQueue(): void {
    while (this.#queue.length > 0 && !this.#closed) {
      const next = this.#queue[0];
      if (next === undefined) break;
      let sent: number | undefined;
      try {
        sent = sendTo(this.#fd, next.data, next.to, () => `sending a datagram from ${this.#label}`);
      } catch (error) {
        // Refused for good (no route, too big): this one goes, the next ones are tried.
        this.#onError?.(error instanceof Error ? error : new Error(String(error)));
        sent = 0;
      }
      if (sent === undefined) return;
      this.#queue.shift();
    }
    this.#writable?.close();
    this.#writable = undefined;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#readable?.close();
    this.#writable?.close();
    this.#queue.length = 0;
    close(this.#fd);
    this.#batch.free();
  }
}
