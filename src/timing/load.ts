// A timed bus's load: the share of its time that frames took over the last seconds, from the bus time each frame
// held, counted in short slices so the window slides smoothly.

import { LOAD_WINDOW_US } from '../bus/timing.js';

const SLICE_US = 100_000;

export class LoadWindow {
  /** Bus time used per slice, by slice number (time / SLICE_US). */
  readonly #slices = new Map<number, number>();
  readonly #sinceUs: number;

  constructor(sinceUs: number) {
    this.#sinceUs = sinceUs;
  }

  /** A frame that held the bus for `durationUs`, ending at `endUs`. */
  add(endUs: number, durationUs: number): void {
    const slice = Math.floor(endUs / SLICE_US);
    this.#slices.set(slice, (this.#slices.get(slice) ?? 0) + durationUs);
    if (this.#slices.size > (2 * LOAD_WINDOW_US) / SLICE_US) this.#prune(endUs);
  }

  /** The share of the window before `nowUs` (or of the time since the bus started, if shorter) frames took, 0..1. */
  ratio(nowUs: number, windowUs = LOAD_WINDOW_US): number {
    const from = Math.max(nowUs - windowUs, this.#sinceUs);
    const span = nowUs - from;
    if (span <= 0) return 0;
    const first = Math.floor(from / SLICE_US);
    let busy = 0;
    for (const [slice, used] of this.#slices) if (slice >= first && slice * SLICE_US <= nowUs) busy += used;
    return Math.min(1, busy / Math.max(span, SLICE_US));
  }

  #prune(nowUs: number): void {
    const first = Math.floor((nowUs - LOAD_WINDOW_US) / SLICE_US) - 1;
    for (const slice of this.#slices.keys()) if (slice < first) this.#slices.delete(slice);
  }
}
