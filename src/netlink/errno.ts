// Linux errno numbers with their symbolic names and the C library's messages (asm-generic/errno-base.h,
// asm-generic/errno.h). The kernel answers netlink requests with these numbers whatever the host platform of the
// caller's runtime thinks they mean, so the table is Linux's own rather than os.constants.

const ERRNOS = [
  [1, 'EPERM', 'Operation not permitted'],
  [2, 'ENOENT', 'No such file or directory'],
  [3, 'ESRCH', 'No such process'],
  [4, 'EINTR', 'Interrupted system call'],
  [5, 'EIO', 'Input/output error'],
  [6, 'ENXIO', 'No such device or address'],
  [7, 'E2BIG', 'Argument list too long'],
  [9, 'EBADF', 'Bad file descriptor'],
  [11, 'EAGAIN', 'Resource temporarily unavailable'],
  [12, 'ENOMEM', 'Cannot allocate memory'],
  [13, 'EACCES', 'Permission denied'],
  [14, 'EFAULT', 'Bad address'],
  [16, 'EBUSY', 'Device or resource busy'],
  [17, 'EEXIST', 'File exists'],
  [18, 'EXDEV', 'Invalid cross-device link'],
  [19, 'ENODEV', 'No such device'],
  [20, 'ENOTDIR', 'Not a directory'],
  [21, 'EISDIR', 'Is a directory'],
  [22, 'EINVAL', 'Invalid argument'],
  [23, 'ENFILE', 'Too many open files in system'],
  [24, 'EMFILE', 'Too many open files'],
  [28, 'ENOSPC', 'No space left on device'],
  [30, 'EROFS', 'Read-only file system'],
  [34, 'ERANGE', 'Numerical result out of range'],
  [36, 'ENAMETOOLONG', 'File name too long'],
  [38, 'ENOSYS', 'Function not implemented'],
  [39, 'ENOTEMPTY', 'Directory not empty'],
  [40, 'ELOOP', 'Too many levels of symbolic links'],
  [61, 'ENODATA', 'No data available'],
  [71, 'EPROTO', 'Protocol error'],
  [74, 'EBADMSG', 'Bad message'],
  [75, 'EOVERFLOW', 'Value too large for defined data type'],
  [88, 'ENOTSOCK', 'Socket operation on non-socket'],
  [90, 'EMSGSIZE', 'Message too long'],
  [92, 'ENOPROTOOPT', 'Protocol not available'],
  [93, 'EPROTONOSUPPORT', 'Protocol not supported'],
  [95, 'EOPNOTSUPP', 'Operation not supported'],
  [96, 'EPFNOSUPPORT', 'Protocol family not supported'],
  [97, 'EAFNOSUPPORT', 'Address family not supported by protocol'],
  [98, 'EADDRINUSE', 'Address already in use'],
  [99, 'EADDRNOTAVAIL', 'Cannot assign requested address'],
  [100, 'ENETDOWN', 'Network is down'],
  [101, 'ENETUNREACH', 'Network is unreachable'],
  [105, 'ENOBUFS', 'No buffer space available'],
  [110, 'ETIMEDOUT', 'Connection timed out'],
  [111, 'ECONNREFUSED', 'Connection refused'],
  [114, 'EALREADY', 'Operation already in progress'],
  [115, 'EINPROGRESS', 'Operation now in progress'],
  [125, 'ECANCELED', 'Operation canceled'],
] as const satisfies ReadonlyArray<readonly [number, string, string]>;

/** The name of a Linux errno: one from the table, or `E<number>` for one it does not know. */
export type ErrnoName = (typeof ERRNOS)[number][1] | `E${number}`;

const BY_NUMBER = new Map<number, { name: ErrnoName; message: string }>(ERRNOS.map(([num, name, message]) => [num, { name, message }]));
const BY_NAME = new Map<string, number>(ERRNOS.map(([num, name]) => [name, num]));

/** The errnos the code tests for by name, from the table above. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EBADF: 9,
  EIO: 5,
  EAGAIN: 11,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENOBUFS: 105,
  ENETDOWN: 100,
} as const satisfies Record<string, number>;

export interface ErrnoDescription {
  readonly errno: number;
  readonly name: ErrnoName;
  readonly message: string;
}

/** Describes a positive Linux errno; unknown numbers get a stable `E<number>` name rather than a guess. */
export function describeErrno(errno: number): ErrnoDescription {
  const known = BY_NUMBER.get(errno);
  return known ? { errno, ...known } : { errno, name: `E${errno}`, message: `Unknown error ${errno}` };
}

export function errnoNumber(name: string): number | undefined {
  return BY_NAME.get(name);
}
