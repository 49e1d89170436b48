/**
 * What a socket transport tells the layers above besides data: that its
 * write queue emptied (`flushed()`), and that the socket is closed. Held by
 * `SocketTransportBase`. Nothing here allocates until someone waits: an idle
 * connection holds no promise and no closure for either.
 *
 * @module
 */

/** Told once, by a direct call, when a socket is closed (the HTTP connection on it). */
export interface SocketCloseListener {
  /** The socket is closed both ways, or was dropped. */
  socketClosed(): void;
}

const RESOLVED: Promise<void> = Promise.resolve();

/** A socket's flush waiters and closed state; each socket transport holds one. */
export class SocketSignals {
  #waiters: (() => void)[] | null = null;
  #closed = false;
  #closedPromise: Promise<void> | null = null;
  #resolveClosed: (() => void) | null = null;
  /** Told when the socket closes. */
  closeListener: SocketCloseListener | null = null;

  /** Resolves at the next `wake()`. */
  wait(): Promise<void> {
    return new Promise((resolve) => (this.#waiters ??= []).push(resolve));
  }

  /** Resolves everyone waiting for the queue to empty. */
  wake(): void {
    const waiters = this.#waiters;
    if (waiters === null) return;
    this.#waiters = null;
    for (const w of waiters) w();
  }

  /** Whether the socket is closed. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Resolves once the socket is closed (made when first asked for). */
  get closed(): Promise<void> {
    if (this.#closedPromise === null) {
      this.#closedPromise = this.#closed ? RESOLVED : new Promise((resolve) => this.#resolveClosed = resolve);
    }
    return this.#closedPromise;
  }

  /** The socket is closed: wakes flush waiters, resolves `closed`, tells the listener (once). */
  markClosed(): void {
    this.wake();
    if (this.#closed) return;
    this.#closed = true;
    this.#resolveClosed?.();
    this.#resolveClosed = null;
    const listener = this.closeListener;
    this.closeListener = null;
    listener?.socketClosed();
  }
}
