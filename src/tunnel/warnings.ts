// Warnings of the frame path, which could come with every frame: logged once a minute at most per kind.
import type { Logger } from '../log.js';

/** Warnings that could come with every frame are logged once a minute at most, with how many since. */
export class RateLimitedLog {
  readonly #log: Logger;
  readonly #last = new Map<string, { at: number; suppressed: number }>();
  readonly #intervalMs: number;

  constructor(log: Logger, intervalMs = 60_000) {
    this.#log = log;
    this.#intervalMs = intervalMs;
  }

  warn(key: string, message: string, fields: Readonly<Record<string, string | number | boolean | undefined>>): void {
    const now = Date.now();
    const last = this.#last.get(key);
    if (last !== undefined && now - last.at < this.#intervalMs) {
      last.suppressed += 1;
      return;
    }
    this.#last.set(key, { at: now, suppressed: 0 });
    this.#log.warn(message, { ...fields, ...(last === undefined || last.suppressed === 0 ? {} : { suppressed: last.suppressed }) });
  }
}
