/**
 * One error base for the whole project: a stable `code` for programs, a message for people, an optional `hint`
 * saying what to do, and the underlying `cause`. Front doors map these to Docker's `Err` or CNI error codes.
 */
export class CantainerError extends Error {
  readonly code: string;
  readonly hint: string | undefined;

  constructor(code: string, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
  }
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

/** Bytes that should hold a protocol message do not. Names what was being decoded and where it broke. */
export class MalformedMessageError extends CantainerError {
  constructor(what: string, detail: string) {
    super('EMALFORMED', `malformed ${what}: ${detail}`);
  }
}

export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value === undefined) return 'undefined';
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  try {
    return JSON.stringify(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
