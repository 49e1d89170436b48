/**
 * The floor echo on Node: `node:net`, one `data` listener, each read's
 * answer written with one `write` (see `echo_core.ts`).
 *
 *     node bench/floor/node.ts --port 9001
 *
 * @module
 */
import { type AddressInfo, createServer, type Socket } from "node:net";
import { exitOnSignals, FloorEcho, listenOptions } from "./echo_core.ts";

const { port, hostname } = listenOptions();
exitOnSignals();

function serve(socket: Socket): void {
  const echo = new FloorEcho();
  socket.on("data", (chunk: Uint8Array) => {
    const out = echo.data(chunk);
    // The client bounds what it has in flight; pausing on a full buffer keeps a slow reader from growing it anyway.
    if (out !== null && !socket.write(out)) socket.pause();
    if (echo.closing) socket.end();
  });
  socket.on("drain", () => socket.resume());
  socket.on("error", () => socket.destroy());
}

const server = createServer({ noDelay: true }, serve);
server.listen(port, hostname, () => console.log(`listening on ${(server.address() as AddressInfo).port}`));
