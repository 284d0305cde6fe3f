import { errnoNumber, type ErrnoName } from './netlink/errno.js';

/**
 * Every code a cantainer error can carry, with what it means. Programs (the CLI, the CNI plugin, scripts reading
 * the control API's `Code`) tell failures apart by these; a code not listed here does not compile.
 */
export const ERROR_CODES = {
  EINVALIDVALUE: 'a value is outside what is allowed',
  EMALFORMED: 'bytes that should hold a protocol message do not',
  ECONFLICT: 'the request contradicts what exists',
  ENOBUS: 'no such bus',
  ENOGATEWAY: 'no such gateway',
  ENOUPLINK: 'no such uplink',
  ENOTUNNEL: 'no such tunnel',
  ENOTUNNELS: 'this daemon runs no tunnels',
  ENOMEMBER: 'no such member',
  ENONETNS: 'a namespace path names no network namespace',
  ETUNNEL: 'a tunnel cannot start',
  ESTATE: 'the state file cannot be read',
  ESTATEFORMAT: 'the state file is not in the expected format',
  ESTATEWRITE: 'the state could not be saved',
  ERECONCILE: 'wiring a bus in the kernel failed',
  ENSRESTORE: 'switching back to the daemon namespace failed',
  EMODULE: 'a kernel module is missing',
  ESOCKET: 'a socket path is taken',
  ENODAEMON: 'the daemon cannot be reached',
  EDAEMON: 'the daemon answered something unexpected',
  ETIMEDOUT: 'the daemon did not answer in time',
} as const;

/** A code of cantainer's own, or the name of the errno a kernel operation failed with (KernelError). */
export type ErrorCode = keyof typeof ERROR_CODES | ErrnoName;

/** Whether a string from elsewhere (a daemon's answer) is a code this version knows. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (Object.hasOwn(ERROR_CODES, value) || errnoNumber(value) !== undefined || /^E\d+$/u.test(value));
}

/**
 * One error base for the whole project: a stable `code` for programs, a message for people, an optional `hint`
 * saying what to do, and the underlying `cause`. Front doors map these to Docker's `Err` or CNI error codes.
 */
export class CantainerError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
  }
}

/** The message of anything thrown: an Error's own message, anything else as text. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A value given to the project is outside what is allowed. Names the field, the value and what is allowed. */
export class InvalidValueError extends CantainerError {
  readonly field: string;
  readonly value: unknown;

  constructor(field: string, value: unknown, allowed: string) {
    super('EINVALIDVALUE', `${field}: ${describeValue(value)} is not valid; allowed: ${allowed}`);
    this.field = field;
    this.value = value;
  }
}

/** A value that must be given was not. Names it and says when it is needed: `--peer is required with --udp: …`. */
export class RequiredValueError extends InvalidValueError {
  constructor(field: string, when: string) {
    super(field, undefined, when);
    this.message = `${field} is required ${when}`;
  }
}

/** A member's namespace path names no network namespace: nothing, or something else (a FIFO, a plain file). */
export class NotANetworkNamespaceError extends CantainerError {
  constructor(path: string, what: string | undefined) {
    super('ENONETNS', `netns ${path} ${what === undefined ? 'does not exist' : `is ${what}`}`, {
      hint: 'give the path of a network namespace file (/run/netns/NAME, /proc/PID/ns/net)',
    });
  }
}

/** Bytes that should hold a protocol message do not. Names what was being decoded and where it broke. */
export class MalformedMessageError extends CantainerError {
  constructor(what: string, detail: string) {
    super('EMALFORMED', `malformed ${what}: ${detail}`);
  }
}

/** The request contradicts what exists (a name taken, a gateway in the way, a cycle). */
export class BusConflictError extends CantainerError {
  constructor(message: string, hint?: string) {
    super('ECONFLICT', message, hint === undefined ? {} : { hint });
  }
}

export class UnknownBusError extends CantainerError {
  constructor(key: string, by: 'id' | 'name' = 'id') {
    super('ENOBUS', `no bus with ${by} ${key}`, {
      hint:
        by === 'id' ? 'it was removed, or created before the state was lost; create it again' : 'buses are named by their network names',
    });
  }
}

/** A gateway naming buses that do not exist, without being told to wait for them. */
export class GatewayBusMissingError extends CantainerError {
  constructor(missing: readonly string[], existing: readonly string[]) {
    const buses = existing.length === 0 ? 'there are no buses' : `the buses are ${existing.join(', ')}`;
    super('ENOBUS', `no bus named ${missing.join(' or ')}: ${buses}`, {
      hint: 'buses are named by their network names; gateway add --wait adds the gateway now and wires it when the bus is created',
    });
  }
}

export class UnknownGatewayError extends CantainerError {
  constructor(source: string, destination: string) {
    super('ENOGATEWAY', `no gateway from ${source} to ${destination}`, { hint: 'cantainer gateway ls lists the gateways' });
  }
}

export class UnknownUplinkError extends CantainerError {
  constructor(bus: string, iface: string) {
    super('ENOUPLINK', `bus ${bus} has no uplink ${iface}`, { hint: 'cantainer uplink ls lists the uplinks' });
  }
}

export class UnknownTunnelError extends CantainerError {
  constructor(bus: string, name: string) {
    super('ENOTUNNEL', `bus ${bus} has no tunnel ${name}`, { hint: 'cantainer tunnel ls lists the tunnels' });
  }
}

/** The state file could not be written; the kernel and the state were put back as they were. */
export class StateWriteError extends CantainerError {
  constructor(path: string, cause: unknown) {
    super('ESTATEWRITE', `saving the state to ${path}: ${errorMessage(cause)}`, {
      cause,
      hint: 'check that the state directory is writable and not full',
    });
  }
}

/** Characters of a value a message shows at most. */
const MAX_DESCRIBED = 160;

export function describeValue(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value === undefined) return 'undefined';
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
  // A message names the value, it does not repeat a megabyte of it.
  return text.length <= MAX_DESCRIBED ? text : `${text.slice(0, MAX_DESCRIBED)}… (${text.length} characters)`;
}
