/**
 * The floor broadcast on Node: `node:net`, one `data` listener; each read's
 * whole data frames, unmasked once (see `broadcast_core.ts`), are written
 * with one `socket.write` of the same bytes to every open connection (Node
 * queues what the kernel does not take). Nothing is paused or dropped for a
 * slow reader (wsbench bounds what is in flight).
 *
 *     node bench/floor/broadcast_node.ts --port 9002
 *
 * @module
 */
import { type AddressInfo, createServer, type Socket } from "node:net";
import { FloorBroadcastConnection } from "./broadcast_core.ts";
import { exitOnSignals, listenOptions } from "./echo_core.ts";

/** The open connections (the 101 sent), in no order: a closed one is replaced by the last. */
const open: Connection[] = [];

class Connection extends FloorBroadcastConnection {
  readonly socket: Socket;
  /** Where this connection is in `open` (-1: not there). */
  index = -1;

  constructor(socket: Socket) {
    super();
    this.socket = socket;
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
    this.socket.write(bytes);
  }

  protected opened(): void {
    this.index = open.length;
    open.push(this);
  }

  protected broadcast(frames: Uint8Array): void {
    for (let i = 0; i < open.length; i++) open[i].socket.write(frames);
  }
}

const { port, hostname } = listenOptions();
exitOnSignals();

function serve(socket: Socket): void {
  const c = new Connection(socket);
  socket.on("data", (chunk: Uint8Array) => {
    c.data(chunk);
    if (c.closing) {
      c.remove();
      socket.end();
    }
  });
  socket.on("close", () => c.remove());
  socket.on("error", () => socket.destroy());
}

const server = createServer({ noDelay: true }, serve);
server.listen(port, hostname, () => console.log(`listening on ${(server.address() as AddressInfo).port}`));
