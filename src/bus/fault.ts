// Faults on demand, as data kept with their bus (so they outlast a daemon restart until they expire): frames lost or
// delayed, on the whole bus or on what one member sends, or a member cut off the bus (bus-off: it neither sends nor
// receives). A member cut off loses its rules (the kernel carries nothing to or from it); frames lost or delayed
// go through the bus's arbiter (timing/), which a bus with such a fault has even when it is untimed.
import { InvalidValueError } from '../errors.js';

export interface Fault {
  /** Unique within its bus: `f1`, `f2`, ... */
  readonly id: string;
  /** The member whose frames it hits (its id); the whole bus when absent. */
  readonly member?: string;
  /** Frames lost, in percent of those sent (0 < p <= 100). */
  readonly drop?: number;
  /** Frames delayed by this many milliseconds. */
  readonly delayMs?: number;
  /** With `delayMs`: each frame's delay varies by up to this much either way; a sender's frames stay in order. */
  readonly jitterMs?: number;
  /** The member is cut off: it neither sends nor receives. */
  readonly off?: true;
  /** When it ends (ISO 8601); until removed when absent. */
  readonly until?: string;
}

export const DELAY_MAX_MS = 60_000;

/** Checks a fault's form; `field` names its keys as the caller's users know them. */
export function checkFault(fault: Fault, field: (key: string) => string = (key) => `fault ${key}`): void {
  if (typeof fault.id !== 'string' || !/^f\d{1,9}$/u.test(fault.id))
    throw new InvalidValueError(field('id'), fault.id, 'f and a number (f1, f2, ...)');
  const kinds = [fault.drop !== undefined, fault.delayMs !== undefined, fault.off !== undefined].filter(Boolean).length;
  if (kinds !== 1) throw new InvalidValueError(field('kind'), JSON.stringify(fault), 'exactly one of drop, delay and off');
  if (fault.drop !== undefined && !(typeof fault.drop === 'number' && fault.drop > 0 && fault.drop <= 100))
    throw new InvalidValueError(field('drop'), fault.drop, 'a percentage above 0, up to 100');
  if (fault.delayMs !== undefined && !(Number.isFinite(fault.delayMs) && fault.delayMs > 0 && fault.delayMs <= DELAY_MAX_MS))
    throw new InvalidValueError(field('delay'), fault.delayMs, `milliseconds above 0, up to ${DELAY_MAX_MS}`);
  if (fault.jitterMs !== undefined) {
    if (fault.delayMs === undefined) throw new InvalidValueError(field('jitter'), fault.jitterMs, 'a jitter only with a delay');
    if (!(Number.isFinite(fault.jitterMs) && fault.jitterMs > 0 && fault.jitterMs <= fault.delayMs))
      throw new InvalidValueError(field('jitter'), fault.jitterMs, `milliseconds above 0, up to the delay (${fault.delayMs})`);
  }
  // Read from a file it may be anything: only `true` is a bus-off.
  const off: unknown = fault.off;
  if (off !== undefined && (off !== true || fault.member === undefined))
    throw new InvalidValueError(field('off'), off, 'true, on a member (--member): a whole bus is not cut off');
  if (fault.until !== undefined && Number.isNaN(Date.parse(fault.until)))
    throw new InvalidValueError(field('until'), fault.until, 'a time in ISO 8601');
}

/** The faults in force at `now` (those without an end, and those whose end is later). */
export function activeFaults(faults: readonly Fault[] | undefined, now: Date): Fault[] {
  return (faults ?? []).filter((fault) => fault.until === undefined || Date.parse(fault.until) > now.getTime());
}

/** The members cut off by a fault in force. */
export function membersOff(faults: readonly Fault[]): Set<string> {
  return new Set(faults.flatMap((fault) => (fault.off === true && fault.member !== undefined ? [fault.member] : [])));
}

/** Whether frames of the bus must go through its arbiter for these faults (losses or delays). */
export function needsArbiter(faults: readonly Fault[]): boolean {
  return faults.some((fault) => fault.drop !== undefined || fault.delayMs !== undefined);
}

/** The id the next fault of a bus gets. */
export function nextFaultId(faults: readonly Fault[] | undefined): string {
  const taken = (faults ?? []).map((fault) => Number(fault.id.slice(1)));
  return `f${Math.max(0, ...taken) + 1}`;
}

/** `--for` as people write it: 30s, 5m, 2h, 1500ms, or seconds alone; returns milliseconds. */
export function parseDuration(field: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/u.exec(text.trim());
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match?.[2] ?? 's'] ?? 1000;
  const value = match === null ? NaN : Number(match[1]) * scale;
  if (!Number.isFinite(value) || value <= 0 || value > 30 * 86_400_000)
    throw new InvalidValueError(field, text, 'a duration above 0, up to 30 days: 30s, 5m, 2h, 1500ms');
  return Math.round(value);
}

/** A fault as people read it: "drop 10%", "delay 20 ms ± 5 ms", "off", with "until ..." when it ends. */
export function describeFault(fault: Fault): string {
  const what =
    fault.off === true
      ? 'off (neither sends nor receives)'
      : fault.drop !== undefined
        ? `drop ${fault.drop}%`
        : `delay ${fault.delayMs ?? 0} ms${fault.jitterMs === undefined ? '' : ` ± ${fault.jitterMs} ms`}`;
  return fault.until === undefined ? what : `${what} until ${fault.until}`;
}
