// The only bindings to the C library: the syscalls cantainer needs, each checked so that a failure becomes a
// KernelError naming the operation. Everything that touches the kernel goes through here.
import koffi from 'koffi';
import { Errno } from '../netlink/errno.js';
import { KernelError } from './errors.js';
import { retryInterrupted } from './retry.js';

/**
 * The C library's functions, bound on first use: commands that never touch the kernel (the CLI talking to the
 * daemon, the CNI and netavark plugins) never load the FFI module at all, which is most of a short process's start.
 */
function bindLibc() {
  const libc = koffi.load('libc.so.6');
  return {
    socket: libc.func('int socket(int domain, int type, int protocol)'),
    bind: libc.func('int bind(int fd, const void *addr, uint32_t len)'),
    send: libc.func('intptr_t send(int fd, const void *buf, size_t len, int flags)'),
    recv: libc.func('intptr_t recv(int fd, void *buf, size_t len, int flags)'),
    setsockopt: libc.func('int setsockopt(int fd, int level, int name, const void *value, uint32_t len)'),
    close: libc.func('int close(int fd)'),
    setns: libc.func('int setns(int fd, int nstype)'),
    unshare: libc.func('int unshare(int flags)'),
    mount: libc.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const void *data)'),
    umount2: libc.func('int umount2(const char *target, int flags)'),
    ifNameToIndex: libc.func('unsigned int if_nametoindex(const char *name)'),
    ioctl: libc.func('int ioctl(int fd, unsigned long request, ...)'),
    recvmmsg: libc.func('int recvmmsg(int fd, void *msgvec, unsigned int vlen, int flags, void *timeout)'),
    sendmmsg: libc.func('int sendmmsg(int fd, void *msgvec, unsigned int vlen, int flags)'),
    sendto: libc.func('intptr_t sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t addrlen)'),
    getsockopt: libc.func('int getsockopt(int fd, int level, int name, void *value, void *len)'),
    getsockname: libc.func('int getsockname(int fd, void *addr, void *len)'),
    inetPton: libc.func('int inet_pton(int af, const char *src, void *dst)'),
    inetNtop: libc.func('const char *inet_ntop(int af, const void *src, char *dst, uint32_t size)'),
  };
}
let bound: ReturnType<typeof bindLibc> | undefined;
const raw = (): ReturnType<typeof bindLibc> => (bound ??= bindLibc());

export const AF_NETLINK = 16;
export const AF_CAN = 29;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SO_RCVTIMEO = 20;
export const SO_RCVBUF = 8;
/** SO_RCVBUF without the net.core.rmem_max cap (CAP_NET_ADMIN). */
export const SO_RCVBUFFORCE = 33;
/** Stamp each received packet with the kernel's receive time, handed over as a control message (SCM_TIMESTAMP). */
export const SO_TIMESTAMP = 29;
export const MSG_DONTWAIT = 0x40;
export const CLONE_NEWNET = 0x40000000;
export const MS_BIND = 0x1000;
export const MNT_DETACH = 2;
/** ioctl on a namespace fd: which kind of namespace it is (linux/nsfs.h, _IO(0xb7, 3)). */
const NS_GET_NSTYPE = 0xb703;

/** The kinds of namespace by their CLONE_NEW* flag, as NS_GET_NSTYPE answers. */
const NAMESPACE_KINDS: Readonly<Record<number, string>> = {
  [CLONE_NEWNET]: 'net',
  0x00020000: 'mnt',
  0x04000000: 'uts',
  0x08000000: 'ipc',
  0x10000000: 'user',
  0x20000000: 'pid',
  0x02000000: 'cgroup',
  0x00000080: 'time',
};

/** The kind of namespace open at `fd` ('net', 'mnt', …). */
export function namespaceKind(fd: number, what: () => string): string {
  const type = check(what, raw().ioctl(fd, NS_GET_NSTYPE) as number);
  return NAMESPACE_KINDS[type] ?? `unknown (${type})`;
}

function check(operation: () => string, result: number): number {
  if (result < 0) throw KernelError.fromErrno(operation(), koffi.errno());
  return result;
}

export function socket(domain: number, type: number, protocol: number, what: () => string): number {
  return check(what, raw().socket(domain, type, protocol) as number);
}

export function bind(fd: number, address: Buffer, what: () => string): void {
  check(what, raw().bind(fd, address, address.length) as number);
}

export function send(fd: number, data: Buffer, what: () => string): number {
  return check(what, raw().send(fd, data, data.length, 0) as number);
}

/** Receives into `buffer`; returns the byte count, or undefined when nothing is waiting (EAGAIN). EINTR is retried. */
export function recv(fd: number, buffer: Buffer, flags: number, what: () => string): number | undefined {
  const outcome = retryInterrupted(
    () => raw().recv(fd, buffer, buffer.length, flags) as number,
    () => koffi.errno(),
  );
  if (outcome.ok) return outcome.value;
  if (outcome.errno === Errno.EAGAIN) return undefined;
  throw KernelError.fromErrno(what(), outcome.errno);
}

/**
 * recvmmsg(2) into message headers at `messages` (native memory: see message-batch.ts); returns how many were
 * received, or undefined when nothing is waiting (EAGAIN). EINTR is retried.
 */
export function recvmmsg(fd: number, messages: bigint, count: number, flags: number, what: () => string): number | undefined {
  const outcome = retryInterrupted(
    () => raw().recvmmsg(fd, messages, count, flags, null) as number,
    () => koffi.errno(),
  );
  if (outcome.ok) return outcome.value;
  if (outcome.errno === Errno.EAGAIN) return undefined;
  throw KernelError.fromErrno(what(), outcome.errno);
}

