/**
 * A server run in a child process by the resource tests (so that its memory
 * is its own, and so that it must exit by itself after `shutdown()`). It
 * serves, on the current runtime's engine:
 *
 * - `/echo` (WebSocket): the default session echoing messages;
 * - `/send?mib=N&await=1|0&limit=BYTES|inf` (WebSocket): sends N MiB as
 *   64 KiB binary messages, each a fresh buffer, awaiting each `send` or not;
 * - `/collect?id=K` (WebSocket): reads text messages slowly; when its
 *   handler ends it prints `collected K <json>` (the messages, the close code);
 * - `/stats[?gc=1]`: JSON with memory, open connections and sessions, live
 *   timers, engine-signal listeners, open file descriptors and TCP sockets,
 *   and the `/send` records (after a full garbage collection with `gc=1`);
 * - `/shutdown`: answers, then calls `server.shutdown()`; once it resolves
 *   the process prints `report <json>` and is left to exit on its own.
 *
 * It prints `listening on <port>` once ready.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import process from "node:process";

// Timers hybi starts, counted while alive: installed before any server code runs.
const liveTimers = new Set<unknown>();
{
  const g = globalThis as unknown as Record<string, (...args: unknown[]) => unknown>;
  const realSetTimeout = g.setTimeout, realClearTimeout = g.clearTimeout;
  const realSetInterval = g.setInterval, realClearInterval = g.clearInterval;
  g.setTimeout = (fn: unknown, ms?: unknown, ...args: unknown[]) => {
    const handle = realSetTimeout(() => {
      liveTimers.delete(handle);
      (fn as (...a: unknown[]) => void)(...args);
    }, ms);
    liveTimers.add(handle);
    return handle;
  };
  g.clearTimeout = (handle: unknown) => {
    liveTimers.delete(handle);
    realClearTimeout(handle);
  };
  g.setInterval = (fn: unknown, ms?: unknown, ...args: unknown[]) => {
    const handle = realSetInterval(fn, ms, ...args);
    liveTimers.add(handle);
    return handle;
  };
  g.clearInterval = (handle: unknown) => {
    liveTimers.delete(handle);
    realClearInterval(handle);
  };
}

const { Frame, runDefaultSession, WebSocketError, WebSocketUpgrade } = await import("../../mod.ts");
type HttpServer = import("../../src/http/server.ts").HttpServer;
type DefaultWebSocketSession = import("../../mod.ts").DefaultWebSocketSession;
const { engineServe } = await import("./engine.ts");
const { delay } = await import("./wait.ts");

const MiB = 1024 * 1024;

function collectGarbage(): void {
  const g = globalThis as { gc?: () => void; Bun?: { gc(force: boolean): void } };
  for (let i = 0; i < 3; i++) {
    if (g.Bun !== undefined) g.Bun.gc(true);
    else g.gc?.();
  }
}

/** What `/send` connections did, by the order they arrived. */
interface SendRecord {
  queued: number;
  done: boolean;
  error: string | null;
  errorCloseCode: number | null;
  closeCode: number | null;
  bufferedMax: number;
}
const sends: SendRecord[] = [];

async function sendMiB(session: DefaultWebSocketSession, mib: number, awaitEach: boolean): Promise<void> {
  const record: SendRecord = {
    queued: 0,
    done: false,
    error: null,
    errorCloseCode: null,
    closeCode: null,
    bufferedMax: 0,
  };
  sends.push(record);
  session.closeReason.then((r) => record.closeCode = r?.code ?? null);
  const fail = (e: unknown) => {
    if (record.error !== null) return;
    record.error = e instanceof WebSocketError ? e.code : String(e);
    record.errorCloseCode = e instanceof WebSocketError ? e.closeCode : null;
  };
  const size = 64 * 1024;
  const count = (mib * MiB) / size;
  for (let i = 0; i < count && record.error === null; i++) {
    // A fresh buffer for every message, as an application producing data has.
    const sent = session.send(new Frame.Binary(new Uint8Array(size).fill(i & 255)));
    record.queued += size;
    record.bufferedMax = Math.max(record.bufferedMax, session.bufferedAmount);
    if (awaitEach) {
      try {
        await sent;
      } catch (e) {
        fail(e);
      }
    } else {
      sent.catch(fail);
      // Not awaiting the send, but letting I/O happen now and then.
      if (i % 16 === 15) await delay(0); // the point: a broadcaster on a timer
    }
  }
  record.done = true;
  // Wait for the peer's close (or the end of the connection).
  for await (const _ of session.incoming) { /* drop */ }
}

