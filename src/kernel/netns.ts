// Network namespaces. Namespaces are per thread: the one place that switches the JavaScript thread into another
// namespace is `inNetns`, synchronously and always back, so that only sockets opened inside its callback belong
// to the target namespace (a socket keeps the namespace it was created in).
import { closeSync, constants, existsSync, fstatSync, mkdirSync, openSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidValueError, errorMessage } from '../errors.js';
import { Errno, errnoNumber } from '../netlink/errno.js';
import { KernelError, NamespaceRestoreError } from './errors.js';
import { describeOperation, type NamespacePort, type NetnsIdentity } from './port.js';
import { bindMount, CLONE_NEWNET, namespaceKind, setns, umountDetach, unshare } from './libc.js';

const THREAD_NETNS = '/proc/thread-self/ns/net';

/**
 * Runs `fn` with the calling thread switched into the namespace open at `netnsFd` (no switch when undefined).
 * `fn` must be synchronous: an await inside it would let unrelated code run in the wrong namespace.
 */
export function inNetns<T>(netnsFd: number | undefined, label: string, fn: () => T): T {
  if (netnsFd === undefined) return fn();
  return whileSwitched(() => {
    setns(netnsFd, CLONE_NEWNET, () => `entering netns ${label}`);
  }, fn);
}

/**
 * `enter` switches the thread's namespace (or throws without switching); `fn` then runs, and the thread always
 * returns to the namespace it started in. Failing to return is fatal: the thread would stay in the wrong place.
 */
function whileSwitched<T>(enter: () => void, fn: () => T): T {
  const original = openSync(THREAD_NETNS, 'r');
  try {
    return switchedAndBack(enter, fn, () => {
      setns(original, CLONE_NEWNET, () => 'returning to the original netns');
    });
  } finally {
    closeSync(original);
  }
}

/**
 * What to do when the thread cannot return to its namespace: end the process. Everything it would do next (answer
 * requests, open sockets, make links) would happen in a bus's namespace instead of its own; a service manager
 * (systemd, Docker for a managed plugin) starts it again, and the state brings every bus back.
 */
