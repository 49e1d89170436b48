/**
 * The floor echo on Bun: `Bun.listen`, one `data` handler, each read's
 * answer written with one `socket.write` (see `echo_core.ts`); what the
 * kernel does not take at once waits for `drain`.
 *
 *     bun bench/floor/bun.ts --port 9001
 *
 * @module
 */
import { exitOnSignals, FloorEcho, listenOptions } from "./echo_core.ts";

/** Reading pauses while this much waits for `drain`. */
const QUEUE_LIMIT = 4 * 1024 * 1024;

// The part of Bun's socket API used here (Bun's types are not a dependency).
interface BunSocket {
  data: Connection;
  /** Writes what the kernel takes now; returns the byte count (-1 when closed). */
  write(data: Uint8Array): number;
  end(): void;
  pause(): void;
  resume(): void;
  setNoDelay(noDelay: boolean): boolean;
}

interface BunApi {
  listen(options: {
    hostname: string;
    port: number;
    socket: {
      open(socket: BunSocket): void;
      data(socket: BunSocket, data: Uint8Array): void;
      drain(socket: BunSocket): void;
      close(socket: BunSocket): void;
      error(socket: BunSocket, error: Error): void;
    };
  }): { readonly port: number };
}

class Connection {
  readonly echo = new FloorEcho();
  /** Answers (views of Bun's read buffers, which are not reused) waiting for `drain`, in order. */
  queue: Uint8Array[] = [];
  queued = 0;
  paused = false;
}

function send(socket: BunSocket, c: Connection, out: Uint8Array): void {
  if (c.queue.length === 0) {
    const n = socket.write(out);
    if (n === out.length || n < 0) return;
    out = out.subarray(n);
  }
  c.queue.push(out);
  c.queued += out.length;
  if (c.queued >= QUEUE_LIMIT && !c.paused) {
    c.paused = true;
    socket.pause();
  }
}

function drain(socket: BunSocket, c: Connection): void {
  while (c.queue.length > 0) {
    const first = c.queue[0];
    const n = socket.write(first);
    if (n < 0) return;
    c.queued -= n;
    if (n < first.length) {
      c.queue[0] = first.subarray(n);
      return;
    }
    c.queue.shift();
  }
  if (c.paused) {
    c.paused = false;
    socket.resume();
  }
  if (c.echo.closing) socket.end();
}

const { port, hostname } = listenOptions();
exitOnSignals();
const bun = (globalThis as unknown as { Bun: BunApi }).Bun;
const listener = bun.listen({
  hostname,
  port,
  socket: {
    open(socket) {
      socket.data = new Connection();
      socket.setNoDelay(true);
    },
    data(socket, chunk) {
      const c = socket.data;
      const out = c.echo.data(chunk);
      if (out !== null) send(socket, c, out);
      if (c.echo.closing && c.queue.length === 0) socket.end();
    },
    drain(socket) {
      drain(socket, socket.data);
    },
    close() {},
    error() {},
  },
});
console.log(`listening on ${listener.port}`);
