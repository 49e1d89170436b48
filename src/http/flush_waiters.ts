/**
 * Who waits for a socket transport's write queue to empty (`flushed()`),
 * shared by the engines.
 *
 * @module
 */

/** Callbacks waiting for a transport's queue to empty; the list exists only while someone waits. */
export class FlushWaiters {
  #waiters: (() => void)[] | null = null;

  /** Resolves at the next `wake()`. */
  wait(): Promise<void> {
    return new Promise((resolve) => (this.#waiters ??= []).push(resolve));
  }

  /** Resolves everyone waiting. */
  wake(): void {
    const waiters = this.#waiters;
    if (waiters === null) return;
    this.#waiters = null;
    for (const w of waiters) w();
  }
}
