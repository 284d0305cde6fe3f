import { CantainerError } from '../errors.js';
import { describeErrno } from '../netlink/errno.js';
import { formatAckError, type NetlinkAck } from '../netlink/message.js';

/**
 * A kernel operation failed. The message carries the operation with its arguments and the errno, e.g.
 * `creating vxcan pair cx1a2b/hx1a2b in netns bus-powertrain: EEXIST (File exists)`.
 */
export class KernelError extends CantainerError {
  readonly operation: string;
  readonly errno: number;
  readonly errnoName: string;

  constructor(operation: string, errno: number, detail: string, options: { hint?: string; cause?: unknown } = {}) {
    super(describeErrno(errno).name, `${operation}: ${detail}`, options);
    this.operation = operation;
    this.errno = errno;
    this.errnoName = describeErrno(errno).name;
  }

  static fromErrno(operation: string, errno: number, hint?: string): KernelError {
    const { name, message } = describeErrno(errno);
    return new KernelError(operation, errno, `${name} (${message})`, hint === undefined ? {} : { hint });
  }

  static fromAck(operation: string, ack: NetlinkAck, hint?: string): KernelError {
    return new KernelError(operation, ack.errno, formatAckError(ack), hint === undefined ? {} : { hint });
  }
}

/** Switching back to the original network namespace failed: the thread is in the wrong namespace, so stop. */
export class NamespaceRestoreError extends CantainerError {
  constructor(detail: string) {
    super('ENSRESTORE', `could not switch back to the original network namespace: ${detail}; the process ends`);
  }
}
