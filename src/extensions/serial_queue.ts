const RESOLVED: Promise<void> = Promise.resolve();

/**
 * Runs asynchronous tasks one after another, in the order they were
 * submitted, and settles their promises in that order. A task submitted
 * while the queue is idle starts at once (synchronously), so an idle
 * connection pays no extra turn of the event loop.
 */
export class SerialQueue {
  #pending = 0;
  #last: Promise<void> = RESOLVED;
  readonly #done = (): void => {
    this.#pending--;
  };

  /** How many submitted tasks have not settled yet. */
  get pending(): number {
    return this.#pending;
  }

  /**
   * Runs `task` after every task submitted before it has settled.
   *
   * @param task The work; a rejection settles only its own promise.
   * @returns The task's result.
   */
  run<T>(task: () => Promise<T> | T): Promise<T> {
    let result: Promise<T>;
    if (this.#pending === 0) {
      try {
        result = Promise.resolve(task());
      } catch (error) {
        result = Promise.reject(error);
      }
    } else {
      result = this.#last.then(task);
    }
    this.#pending++;
    this.#last = result.then(this.#done, this.#done);
    return result;
  }
}
