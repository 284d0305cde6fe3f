// Uplinks, as data: an existing CAN interface of the daemon's namespace (a physical can0, a USB adapter, a user's
// vcan0) joined to a bus. cantainer never creates, moves or deletes that interface: a vxcan pair carries frames
// between the bus's namespace and the daemon's, and two can-gw rules there (interface to pair end, pair end to
// interface, with the uplink's filters) join the interface to it. If the interface goes away, the kernel drops the
// two rules and the bus carries on; when it comes back, the rules are made again.
import { shortHash } from './hash.js';
import { InvalidValueError } from '../errors.js';
import { formatIdFilter, parseIdFilter, type IdSelection } from '../can/idset.js';
import { checkInterfaceName } from '../netlink/link.js';

export const UPLINK_DIRECTIONS = ['both', 'in', 'out'] as const;
/** `in`: frames from the interface onto the bus; `out`: frames of the bus out through the interface. */
export type UplinkDirection = (typeof UPLINK_DIRECTIONS)[number];

export interface Uplink {
  /** The interface's name in the daemon's namespace. */
  readonly interface: string;
  readonly direction: UplinkDirection;
  /** Ids that cross (either way), `ID/MASK` as candump writes them; all when empty. */
  readonly accept: readonly string[];
  readonly reject: readonly string[];
}

/** How an uplink's settings are named in messages: by the key, after what the settings belong to. */
export type UplinkKeyName = (key: 'interface' | 'direction' | 'accept' | 'reject') => string;

export function checkUplink(uplink: Uplink, name: UplinkKeyName = (key) => `uplink ${key}`): void {
  checkInterfaceName(name('interface'), uplink.interface);
  if (!(UPLINK_DIRECTIONS as readonly string[]).includes(uplink.direction))
    throw new InvalidValueError(name('direction'), uplink.direction, UPLINK_DIRECTIONS.join(', '));
  for (const text of uplink.accept) parseIdFilter(name('accept'), text);
  for (const text of uplink.reject) parseIdFilter(name('reject'), text);
}

export function normaliseUplink(uplink: Uplink): Uplink {
  const norm = (list: readonly string[], field: string): string[] => list.map((text) => formatIdFilter(parseIdFilter(field, text)));
  return { ...uplink, accept: norm(uplink.accept, 'accept'), reject: norm(uplink.reject, 'reject') };
}

export function uplinkSelection(uplink: Uplink): IdSelection {
  return {
    accept: uplink.accept.map((text) => parseIdFilter('accept', text)),
    reject: uplink.reject.map((text) => parseIdFilter('reject', text)),
  };
}

function hash(busId: string, name: string): string {
  return shortHash(`${busId}\0${name}`);
}

/** The pair's end in the bus namespace. */
export function uplinkEndName(busId: string, iface: string): string {
  return `u${hash(busId, iface)}`;
}

/** The pair's end in the daemon's namespace, beside the interface (14 characters). */
export function uplinkHostEndName(busId: string, iface: string): string {
  return `cu${hash(busId, iface)}`;
}

/** What the plan needs to know of the interface, as the kernel reports it. */
export interface UplinkPort {
  readonly uplink: Uplink;
  /** Whether the interface exists (and is CAN): without it there are no rules in the daemon's namespace. */
  readonly present: boolean;
  /** The interface carries FD frames (MTU 72) and the bus is FD: FD rules too. */
  readonly fd: boolean;
}

export const UPLINK_WORDS_SYNTAX = 'IFACE [--direction both|in|out] [--accept ID/MASK]... [--reject ID/MASK]...';

/** An uplink written as words, as `cantainer uplink add` takes them after the bus: `can0 --direction in --accept 123`. */
export function uplinkFromWords(field: string, text: string): Uplink {
  const [iface, ...rest] = text
    .trim()
    .split(/\s+/u)
    .filter((word) => word !== '');
  if (iface === undefined || iface.startsWith('-')) throw new InvalidValueError(field, text, UPLINK_WORDS_SYNTAX);
  let direction = 'both';
  const accept: string[] = [];
  const reject: string[] = [];
  for (let i = 0; i < rest.length; i += 2) {
    const [flag, value] = [rest[i], rest[i + 1]];
    if (value === undefined || value.startsWith('--'))
      throw new InvalidValueError(field, text, `${UPLINK_WORDS_SYNTAX} (at ${JSON.stringify(flag)})`);
    if (flag === '--direction') direction = value;
    else if (flag === '--accept') accept.push(value);
    else if (flag === '--reject') reject.push(value);
    else throw new InvalidValueError(field, text, `${UPLINK_WORDS_SYNTAX} (at ${JSON.stringify(flag)})`);
  }
  const uplink = { interface: iface, direction: direction as UplinkDirection, accept, reject };
  try {
    // Each setting named by the flag that gave it.
    checkUplink(uplink, (key) => (key === 'interface' ? 'interface' : `--${key}`));
  } catch (error) {
    if (error instanceof InvalidValueError)
      throw new InvalidValueError(`${field}: ${error.field}`, error.value, error.message.replace(/^.*; allowed: /u, ''));
    throw error;
  }
  return normaliseUplink(uplink);
}
