// A NETLINK_ROUTE socket bound to the network namespace it was opened in. rtnetlink answers synchronously while
// the request is sent (module loading included), so requests are plain calls; a receive timeout turns a reply that
// never comes into an error instead of a hang.
import { NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_ROUTE, NlmF, NlMsgType, SOL_NETLINK } from '../netlink/constants.js';
import { decodeAck, decodeMessages, encodeRequest, type NetlinkRequest } from '../netlink/message.js';
import { ReplyCollector, type Reply } from '../netlink/reply.js';
import { Errno } from '../netlink/errno.js';
import { KernelError } from './errors.js';
import {
  AF_NETLINK,
  bind,
  close,
  recv,
  send,
  setReceiveTimeout,
  setsockoptInt,
  SO_RCVBUFFORCE,
  SOCK_CLOEXEC,
  SOCK_RAW,
  socket,
  SOL_SOCKET,
} from './libc.js';
import { inNetns } from './netns.js';

const RECEIVE_BUFFER = 64 * 1024;
/**
 * What the kernel may queue for the socket: the acknowledgements of a whole batch (every failed request gets one)
 * must fit, or the kernel drops them and the socket reports ENOBUFS instead of the requests' own errors.
 */
const SOCKET_BUFFER = 4 * 1024 * 1024;
const REPLY_TIMEOUT_MS = 5_000;

export class NetlinkSocket {
  readonly #fd: number;
  readonly label: string;
  #seq = Math.floor(Math.random() * 0x7fffffff);
  #closed = false;
  readonly #buffer = Buffer.alloc(RECEIVE_BUFFER);

  private constructor(fd: number, label: string) {
    this.#fd = fd;
    this.label = label;
  }

  /** Opens a socket in the namespace open at `netnsFd` (the caller's own when undefined). */
  static open(netnsFd: number | undefined, label: string): NetlinkSocket {
    const what = (): string => `opening a netlink socket in netns ${label}`;
    const fd = inNetns(netnsFd, label, () => socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE, what));
    try {
      bind(fd, sockaddrNl(), what);
      setReceiveTimeout(fd, REPLY_TIMEOUT_MS, what);
      // Extended acks carry the kernel's reason ("Unknown device type") with the errno; capped acks leave out the
      // request they answer (a can-gw rule can be 700 bytes, echoed once per failure of a batch otherwise).
      setsockoptInt(fd, SOL_NETLINK, NETLINK_EXT_ACK, 1, what);
      setsockoptInt(fd, SOL_NETLINK, NETLINK_CAP_ACK, 1, what);
      setsockoptInt(fd, SOL_SOCKET, SO_RCVBUFFORCE, SOCKET_BUFFER, what);
    } catch (error) {
      close(fd);
      throw error;
    }
    return new NetlinkSocket(fd, label);
  }

  /** Sends a request and returns the complete reply; a kernel error becomes a KernelError naming `operation`. */
  request(request: NetlinkRequest, operation: string, hint?: string): Reply {
    if (this.#closed) throw new Error(`netlink socket for netns ${this.label} is closed`);
    const seq = (this.#seq = (this.#seq + 1) >>> 0);
    const dump = (request.flags & NlmF.DUMP) === NlmF.DUMP;
    send(this.#fd, encodeRequest(request, seq), () => operation);
    const collector = new ReplyCollector(seq, dump);
    while (!collector.complete) {
      const length = recv(this.#fd, this.#buffer, 0, () => operation);
      if (length === undefined) throw KernelError.fromErrno(`${operation} (no reply within ${REPLY_TIMEOUT_MS} ms)`, Errno.EAGAIN);
      // Copied: decoded messages are views into the datagram, and the receive buffer is reused.
      collector.accept(Buffer.from(this.#buffer.subarray(0, length)));
    }
    const reply = collector.result();
    if (reply.error) throw KernelError.fromAck(operation, reply.error, hint);
    return reply;
  }

  /**
   * Sends requests (not dumps) in one datagram: the kernel handles them in order and goes on past a failure. Only
   * the last asks for an acknowledgement; the kernel reports a failure whether asked or not, and always before the
   * acknowledgement of a later request. Returns each request's failure, or undefined when it succeeded.
   */
  requestBatch(
    requests: readonly NetlinkRequest[],
    operation: (index: number) => string,
    hint?: (index: number) => string | undefined,
  ): Array<KernelError | undefined> {
    if (this.#closed) throw new Error(`netlink socket for netns ${this.label} is closed`);
    const results: Array<KernelError | undefined> = requests.map(() => undefined);
    if (requests.length === 0) return results;
    const first = (this.#seq + 1) >>> 0;
    const last = requests.length - 1;
    this.#seq = (first + last) >>> 0;
    const datagram = Buffer.concat(
      requests.map((request, i) =>
        encodeRequest(
          i === last ? { ...request, flags: request.flags | NlmF.ACK } : { ...request, flags: request.flags & ~NlmF.ACK },
          (first + i) >>> 0,
        ),
      ),
    );
    send(this.#fd, datagram, () => `${operation(0)} and ${last} more in one batch`);
    for (let done = false; !done;) {
      const length = recv(this.#fd, this.#buffer, 0, () => operation(last));
      if (length === undefined) throw KernelError.fromErrno(`${operation(last)} (no reply within ${REPLY_TIMEOUT_MS} ms)`, Errno.EAGAIN);
      for (const message of decodeMessages(Buffer.from(this.#buffer.subarray(0, length)))) {
        const index = (message.seq - first) >>> 0;
        if (message.type !== NlMsgType.ERROR || index > last) continue; // stale: an earlier request's
        const ack = decodeAck(message);
        if (ack.errno !== 0) results[index] = KernelError.fromAck(operation(index), ack, hint?.(index));
        if (index === last) done = true;
      }
    }
    return results;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    close(this.#fd);
  }
}

function sockaddrNl(): Buffer {
  const address = Buffer.alloc(12);
  address.writeUInt16LE(AF_NETLINK, 0);
  return address;
}
