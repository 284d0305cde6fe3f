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

  /** Keys with work queued or running. */
  get busy(): number {
    return this.#tails.size;
  }
}
