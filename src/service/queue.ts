// Runs tasks one at a time per key, in arrival order; tasks of different keys run independently. Requests for one
// bus are serialised with it, so concurrent requests never interleave their reads and writes of that bus.
export class KeyedQueue {
  readonly #tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => T | Promise<T>): Promise<T> {
    // Tails never reject, so a failed task does not stop the ones queued after it.
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const result = previous.then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }

  /**
   * Runs a task holding several keys at once. Keys are taken in sorted order, so two tasks holding overlapping sets
   * never wait for each other in a circle.
   */
  runAll<T>(keys: Iterable<string>, task: () => T | Promise<T>): Promise<T> {
    const sorted = [...new Set(keys)].sort();
    const hold = (i: number): Promise<T> => {
      const key = sorted[i];
      return key === undefined ? Promise.resolve().then(task) : this.run(key, () => hold(i + 1));
    };
    return hold(0);
  }

  /** Keys with work queued or running. */
  get busy(): number {
    return this.#tails.size;
  }
}
