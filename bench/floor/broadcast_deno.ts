/**
 * The floor broadcast on Deno: `Deno.listen`, one read loop per connection
 * (`conn.read` into a kept buffer); each read's whole data frames, unmasked
 * once (see `broadcast_core.ts`), are copied out of that buffer once (it is
 * reused for the next read) and handed to every open connection, whose
 * writer sends them with `conn.write` in order (one write in flight per
 * connection; what arrives meanwhile waits in its queue). Nothing is paused
 * or dropped for a slow reader (wsbench bounds what is in flight).
 *
 *     deno run --allow-net bench/floor/broadcast_deno.ts --port 9002
 *
 * @module
 */
import { FloorBroadcastConnection } from "./broadcast_core.ts";
import { exitOnSignals, listenOptions } from "./echo_core.ts";

const FIRST_READ = 1024;
const MAX_READ = 256 * 1024;

/** The open connections (the 101 sent), in no order: a closed one is replaced by the last. */
const open: Connection[] = [];

class Connection extends FloorBroadcastConnection {
  readonly conn: Deno.TcpConn;
  /** Where this connection is in `open` (-1: not there). */
  index = -1;
  /** Bytes waiting for the write in flight, in order. */
  queue: Uint8Array[] = [];
  writing = false;
  /** The read buffer whose bytes `broadcast` and `reply` may be handed (copied out: the buffer is reused). */
  reading: Uint8Array | null = null;

  constructor(conn: Deno.TcpConn) {
    super();
    this.conn = conn;
  }

  send(bytes: Uint8Array): void {
    this.queue.push(bytes);
    if (!this.writing) void this.#pump();
  }

  async #pump(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        const bytes = this.queue.shift()!;
        for (let written = 0; written < bytes.length;) {
          written += await this.conn.write(written === 0 ? bytes : bytes.subarray(written));
        }
      }
    } catch {
      // Closed or reset: the read loop ends.
      this.queue.length = 0;
    }
    this.writing = false;
    if (this.closing) this.close();
  }

  /** Closes the connection (once the read loop has ended, or on a close frame: see `closing`). */
  close(): void {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }

  remove(): void {
    if (this.index < 0) return;
    const last = open.pop()!;
    if (last !== this) {
      open[this.index] = last;
      last.index = this.index;
    }
    this.index = -1;
  }

  protected reply(bytes: Uint8Array): void {
    this.send(this.#own(bytes));
  }

  protected opened(): void {
    this.index = open.length;
    open.push(this);
  }

  protected broadcast(frames: Uint8Array): void {
    const bytes = this.#own(frames);
    for (let i = 0; i < open.length; i++) open[i].send(bytes);
  }

  /** `bytes`, copied when they are a view of the read buffer. */
  #own(bytes: Uint8Array): Uint8Array {
    return bytes.buffer === this.reading?.buffer ? bytes.slice() : bytes;
  }
}

async function serve(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  const c = new Connection(conn);
  let buf = new Uint8Array(FIRST_READ);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      c.reading = buf;
      c.data(n === buf.length ? buf : buf.subarray(0, n));
      if (c.closing) break;
      if (n === buf.length && buf.length < MAX_READ) buf = new Uint8Array(buf.length * 4);
    }
  } catch {
    // Reset by the peer.
  } finally {
    c.remove();
    // What is queued still goes out (a close frame's answer); the writer closes the connection after it.
    c.closing = true;
    if (!c.writing) c.close();
  }
}

const { port, hostname } = listenOptions();
exitOnSignals();
const listener = Deno.listen({ hostname, port, transport: "tcp" });
console.log(`listening on ${listener.addr.port}`);
for await (const conn of listener) void serve(conn);
