// A NETLINK_ROUTE socket bound to the network namespace it was opened in. rtnetlink answers synchronously while
// the request is sent (module loading included), so requests are plain calls; a receive timeout turns a reply that
// never comes into an error instead of a hang.
import { NETLINK_EXT_ACK, NETLINK_ROUTE, NlmF, SOL_NETLINK } from '../netlink/constants.js';
import { encodeRequest, type NetlinkRequest } from '../netlink/message.js';
import { ReplyCollector, type Reply } from '../netlink/reply.js';
import { Errno } from '../netlink/errno.js';
import { KernelError } from './errors.js';
import { AF_NETLINK, bind, close, recv, send, setReceiveTimeout, setsockoptInt, SOCK_CLOEXEC, SOCK_RAW, socket } from './libc.js';
import { inNetns } from './netns.js';

const RECEIVE_BUFFER = 64 * 1024;
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
      // Extended acks carry the kernel's reason ("Unknown device type") with the errno.
      setsockoptInt(fd, SOL_NETLINK, NETLINK_EXT_ACK, 1, what);
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