async function collect(session: DefaultWebSocketSession, id: string): Promise<void> {
  const messages: string[] = [];
  try {
    for await (const message of session.messages()) {
      messages.push(typeof message === "string" ? message : `${message.length} bytes`);
      // Messages the server accepted wait in the session's queue.
      await delay(1); // the point: a slow handler
    }
  } finally {
    const closeCode = (await session.closeReason)?.code ?? null;
    console.log(`collected ${id} ${JSON.stringify({ messages, closeCode })}`);
  }
}

const serve = await engineServe();
const fdCount = () => readdirSync("/proc/self/fd").length;
/** TCP sockets this process holds open: its descriptors whose socket appears in /proc/net/tcp(6). */
function tcpSocketCount(): number {
  const tcpInodes = new Set<string>();
  for (const table of ["/proc/self/net/tcp", "/proc/self/net/tcp6"]) {
    let text = "";
    try {
      text = readFileSync(table, "latin1");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length > 9) tcpInodes.add(fields[9]);
    }
  }
  let count = 0;
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith("socket:[") && tcpInodes.has(target.slice(8, -1))) count++;
    } catch {
      // Closed meanwhile.
    }
  }
  return count;
}

const server = await serve({
  port: 0,
  hostname: "127.0.0.1",
  onError: (e) => console.error("server error:", e),
  shutdownTimeout: 5000,
}, (request) => {
  const url = new URL(request.url);
  switch (url.pathname) {
    case "/echo":
      return new WebSocketUpgrade(
        request,
        null,
        (raw) =>
          runDefaultSession(raw, async (s) => {
            for await (const message of s.incoming) await s.send(message);
          }),
        { closeTimeout: 2000 },
      );
    case "/send": {
      const limit = url.searchParams.get("limit");
      return new WebSocketUpgrade(
        request,
        null,
        (raw) =>
          runDefaultSession(
            raw,
            (s) => sendMiB(s, Number(url.searchParams.get("mib") ?? 100), url.searchParams.get("await") === "1"),
          ),
        {
          maxQueuedBytes: limit === null ? undefined : limit === "inf" ? Infinity : Number(limit),
          closeTimeout: 1000,
        },
      );
    }
    case "/collect":
      return new WebSocketUpgrade(
        request,
        null,
        (raw) => runDefaultSession(raw, (s) => collect(s, url.searchParams.get("id") ?? "?")),
      );
    case "/stats": {
      if (url.searchParams.get("gc") === "1") collectGarbage();
      const memory = process.memoryUsage();
      return Response.json({
        rss: memory.rss,
        heapUsed: memory.heapUsed,
        heapTotal: memory.heapTotal,
        external: memory.external,
        cpuMs: Math.round((process.cpuUsage().user + process.cpuUsage().system) / 1000),
        connections: server.connectionCount,
        sessions: server.clientCount,
        timers: liveTimers.size,
        abortListeners,
        fds: fdCount(),
        tcpSockets: tcpSocketCount(),
        sends,
      });
    }
    case "/shutdown":
      setTimeout(() => {
        const started = Date.now();
        server.shutdown().then(() => {
          console.log(`report ${JSON.stringify({ shutdownMs: Date.now() - started })}`);
        });
      }, 0);
      return new Response("shutting down\n");
  }
  return new Response("not found\n", { status: 404 });
}) as HttpServer;

// Listeners on the engine's signal, which every WebSocket session registers and must remove.
let abortListeners = 0;
{
  const signal = server.signal;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((...args: Parameters<typeof add>) => {
    abortListeners++;
    add(...args);
  }) as typeof add;
  signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
    abortListeners--;
    remove(...args);
  }) as typeof remove;
}

console.log(`listening on ${server.port}`);
