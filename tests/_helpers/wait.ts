/**
 * Waiting in tests: `until` polls for a condition with a deadline; `delay`
 * is for the few waits that are the point of a test (a negative check, a
 * client that is slow on purpose), each of which says why where it is used.
 */

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Options of {@linkcode until}. */
export interface UntilOptions {
  /** Milliseconds before giving up. Default 5000. */
  timeout?: number;
  /** What did not happen, for the error (a function is called only on failure, for the state at that time). */
  message?: string | (() => string);
  /** Milliseconds between two checks. Default 10. */
  interval?: number;
}

/** What a truthy value of type `T` can be. */
export type Truthy<T> = Exclude<T, false | 0 | 0n | "" | null | undefined>;

/**
 * Polls `condition` until it returns a truthy value, and returns that value;
 * rejects once `timeout` has passed without one, with `message`.
 */
export async function until<T>(
  condition: () => T | Promise<T>,
  { timeout = 5000, message = "the condition", interval = 10 }: UntilOptions = {},
): Promise<Truthy<T>> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await condition();
    if (value) return value as Truthy<T>;
    if (Date.now() >= deadline) {
      const what = typeof message === "function" ? message() : message;
      throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    }
    await delay(interval);
  }
}

/** Resolves or rejects as `promise` does, or rejects with `message` once `timeout` has passed first. */
export async function within<T>(
  promise: PromiseLike<T>,
  { timeout = 5000, message = "the promise" }: Omit<UntilOptions, "interval"> = {},
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) =>
    timer = setTimeout(() => {
      const what = typeof message === "function" ? message() : message;
      reject(new Error(`timed out after ${timeout} ms waiting for ${what}`));
    }, timeout)
  );
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Options of {@linkcode settled}. */
export interface SettledOptions extends UntilOptions {
  /** Milliseconds without a change after which the value counts as settled. Default 300. */
  quiet?: number;
}

/**
 * Polls `value` until it has not changed for `quiet` milliseconds (a count
 * that stopped growing: a writer that blocked, a reader that stopped), and
 * returns it; rejects once `timeout` has passed with the value still moving.
 */
export async function settled<T>(
  value: () => T | Promise<T>,
  { quiet = 300, timeout = 10_000, message = "the value to stop changing", interval = 20 }: SettledOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeout;
  let last = await value();
  let since = Date.now();
  for (;;) {
    await delay(interval);
    const now = await value();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quiet) return now;
    if (Date.now() >= deadline) {
      const what = typeof message === "function" ? message() : message;
      throw new Error(`timed out after ${timeout} ms waiting for ${what} (last value ${String(last)})`);
    }
  }
}
