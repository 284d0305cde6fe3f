// A sender's frames held back by a delay fault: each is due its delay (give or take its jitter) after it crossed,
// and never before the frame the sender sent before it, so jitter never reorders one sender's frames.

interface Held<T> {
  readonly item: T;
  readonly dueUs: number;
}

export class DelayLine<T> {
  #held: Array<Held<T>> = [];
  #head = 0;
  #lastDueUs = -Infinity;
  readonly #random: () => number;

  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  get size(): number {
    return this.#held.length - this.#head;
  }

  /** Holds `item`, which crossed at `atUs`, for `delayMs` give or take up to `jitterMs` (uniformly). */
  hold(item: T, atUs: number, delayMs: number, jitterMs = 0): void {
    const jitter = jitterMs === 0 ? 0 : (this.#random() * 2 - 1) * jitterMs;
    const dueUs = Math.max(atUs + (delayMs + jitter) * 1000, atUs, this.#lastDueUs);
    this.#lastDueUs = dueUs;
    this.#held.push({ item, dueUs });
  }

  /** The items due by `nowUs`, in the order they were held. */
  takeDue(nowUs: number): T[] {
    const due: T[] = [];
    while (this.#head < this.#held.length) {
      const next = this.#held[this.#head];
      if (next === undefined || next.dueUs > nowUs) break;
      due.push(next.item);
      this.#head += 1;
    }
    if (this.#head === this.#held.length) {
      this.#held = [];
      this.#head = 0;
    } else if (this.#head >= 1024) {
      this.#held = this.#held.slice(this.#head);
      this.#head = 0;
    }
    return due;
  }

  /** When the first held item is due. */
  nextDueUs(): number | undefined {
    return this.#held[this.#head]?.dueUs;
  }

  /** Drops what is held; returns how many. */
  clear(): number {
    const count = this.size;
    this.#held = [];
    this.#head = 0;
    return count;
  }
}
