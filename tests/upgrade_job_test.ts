/**
 * A session's job ends however early its connection does: a client that
 * sends the handshake and its FIN at once, while an asynchronous `verify` (or
 * handler) runs, leaves no session behind, and shutdown does not wait on it.
 * (The job was once made after `connection.start()`, which can finish the
 * connection at once; that job never ended and shutdown hung.)
 */
import { test } from "node:test";
import * as net from "node:net";
import { router, webSocket, WebSocketUpgrade } from "../mod.ts";
import { engineServe, runtime } from "./_helpers/engine.ts";
import { until, within } from "./_helpers/wait.ts";

const HANDSHAKE = "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/** Sends the handshake and ends the socket at once; resolves when the server closed it. */
async function handshakeThenEnd(port: number): Promise<void> {
  const socket = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true });
  await new Promise((resolve) => socket.once("connect", resolve));
  socket.on("data", () => {});
  socket.on("error", () => {});
  const closed = new Promise((resolve) => socket.once("close", resolve));
  socket.end(HANDSHAKE);
  await closed;
}

for (const shape of ["RAW function", "handlers", "default session"] as const) {
  test(`${runtime}: the job of a ${shape} ends when the client's input ended during an async verify`, async () => {
    const serve = await engineServe();
    const verify = async () => {
      // The client's FIN arrives meanwhile.
      await new Promise((resolve) => setTimeout(resolve, 20));
    };
    const handler = shape === "RAW function"
      ? async (request: Request) => {
        await verify();
        return new WebSocketUpgrade(request, null, () => {});
      }
      : router([
        shape === "handlers"
          ? webSocket("/ws", { message() {} }, { verify })
          : webSocket("/ws", null, async () => {}, { verify }),
      ]);
    const server = await serve({ port: 0, hostname: "127.0.0.1", onError: () => {} }, handler);
    try {
      for (let i = 0; i < 3; i++) await handshakeThenEnd(server.port);
      const sessions = () => server.clientCount;
      await until(() => sessions() === 0, { timeout: 5000, message: "sessions left after the clients went" });
    } finally {
      await within(server.shutdown({ timeout: 1000 }), { timeout: 5000, message: "shutdown() to resolve" });
    }
  });
}
