// A timed bus: one that carries frames no faster than a real bus of its bit rate (see timing/arbiter.ts). Without
// timing a bus is untimed: frames cross as fast as the kernel copies them.
import { InvalidValueError } from '../errors.js';

export interface BusTiming {
  /** Nominal bit rate, bit/s: arbitration, and the whole of classic frames. */
  readonly bitrate: number;
  /** Data-phase bit rate of FD frames that switch (BRS), bit/s; FD buses only. The nominal rate when absent. */
  readonly dbitrate?: number;
}

/** The window a timed bus's load is given over: the last 5 seconds. */
export const LOAD_WINDOW_US = 5_000_000;

/** The nominal bit rates a timed bus may have: ISO 11898 goes up to 1 Mbit/s; below 5 kbit/s nothing runs. */
export const BITRATE_RANGE = { min: 5_000, max: 1_000_000 } as const;
/** Data-phase rates: from the nominal rate up to 20 Mbit/s (CAN FD transceivers with signal improvement). */
export const DBITRATE_MAX = 20_000_000;

/** Checks a bus's timing; `field` names its keys in errors as the caller's users know them. */
export function checkTiming(timing: BusTiming, fd: boolean, field: (key: 'bitrate' | 'dbitrate') => string): void {
  const { bitrate, dbitrate } = timing;
  if (!Number.isSafeInteger(bitrate) || bitrate < BITRATE_RANGE.min || bitrate > BITRATE_RANGE.max)
    throw new InvalidValueError(
      field('bitrate'),
      bitrate,
      `a bit rate in bit/s, a whole number from ${BITRATE_RANGE.min} to ${BITRATE_RANGE.max} (for example 125000, 500000, 1000000)`,
    );
  if (dbitrate === undefined) return;
  if (!fd) throw new InvalidValueError(field('dbitrate'), dbitrate, 'a data bit rate only on an FD bus (fd=true)');
  if (!Number.isSafeInteger(dbitrate) || dbitrate < bitrate || dbitrate > DBITRATE_MAX)
    throw new InvalidValueError(
      field('dbitrate'),
      dbitrate,
      `a data bit rate in bit/s, a whole number from the bit rate (${bitrate}) to ${DBITRATE_MAX} (for example 2000000)`,
    );
}

/**
 * A bus's timing from a front door's `bitrate` and `dbitrate`, checked (`field` names them as its users write them):
 * none without a bit rate; a data bit rate alone is refused, not ignored (`nominal` says how to give the bit rate).
 */
export function timingFrom(
  values: { readonly bitrate: number | undefined; readonly dbitrate: number | undefined },
  fd: boolean,
  field: (key: 'bitrate' | 'dbitrate') => string,
  nominal = 'bitrate',
): BusTiming | undefined {
  const { bitrate, dbitrate } = values;
  if (bitrate === undefined) {
    if (dbitrate !== undefined)
      throw new InvalidValueError(field('dbitrate'), dbitrate, `a data bit rate only with ${nominal} (the nominal rate)`);
    return undefined;
  }
  const timing = { bitrate, ...(dbitrate === undefined ? {} : { dbitrate }) };
  checkTiming(timing, fd, field);
  return timing;
}

/** A bit rate as people write it: 500000 → "500 kbit/s", 2000000 → "2 Mbit/s". */
export function bitrateText(bitrate: number): string {
  if (bitrate >= 1_000_000 && bitrate % 1000 === 0) return `${bitrate / 1_000_000} Mbit/s`;
  if (bitrate >= 1000) return `${bitrate / 1000} kbit/s`;
  return `${bitrate} bit/s`;
}

/** A load as a percentage: 0.43 → "43%", small ones with a decimal (0.042 → "4.2%"). */
export function percentText(ratio: number): string {
  return `${(ratio * 100).toFixed(ratio > 0 && ratio < 0.1 ? 1 : 0)}%`;
}

/** Parses an option's text as a bit rate: digits, or with a k or M suffix (500k, 1M). */
export function parseBitrate(field: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)([kM]?)$/u.exec(text.trim());
  const scale = match?.[2] === 'k' ? 1000 : match?.[2] === 'M' ? 1_000_000 : 1;
  const exact = match === null ? NaN : Number(match[1]) * scale;
  // 83.3k is 83300, not 83299.99999999999.
  const value = Math.abs(exact - Math.round(exact)) < 1e-6 ? Math.round(exact) : exact;
  if (!Number.isSafeInteger(value))
    throw new InvalidValueError(field, text, 'a bit rate in bit/s: digits, or with k or M (500000, 500k, 1M)');
  return value;
}
