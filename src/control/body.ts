// Reading the fields of a control request body: each bad field is named with its value and what is allowed.
import { InvalidValueError } from '../errors.js';

type Body = Readonly<Record<string, unknown>>;

const ALLOWED: Readonly<Record<string, string>> = {
  bus: 'the name of a bus',
  source: 'the name of a bus',
  destination: 'the name of a bus',
  interface: 'the name of an interface',
  name: 'the name of a tunnel',
  member: 'the id of a member',
  netns: 'the path of a network namespace file',
};

/** A required, non-empty string. */
export function text(body: Body, key: string): string {
  const value = body[key];
  if (typeof value !== 'string' || value.length === 0) throw new InvalidValueError(key, value, ALLOWED[key] ?? 'a string');
  return value;
}

/** An optional list of strings. */
export function strings(body: Body, key: string): string[] | undefined {
  const value = body[key];
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((item): item is string => typeof item === 'string'))
    throw new InvalidValueError(key, value, 'a list of strings');
  return value;
}

/** An optional string. */
export function optionalText(body: Body, key: string): string | undefined {
  const value = body[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new InvalidValueError(key, value, 'a string');
  return value;
}

/** An optional true or false. */
export function optionalBoolean(body: Body, key: string): boolean | undefined {
  const value = body[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw new InvalidValueError(key, value, 'true or false');
  return value;
}

/** An optional integer. */
export function optionalInteger(body: Body, key: string): number | undefined {
  const value = body[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new InvalidValueError(key, value, 'an integer');
  return value;
}

/** An optional number. */
export function optionalNumber(body: Body, key: string): number | undefined {
  const value = body[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new InvalidValueError(key, value, 'a number');
  return value;
}

/** An optional object of strings (annotations, labels). */
export function annotationsOf(body: Body, key: string): Record<string, string> | undefined {
  const value = body[key];
  if (value === undefined) return undefined;
  if (
    typeof value !== 'object' ||
    value === null ||
    Array.isArray(value) ||
    !Object.values(value).every((item) => typeof item === 'string')
  ) {
    throw new InvalidValueError(key, value, 'an object of strings');
  }
  return { ...(value as Record<string, string>) };
}
