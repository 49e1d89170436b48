/**
 * The life of one upgraded connection, as Ktor's `Job`: awaitable, and
 * cancellable from outside. It ends when the handler returns or throws, when
 * the peer goes away, or when an engine or user `AbortSignal` aborts; awaiting
 * it never throws (failures are reported through the session and `onError`).
 *
 * @example
 * ```ts
 * import { Job } from "@hybi/websocket";
 * let stop!: () => void;
 * const job = new Job(new Promise<void>((r) => stop = r), () => stop());
 * console.log(job.isActive); // true
 * job.cancel(new Error("shutting down"));
 * await job;
 * console.log(job.isActive, job.isCancelled); // false true
 * ```
 */
export class Job implements PromiseLike<void> {
  readonly #done: Promise<void>;
  // Made when `signal` is first asked for: most jobs are only awaited.
  #controller: AbortController | null = null;
  #abortReason: unknown = undefined;
  readonly #onCancel: (reason: unknown) => void;
  #active = true;
  #cancelled = false;

  /**

   * Wraps a piece of work that ends on its own or by `onCancel`.

   *
   * @param finished Settles when the work is over (a rejection counts as over).
   * @param onCancel Stops the work; `finished` must settle soon after.
   */
  constructor(finished: Promise<void>, onCancel: (reason: unknown) => void) {
    this.#onCancel = onCancel;
    const complete = () => this.#complete();
    this.#done = finished.then(complete, complete);
  }

  #complete(): void {
    this.#active = false;
    if (this.#controller !== null && !this.#controller.signal.aborted) this.#controller.abort(this.#endReason());
  }

  /** Why `signal` aborts: the `cancel` reason, or that the job completed (made only when asked for). */
  #endReason(): unknown {
    return this.#abortReason ??= new DOMException("the job completed", "AbortError");
  }

  /**
   * Aborted when the job ends: with the `cancel` reason when cancelled, with
   * an `AbortError` when it completed on its own.
   */
  get signal(): AbortSignal {
    if (this.#controller === null) {
      this.#controller = new AbortController();
      if (this.#cancelled || !this.#active) this.#controller.abort(this.#endReason());
    }
    return this.#controller.signal;
  }

  /** Whether the job is still running. */
  get isActive(): boolean {
    return this.#active;
  }

  /** Whether `cancel` was called while the job was active. */
  get isCancelled(): boolean {
    return this.#cancelled;
  }

  /**
   * Stops the job: the connection is dropped at once. Does nothing once the
   * job has ended.
   *
   * @param reason Why; becomes the abort reason of `signal`.
   */
  cancel(reason?: unknown): void {
    if (!this.#active || this.#cancelled) return;
    this.#cancelled = true;
    const why = reason ?? new DOMException("the job was cancelled", "AbortError");
    this.#abortReason = why;
    this.#controller?.abort(why);
    this.#onCancel(why);
  }

  /** Resolves when the job has ended (Ktor's `join`). */
  join(): Promise<void> {
    return this.#done;
  }

  /**
   * Makes the job awaitable: `await job` waits for its end.
   *
   * @param onfulfilled Called when the job ends.
   * @param onrejected Never called: a job's end is not an error.
   */
  then<T1 = void, T2 = never>(
    onfulfilled?: ((value: void) => T1 | PromiseLike<T1>) | null,
    onrejected?: ((reason: unknown) => T2 | PromiseLike<T2>) | null,
  ): Promise<T1 | T2> {
    return this.#done.then(onfulfilled, onrejected);
  }
}
