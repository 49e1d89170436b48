/**
 * What a client test can see of the handles it leaves behind: the timers
 * hybi's own code (`src/`) started and has not cleared or seen fire, and,
 * where the runtime tells (Node, Deno: `process.getActiveResourcesInfo()`;
 * Bun returns nothing there), the open TCP sockets of the process.
 *
 * Importing this module wraps the global timer functions (capturing the
 * caller's stack, so only tests that need it should import it); it sees the
 * timers set after it was imported. (The same idea as the server resource
 * tests' child, tests/_helpers/resource_server.ts, in the test process
 * itself and limited to timers set from `src/`.)
 */
import process from "node:process";

/** Each pending timer set from `src/`, with the order in which it was set. */
const liveTimers = new Map<unknown, number>();
let timersSet = 0;
const SOURCE = "/src/";

/** Whether the caller of a timer function (two frames up the stack) is hybi's source. */
function calledFromSource(): boolean {
  const stack = new Error().stack ?? "";
  // Frames: the Error line, this function, the wrapper, then the caller.
  const lines = stack.split("\n").filter((line) => line.includes("at ") || line.includes("@"));
  const caller = lines[2] ?? "";
  return caller.includes(SOURCE) && !caller.includes("/node_modules/");
}

{
  const g = globalThis as unknown as Record<string, (...args: unknown[]) => unknown>;
  const realSetTimeout = g.setTimeout, realClearTimeout = g.clearTimeout;
  const realSetInterval = g.setInterval, realClearInterval = g.clearInterval;
  g.setTimeout = (fn: unknown, ms?: unknown, ...args: unknown[]) => {
    if (!calledFromSource()) return realSetTimeout(fn, ms, ...args);
    const handle = realSetTimeout(() => {
      liveTimers.delete(handle);
      (fn as (...a: unknown[]) => void)(...args);
    }, ms);
    liveTimers.set(handle, ++timersSet);
    return handle;
  };
  g.clearTimeout = (handle: unknown) => {
    liveTimers.delete(handle);
    realClearTimeout(handle);
  };
  g.setInterval = (fn: unknown, ms?: unknown, ...args: unknown[]) => {
    const handle = realSetInterval(fn, ms, ...args);
    if (calledFromSource()) liveTimers.set(handle, ++timersSet);
    return handle;
  };
  g.clearInterval = (handle: unknown) => {
    liveTimers.delete(handle);
    realClearInterval(handle);
  };
}

/**
 * A mark in the sequence of timers set from `src/`: `pendingSourceTimers`
 * counts only those set after it. (Bun and Deno run several test files in
 * one process: what another file left is not this test's.)
 */
export function markTimers(): number {
  return timersSet;
}

/** How many timers set from `src/` after `mark` (default: since the start) are pending. */
export function pendingSourceTimers(mark = 0): number {
  let pending = 0;
  for (const order of liveTimers.values()) if (order > mark) pending++;
  return pending;
}

const SOCKET_KINDS = new Set(["TCPSocketWrap", "TLSWrap", "TCPWrap", "ConnectWrap"]);

/**
 * How many TCP sockets (and connects in progress) the process has open, or
 * `null` where the runtime does not say (Bun's list is always empty).
 */
export function openSockets(): number | null {
  if ("Bun" in globalThis) return null;
  const info = (process as { getActiveResourcesInfo?: () => string[] }).getActiveResourcesInfo?.();
  return info === undefined ? null : info.filter((kind) => SOCKET_KINDS.has(kind)).length;
}
