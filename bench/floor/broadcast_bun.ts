/**
 * The floor broadcast on Bun: `Bun.listen`, one `data` handler; each read's
 * whole data frames, unmasked once (see `broadcast_core.ts`), are written
 * with one `socket.write` of the same bytes to every open connection; what
 * the kernel does not take at once waits in that connection's queue for
 * `drain`. Nothing is paused or dropped for a slow reader (wsbench bounds
 * what is in flight).
 *
 *     bun bench/floor/broadcast_bun.ts --port 9002
 *
 * @module
 */
import { FloorBroadcastConnection } from "./broadcast_core.ts";
import { exitOnSignals, listenOptions } from "./echo_core.ts";

// The part of Bun's socket API used here (Bun's types are not a dependency).
interface BunSocket {
  data: Connection;
  /** Writes what the kernel takes now; returns the byte count (-1 when closed). */
  write(data: Uint8Array): number;
  end(): void;
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

/** The open connections (the 101 sent), in no order: a closed one is replaced by the last. */
const open: Connection[] = [];

class Connection extends FloorBroadcastConnection {
  readonly socket: BunSocket;
  /** Where this connection is in `open` (-1: not there). */
  index = -1;
  /** Bytes (views of Bun's read buffers, which are not reused, or of fresh frames) waiting for `drain`, in order. */
  queue: Uint8Array[] = [];

  constructor(socket: BunSocket) {
    super();
    this.socket = socket;
  }

  send(out: Uint8Array): void {
    if (this.queue.length === 0) {
      const n = this.socket.write(out);
      if (n === out.length || n < 0) return;
      out = out.subarray(n);
    }
    this.queue.push(out);
  }

  drain(): void {
    const queue = this.queue;
    while (queue.length > 0) {
      const first = queue[0];
      const n = this.socket.write(first);
      if (n < 0) return;
      if (n < first.length) {
        queue[0] = first.subarray(n);
        return;
      }
      queue.shift();
    }
    if (this.closing) this.socket.end();
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
    this.send(bytes);
  }

  protected opened(): void {
    this.index = open.length;
    open.push(this);
  }

  protected broadcast(frames: Uint8Array): void {
    for (let i = 0; i < open.length; i++) open[i].send(frames);
  }
}

const { port, hostname } = listenOptions();
exitOnSignals();
const bun = (globalThis as unknown as { Bun: BunApi }).Bun;
const listener = bun.listen({
  hostname,
  port,
  socket: {
    open(socket) {
      socket.data = new Connection(socket);
      socket.setNoDelay(true);
    },
    data(socket, chunk) {
      const c = socket.data;
      c.data(chunk);
      if (c.closing) {
        c.remove();
        if (c.queue.length === 0) socket.end();
      }
    },
    drain(socket) {
      socket.data.drain();
    },
    close(socket) {
      socket.data.remove();
    },
    error() {},
  },
});
console.log(`listening on ${listener.port}`);