export function endProcess(error: NamespaceRestoreError): never {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: error.message, code: error.code })}\n`);
  process.exit(70); // EX_SOFTWARE
}

/**
 * The steps of a switch: `enter`, run `fn`, then `back`, also when `fn` throws. When `back` fails, `fatal` is called
 * and nothing of `fn` is returned or thrown: the caller must never go on in the wrong namespace.
 */
export function switchedAndBack<T>(
  enter: () => void,
  fn: () => T,
  back: () => void,
  fatal: (error: NamespaceRestoreError) => never = endProcess,
): T {
  enter();
  let outcome: { ok: true; value: T } | { ok: false; error: unknown };
  try {
    outcome = { ok: true, value: fn() };
  } catch (error) {
    outcome = { ok: false, error };
  }
  try {
    back();
  } catch (error) {
    return fatal(new NamespaceRestoreError(errorMessage(error)));
  }
  if (!outcome.ok) throw outcome.error;
  return outcome.value;
}

/** Non-blocking: a FIFO put where a namespace file should be must never hang the daemon (node adds O_CLOEXEC). */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

/** Opens a namespace file (ours, Docker's sandbox key, /proc/PID/ns/net); the caller closes the fd. */
export function openNetnsFile(path: string): number {
  let fd: number;
  try {
    fd = openSync(path, OPEN_FLAGS);
  } catch (error) {
    throw KernelError.fromErrno(`opening netns ${path}`, errnoNumber((error as NodeJS.ErrnoException).code ?? '') ?? Errno.EIO);
  }
  if (fstatSync(fd).dev !== nsfsDevice()) {
    closeSync(fd);
    throw new KernelError(`opening netns ${path}`, Errno.EINVAL, 'not a namespace file');
  }
  return fd;
}

/** What the file at `path` is: a network namespace (with its identity), gone, or something else. */
export function identifyNetns(path: string): NetnsIdentity {
  let stat;
  try {
    stat = statSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? { kind: 'gone' } : { kind: 'other', what: `not readable (${code ?? 'error'})` };
  }
  if (stat.isFIFO()) return { kind: 'other', what: 'a FIFO' };
  if (stat.isSocket()) return { kind: 'other', what: 'a socket' };
  if (stat.isDirectory()) return { kind: 'other', what: 'a directory' };
  if (!stat.isFile()) return { kind: 'other', what: 'a device' };
  if (stat.dev !== nsfsDevice()) return { kind: 'other', what: 'a plain file, not a namespace' };
  // An nsfs file of some namespace: the kernel says which kind.
  const fd = openSync(path, OPEN_FLAGS);
  try {
    const kind = namespaceKind(fd, () => `asking what kind of namespace ${path} is`);
    if (kind !== 'net') return { kind: 'other', what: `a ${kind} namespace, not a network namespace` };
    const own = fstatSync(fd);
    return { kind: 'netns', id: `${own.dev}:${own.ino}` };
  } finally {
    closeSync(fd);
  }
}

/** Runs `fn` with the namespace file at `path` open (with undefined when there is no path), then closes it. */
export function withNetnsFile<T>(path: string | undefined, fn: (fd: number | undefined) => T): T {
  if (path === undefined) return fn(undefined);
  const fd = openNetnsFile(path);
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

/** The device of nsfs, the pseudo file system every namespace file lives on (a bind mount of one shows it too). */
let nsfsDeviceSeen: number | undefined;

function nsfsDevice(): number {
  nsfsDeviceSeen ??= statSync(THREAD_NETNS).dev;
  return nsfsDeviceSeen;
}

/** Whether `path` is a namespace file (nsfs): a bind-mounted namespace, or /proc/PID/ns/*; false if it is gone. */
export function isNamespaceFile(path: string): boolean {
  try {
    const stat = statSync(path);
    return stat.isFile() && stat.dev === nsfsDevice();
  } catch {
    return false;
  }
}

/** Removes a file in the namespace directory that is no namespace (after detaching whatever may be mounted on it). */
function removeStray(path: string): void {
  umountDetach(path);
  unlinkSync(path);
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/u;

export function checkNetnsName(name: string): void {
  if (!NAME_PATTERN.test(name))
    throw new InvalidValueError('netns', name, 'a name of 1..64 letters, digits, "_", "." or "-", starting with a letter or digit');
}

/**
 * Namespaces owned by cantainer, each persisted as a bind mount of its nsfs inode on a file in `dir`
 * (default /run/cantainer/netns), the way `ip netns` keeps them under /run/netns.
 */
export class NetnsStore implements NamespacePort {
  readonly dir: string;

  constructor(dir = '/run/cantainer/netns') {
    this.dir = dir;
  }

  path(name: string): string {
    checkNetnsName(name);
    return join(this.dir, name);
  }

  /** A namespace of that name is there: its file is a bind mount of a namespace (a stray file does not count). */
  exists(name: string): boolean {
    return isNamespaceFile(this.path(name));
  }

  /** Opens a namespace of the store for setns or IFLA_NET_NS_FD; the caller closes the fd. */
  open(name: string): number {
    return openNetnsFile(this.path(name));
  }

  list(): string[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((name) => NAME_PATTERN.test(name))
      .sort();
  }

  /** Creates a namespace; EEXIST if one of that name exists. Nothing is left behind when it fails. */
  create(name: string): string {
    const path = this.path(name);
    const operation = describeOperation.createNetns(name);
    mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    // A file of that name that is no namespace (a leftover of a crash between creating the file and mounting on
    // it, or put there by hand) would stop every start of the daemon: it is taken away, not trusted.
    if (existsSync(path) && !isNamespaceFile(path)) removeStray(path);
    try {
      closeSync(openSync(path, 'wx', 0o444));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw KernelError.fromErrno(operation, Errno.EEXIST);
      throw error;
    }
    try {
      // A fresh namespace for this thread, pinned by bind-mounting the thread's nsfs file onto `path`.
      whileSwitched(
        () => {
          unshare(CLONE_NEWNET, () => operation);
        },
        () => {
          bindMount(THREAD_NETNS, path, () => `${operation}: bind-mounting it on ${path}`);
        },
      );
    } catch (error) {
      umountDetach(path);
      unlinkSync(path);
      throw error;
    }
    return path;
  }

  /**
   * Deletes a namespace: detaches the bind mount and removes the file. The kernel destroys the namespace, and the
   * virtual links and can-gw rules in it, once nothing else holds it. Returns false if it did not exist.
   */
  delete(name: string): boolean {
    const path = this.path(name);
    if (!existsSync(path)) return false;
    if (!isNamespaceFile(path)) {
      removeStray(path);
      return false;
    }
    umountDetach(path);
    unlinkSync(path);
    return true;
  }
}
