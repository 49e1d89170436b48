/**
 * The queue behind a session's `incoming` stream: frames (or messages) the
 * connection produced and the handler has not read yet, with backpressure
 * towards the connection.
 *
 * @module
 */

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };
const NO_ITEMS: never[] = [];

/** What a queue's backpressure acts on: usually the connection. */
export interface QueueOwner {
  /** The queue reached its high-water mark: stop producing. */
  pause(): void;
  /** A full queue drained to half of it: produce again. */
  resume(): void;
}

/** A FIFO of received items that the application reads asynchronously. */
export class IncomingQueue<T> {
  // Shared and empty until the first item has to wait (an idle session allocates no array).
  #items: (T | undefined)[] = NO_ITEMS;
  #head = 0;
  #bytes = 0;
  #waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | null = null;
  #ended = false;
  #error: unknown = undefined;
  #full = false;
  #everRead = false;
  #onDrained: (() => void) | null = null;
  // Called once a read returns the end (or the error): the iterator's lock release.
  #onEndRead: (() => void) | null = null;
  #stream: ReadableStream<T> | null = null;
  readonly #highWaterMark: number;
  readonly #sizeOf: (item: T) => number;
  readonly #owner: QueueOwner;

  /**

   * Builds an empty queue.

   *
   * @param highWaterMark Queued size at which `owner.pause()` is called.
   * @param sizeOf Size of one item.
   * @param owner Paused when the queue reaches its high-water mark, resumed when it has drained to half of it.
   */
  constructor(highWaterMark: number, sizeOf: (item: T) => number, owner: QueueOwner) {
    this.#highWaterMark = highWaterMark;
    this.#sizeOf = sizeOf;
    this.#owner = owner;
  }

  /** Items queued and not read. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Whether no more items will be pushed. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Adds an item, or hands it to a waiting reader. */
  push(item: T): void {
    if (this.#ended) return;
    const w = this.#waiter;
    if (w !== null) {
      this.#waiter = null;
      w.resolve({ done: false, value: item });
      return;
    }
    if (this.#items === NO_ITEMS) this.#items = [];
    this.#items.push(item);
    this.#bytes += this.#sizeOf(item);
    if (!this.#full && this.#bytes >= this.#highWaterMark) {
      this.#full = true;
      this.#owner.pause();
    }
  }

  /** Ends the queue; readers get what is queued, then the end (or `error`). */
  end(error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    const w = this.#waiter;
    if (w !== null && this.length === 0) {
      this.#waiter = null;
      if (error === undefined) w.resolve(DONE);
      else w.reject(error);
      this.#endRead();
    }
  }

  #endRead(): void {
    const hook = this.#onEndRead;
    if (hook !== null) {
      this.#onEndRead = null;
      hook();
    }
  }

  /**
   * Ends the queue and runs `then` once the reader has asked for more after
   * taking everything queued before the end — so a reply to the peer (a
   * close frame) goes out after the application answered the messages that
   * came first. Runs `then` at once when the reader is already waiting (it
   * has handled everything) or nobody has ever read.
   */
  finish(error: unknown, then: () => void): void {
    const idle = this.#waiter !== null || !this.#everRead;
    this.end(error);
    if (idle) then();
    else this.#onDrained = then;
  }

  /** Removes and returns the first queued item, or `undefined` when none is queued. */
  shift(): T | undefined {
    if (this.#head === this.#items.length) return undefined;
    const item = this.#items[this.#head] as T;
    this.#items[this.#head++] = undefined;
    if (this.#head === this.#items.length) {
      this.#items.length = 0;
      this.#head = 0;
    }
    this.#bytes -= this.#sizeOf(item);
    if (this.#full && this.#bytes < this.#highWaterMark / 2) {
      this.#full = false;
      this.#owner.resume();
    }
    return item;
  }

  /** The next item, waiting for one when the queue is empty. */
  next(): Promise<IteratorResult<T>> {
    this.#everRead = true;
    if (this.#head < this.#items.length) {
      const item = this.shift() as T;
      return Promise.resolve({ done: false, value: item });
    }
    if (this.#ended) {
      const then = this.#onDrained;
      if (then !== null) {
        this.#onDrained = null;
        then();
      }
      this.#endRead();
      return this.#error === undefined ? Promise.resolve(DONE) : Promise.reject(this.#error);
    }
    if (this.#waiter !== null) return Promise.reject(new TypeError("only one read may be pending at a time"));
    return new Promise((resolve, reject) => this.#waiter = { resolve, reject });
  }

  /**
   * The queue as a `ReadableStream`. Iterating it with `for await` reads the
   * queue directly instead of through the stream's machinery (a promise
   * chain per chunk), and leaving the loop early does not cancel the session:
   * frames that arrive later wait for the next reader.
   */
  stream(): ReadableStream<T> {
    if (this.#stream !== null) return this.#stream;
    const stream = new ReadableStream<T>({
      pull: async (controller) => {
        try {
          const r = await this.next();
          if (r.done) controller.close();
          else controller.enqueue(r.value);
        } catch (e) {
          controller.error(e);
        }
      },
    }, { highWaterMark: 0 });
    const iterate = (): AsyncIterableIterator<T> => {
      const lock = stream.getReader();
      let released = false;
      const release = () => {
        if (!released) {
          released = true;
          lock.releaseLock();
        }
      };
      // Released when a read returns the end or the error (not with a callback per read).
      this.#onEndRead = release;
      const iterator: AsyncIterableIterator<T> = {
        next: () => {
          if (released) return Promise.resolve(DONE);
          return this.next();
        },
        return: (value?: unknown) => {
          release();
          return Promise.resolve({ done: true, value: value as undefined });
        },
        [Symbol.asyncIterator]() {
          return iterator;
        },
      };
      return iterator;
    };
    Object.defineProperty(stream, Symbol.asyncIterator, { value: iterate, configurable: true, writable: true });
    Object.defineProperty(stream, "values", { value: iterate, configurable: true, writable: true });
    this.#stream = stream;
    return stream;
  }
}
