import type { ClientSet, ConnectedClient } from "./clients.ts";

const RESOLVED: Promise<void> = Promise.resolve();

/** What a job stops on `cancel`: `destroy(reason)` drops the work at once. */
export interface JobTarget {
  /** Stops the work at once. */
  destroy(reason?: unknown): void;
}

/** Told by a direct call when a job ends (engines use it instead of a promise per connection). */
export interface JobObserver {
  /** `job` has ended. */
  jobEnded(job: Job): void;
}

/** Ends a job made without a `finished` promise (for its owner; not exported from `mod.ts`). */
export const kJobEnd: unique symbol = Symbol("hybi.jobEnd");
/** Where a job keeps its observer (not exported from `mod.ts`). */
export const kJobObserver: unique symbol = Symbol("hybi.jobObserver");
/** Where a session's job keeps the object its handler got (not exported from `mod.ts`). */
export const kJobClient: unique symbol = Symbol("hybi.jobClient");
/** Where a session's job keeps the set of open clients it is in (not exported from `mod.ts`). */
export const kJobClients: unique symbol = Symbol("hybi.jobClients");
/** Takes a job out of its set of open clients (not exported from `mod.ts`). */
export const kJobLeave: unique symbol = Symbol("hybi.jobLeave");
/** A `ClientSet`'s own: adds a job (not exported from `mod.ts`). */
export const kJoin: unique symbol = Symbol("hybi.clientsJoin");
/** A `ClientSet`'s own: removes a job (not exported from `mod.ts`). */
export const kLeave: unique symbol = Symbol("hybi.clientsLeave");
/** A `ClientSet`'s own: its jobs, for the server's shutdown (not exported from `mod.ts`). */
export const kJobs: unique symbol = Symbol("hybi.clientsJobs");

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
  // Made when first awaited: a running session holds no promise for its job.
  #done: Promise<void> | null = null;
  #resolveDone: (() => void) | null = null;
  // Made when `signal` is first asked for: most jobs are only awaited.
  #controller: AbortController | null = null;
  #abortReason: unknown = undefined;
  readonly #onCancel: ((reason: unknown) => void) | JobTarget;
  #active = true;
  #cancelled = false;
  /**
   * Told by a direct call when the job ends (the engine's HTTP connection).
   *
   * @internal
   */
  [kJobObserver]: JobObserver | null = null;
  /**
   * The per-connection object the session's handler got (see `ClientSet`).
   *
   * @internal
   */
  [kJobClient]: ConnectedClient | null = null;
  /**
   * The set of open clients this job is in, until the connection finishes.
   *
   * @internal
   */
  [kJobClients]: ClientSet | null = null;

  /**
   * Wraps a piece of work that ends on its own or by `onCancel`.
   *
   * @param finished Settles when the work is over (a rejection counts as
   *   over); `null` when the work's owner ends the job by a direct call
   *   (hybi's connections do, so a running session holds no promise).
   * @param onCancel Stops the work (a function, or an object whose
   *   `destroy(reason)` does); `finished` must settle soon after.
   */
  constructor(finished: Promise<void> | null, onCancel: ((reason: unknown) => void) | JobTarget) {
    this.#onCancel = onCancel;
    if (finished !== null) {
      const complete = () => this.#complete();
      finished.then(complete, complete);
    }
  }

  /**
   * Ends the job; for the owner of a job made without a `finished` promise.
   *
   * @internal
   */
  [kJobEnd](): void {
    this.#complete();
  }

  /**
   * Leaves the set of open clients (the connection is finishing: before its
   * `close` handler runs, so the handler sees the count without it).
   *
   * @internal
   */
  [kJobLeave](): void {
    const clients = this[kJobClients];
    if (clients === null) return;
    this[kJobClients] = null;
    clients[kLeave](this);
  }

  #complete(): void {
    if (!this.#active) return;
    this.#active = false;
    this[kJobLeave]();
    if (this.#controller !== null && !this.#controller.signal.aborted) this.#controller.abort(this.#endReason());
    this.#resolveDone?.();
    this.#resolveDone = null;
    const observer = this[kJobObserver];
    this[kJobObserver] = null;
    observer?.jobEnded(this);
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
    const onCancel = this.#onCancel;
    if (typeof onCancel === "function") onCancel(why);
    else onCancel.destroy(why);
  }

  /** Resolves when the job has ended (Ktor's `join`). */
  join(): Promise<void> {
    if (this.#done === null) {
      this.#done = this.#active ? new Promise((resolve) => this.#resolveDone = resolve) : RESOLVED;
    }
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
    return this.join().then(onfulfilled, onrejected);
  }
}
