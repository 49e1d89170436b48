/**
 * The queue behind a session's `incoming` stream: frames (or messages) the
 * connection produced and the handler has not read yet, with backpressure
 * towards the connection.
 *
 * @module
 */

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };
const NO_ITEMS: never[] = [];

/** The queue reached its high-water mark: stop producing. */
export const kQueueFull: unique symbol = Symbol("hybi.queueFull");
/** A full queue drained to half of it: produce again. */
export const kQueueRoom: unique symbol = Symbol("hybi.queueRoom");
/** The last reader left while the queue is full: nobody will drain it. */
export const kQueueAbandoned: unique symbol = Symbol("hybi.queueAbandoned");

/** What a queue's backpressure acts on: the session that fills it (symbol-keyed, off its public API). */
export interface QueueOwner {
  /** See {@linkcode kQueueFull}. */
  [kQueueFull](): void;
  /** See {@linkcode kQueueRoom}. */
  [kQueueRoom](): void;
  /** See {@linkcode kQueueAbandoned}. */
  [kQueueAbandoned](): void;
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
  // Open `for await` loops over the queue, and whether `incoming` was handed out as a stream.
  #readers = 0;
  #streamed = false;
  #onDrained: (() => void) | null = null;
  // Released once a read returns the end (or the error): the iterator holding the stream's lock.
  #onEndRead: QueueIterator<T> | null = null;
  #stream: ReadableStream<T> | null = null;
  readonly #highWaterMark: number;
  readonly #sizeOf: (item: T) => number;
  readonly #owner: QueueOwner;

  /**

   * Builds an empty queue.

   *
   * @param highWaterMark Queued size at which `owner.pause()` is called.
   * @param sizeOf Size of one item.
   * @param owner Told when the queue reaches its high-water mark, resumed when it has drained to half of it.
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

  /**
   * Whether someone reads the queue: a `for await` loop over it is open, or
   * its stream was handed out.
   */
  get reading(): boolean {
    return this.#readers > 0 || this.#streamed;
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
      this.#owner[kQueueFull]();
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
    const iterator = this.#onEndRead;
    if (iterator !== null) {
      this.#onEndRead = null;
      iterator.release();
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
      this.#owner[kQueueRoom]();
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
    this.#streamed = true;
    const stream = new ReadableStream<T>(new QueueSource(this), { highWaterMark: 0 }) as QueueStream<T>;
    Object.defineProperty(stream, QUEUE, { value: this });
    Object.defineProperty(stream, Symbol.asyncIterator, { value: iterateQueue, configurable: true, writable: true });
    Object.defineProperty(stream, "values", { value: iterateQueue, configurable: true, writable: true });
    this.#stream = stream;
    return stream;
  }

  /**
   * Iterates the queue without a stream: what `for await (const frame of
   * session)` uses. An idle session then holds no `ReadableStream`, reader
   * and controller (1.4 KB on Node, 3 KB on Deno). Leaving the loop early
   * keeps the session, as with `incoming`.
   */
  iterate(): AsyncIterableIterator<T> {
    if (this.#stream !== null && this.#stream.locked) throw new TypeError("the incoming stream is locked by a reader");
    return new QueueIterator(this, null);
  }

  /** Makes `iterator` the one released once a read returns the end or the error. */
  setIterator(iterator: QueueIterator<T>): void {
    this.#onEndRead = iterator;
    this.#readers++;
  }

  /** A loop over the queue ended. */
  readerLeft(): void {
    this.#readers--;
    if (this.#full && !this.reading && !this.#ended) this.#owner[kQueueAbandoned]();
  }
}

const QUEUE = Symbol("hybi.queue");
type QueueStream<T> = ReadableStream<T> & { [QUEUE]: IncomingQueue<T> };

/** `stream[Symbol.asyncIterator]` of every queue's stream (`this` is the stream). */
function iterateQueue<T>(this: QueueStream<T>): AsyncIterableIterator<T> {
  return new QueueIterator(this[QUEUE], this.getReader());
}

/** The stream's source when it is read as a stream (not with `for await`). */
class QueueSource<T> implements UnderlyingDefaultSource<T> {
  readonly #queue: IncomingQueue<T>;

  constructor(queue: IncomingQueue<T>) {
    this.#queue = queue;
  }

  async pull(controller: ReadableStreamDefaultController<T>): Promise<void> {
    try {
      const r = await this.#queue.next();
      if (r.done) controller.close();
      else controller.enqueue(r.value);
    } catch (e) {
      controller.error(e);
    }
  }
}

/**
 * `for await` over a queue's stream: holds the stream's lock, reads the
 * queue directly, and lets go of the lock once the queue ends or the loop
 * is left.
 */
class QueueIterator<T> implements AsyncIterableIterator<T> {
  readonly #queue: IncomingQueue<T>;
  // The stream's lock when iterating `incoming`; null when iterating the queue directly.
  #lock: ReadableStreamDefaultReader<T> | null;
  #released = false;

  constructor(queue: IncomingQueue<T>, lock: ReadableStreamDefaultReader<T> | null) {
    this.#queue = queue;
    this.#lock = lock;
    queue.setIterator(this);
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#released) return Promise.resolve(DONE);
    return this.#queue.next();
  }

  return(value?: unknown): Promise<IteratorResult<T>> {
    this.release();
    return Promise.resolve({ done: true, value: value as undefined });
  }

  /** Ends this iteration and lets go of the stream's lock, if it holds one (once). */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#queue.readerLeft();
    const lock = this.#lock;
    this.#lock = null;
    lock?.releaseLock();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