/** sendmmsg(2) of the message headers at `messages`; returns how many were sent. EINTR is retried. */
export function sendmmsg(fd: number, messages: bigint, count: number, what: () => string): number {
  const outcome = retryInterrupted(
    () => raw().sendmmsg(fd, messages, count, 0) as number,
    () => koffi.errno(),
  );
  if (outcome.ok) return outcome.value;
  throw KernelError.fromErrno(what(), outcome.errno);
}

/**
 * sendto(2) without blocking; returns the byte count, or undefined when the socket's buffer is full (EAGAIN).
 * EINTR is retried.
 */
export function sendTo(fd: number, data: Uint8Array, address: Buffer, what: () => string): number | undefined {
  const outcome = retryInterrupted(
    () => raw().sendto(fd, data, data.length, MSG_DONTWAIT, address, address.length) as number,
    () => koffi.errno(),
  );
  if (outcome.ok) return outcome.value;
  if (outcome.errno === Errno.EAGAIN) return undefined;
  throw KernelError.fromErrno(what(), outcome.errno);
}

export function getsockoptInt(fd: number, level: number, name: number, what: () => string): number {
  const value = Buffer.alloc(4);
  const length = Buffer.alloc(4);
  length.writeUInt32LE(4, 0);
  check(what, raw().getsockopt(fd, level, name, value, length) as number);
  return value.readInt32LE(0);
}

/** The address a socket is bound to, as the kernel fills a struct sockaddr. */
export function getsockname(fd: number, what: () => string): Buffer {
  const address = Buffer.alloc(128);
  const length = Buffer.alloc(4);
  length.writeUInt32LE(address.length, 0);
  check(what, raw().getsockname(fd, address, length) as number);
  return address.subarray(0, length.readUInt32LE(0));
}

/** An IP address in text to its bytes (4 for AF_INET, 16 for AF_INET6); undefined when it is not one. */
export function parseIp(family: typeof AF_INET | typeof AF_INET6, text: string): Buffer | undefined {
  const bytes = Buffer.alloc(family === AF_INET ? 4 : 16);
  return (raw().inetPton(family, text, bytes) as number) === 1 ? bytes : undefined;
}

/** An IPv6 address's 16 bytes in the C library's text form (RFC 5952; IPv4-mapped as ::ffff:a.b.c.d). */
export function formatIp6(bytes: Uint8Array): string {
  const text = Buffer.alloc(64);
  return (raw().inetNtop(AF_INET6, bytes, text, text.length) as string | null) ?? '::';
}

/** Memory outside the JavaScript heap, for structures the kernel reads pointers from: its address and a view of it. */
export interface NativeBlock {
  readonly address: bigint;
  readonly memory: ArrayBuffer;
}

export function allocNative(bytes: number): NativeBlock {
  const pointer = koffi.alloc('uint8_t', bytes) as bigint;
  const memory = koffi.view(pointer, bytes);
  new Uint8Array(memory).fill(0);
  return { address: pointer, memory };
}

export function freeNative(block: NativeBlock): void {
  koffi.free(block.address);
}

export function setsockopt(fd: number, level: number, name: number, value: Buffer, what: () => string): void {
  check(what, raw().setsockopt(fd, level, name, value, value.length) as number);
}

export function setsockoptInt(fd: number, level: number, name: number, value: number, what: () => string): void {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32LE(value, 0);
  setsockopt(fd, level, name, buffer, what);
}

/** Sets a receive timeout so that a reply that never comes ends in EAGAIN instead of a hang. */
export function setReceiveTimeout(fd: number, ms: number, what: () => string): void {
  const timeval = Buffer.alloc(16);
  timeval.writeBigInt64LE(BigInt(Math.floor(ms / 1000)), 0);
  timeval.writeBigInt64LE(BigInt((ms % 1000) * 1000), 8);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, timeval, what);
}

export function close(fd: number): void {
  raw().close(fd);
}

export function setns(fd: number, nstype: number, what: () => string): void {
  check(what, raw().setns(fd, nstype) as number);
}

export function unshare(flags: number, what: () => string): void {
  check(what, raw().unshare(flags) as number);
}

export function bindMount(source: string, target: string, what: () => string): void {
  check(what, raw().mount(source, target, 'none', MS_BIND, null) as number);
}

/** Detaches a mount; returns the errno instead of throwing, since callers tolerate "not mounted". */
export function umountDetach(target: string): number {
  return (raw().umount2(target, MNT_DETACH) as number) < 0 ? koffi.errno() : 0;
}

/** The index of an interface in the calling thread's current network namespace; 0 if there is none. */
export function ifNameToIndex(name: string): number {
  return raw().ifNameToIndex(name) as number;
}

/** Calls `onReadable` whenever `fd` has data, on the event loop, without blocking a thread. */
export function watchReadable(fd: number, onReadable: () => void): { close(): void; unref(): void; ref(): void } {
  return watch(fd, { readable: true }, onReadable);
}

/** Calls `onWritable` whenever `fd` has room to send, on the event loop: for a socket whose buffer was full. */
export function watchWritable(fd: number, onWritable: () => void): { close(): void; unref(): void; ref(): void } {
  return watch(fd, { writable: true }, onWritable);
}

function watch(
  fd: number,
  events: { readable?: boolean; writable?: boolean },
  onEvent: () => void,
): { close(): void; unref(): void; ref(): void } {
  const handle = koffi.node.poll(fd, events, () => {
    onEvent();
  });
  return {
    close: () => {
      handle.close();
    },
    unref: () => {
      handle.unref();
    },
    ref: () => {
      handle.ref();
    },
  };
}
