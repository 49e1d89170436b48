/**
 * Pings and pongs on the default session, with the `ws` client on real
 * sockets on the current runtime's engine: the client's `ping(data)` reaches
 * `onPing` (and its pong comes back to the client with the same payload);
 * `session.ping(data)` reaches the client's `'ping'` event, and its
 * automatic pong reaches `onPong`; a payload over 125 bytes is refused.
 */
import { Buffer } from "node:buffer";
import { test } from "node:test";
import assert from "node:assert/strict";
import { type DefaultWebSocketSession, router, webSocket } from "../mod.ts";
import { engineServe, runtime } from "./_helpers/engine.ts";
import { until } from "./_helpers/wait.ts";
import { WebSocketClient } from "./_helpers/ws_client.ts";

const serve = await engineServe();
const text = (d: Uint8Array): string => new TextDecoder().decode(d);

test(`default session: onPing, onPong and ping(data) with the ws client (${runtime})`, async () => {
  const seen: string[] = [];
  let session: DefaultWebSocketSession | null = null;
  let refused: unknown = null;
  const server = await serve(
    { port: 0, hostname: "127.0.0.1" },
    router([
      webSocket("/ping", null, async (s) => {
        session = s;
        s.onPing = (data) => void seen.push(`ping ${text(data)}`);
        s.onPong = (data) => void seen.push(`pong ${text(data)}`);
        try {
          await s.ping(new Uint8Array(126));
        } catch (error) {
          refused = error;
        }
        for await (const m of s.messages()) {
          if (m === "ping me") await s.ping("from the server");
          if (m === "ping me bytes") await s.ping(new Uint8Array([1, 2, 3]));
        }
      }),
    ]),
  );
  const ws = new WebSocketClient(`ws://127.0.0.1:${server.port}/ping`);
  try {
    const clientSaw: string[] = [];
    ws.on("ping", (d) => void clientSaw.push(`ping ${d.toString("hex")}`));
    ws.on("pong", (d) => void clientSaw.push(`pong ${d.toString()}`));
    await new Promise<void>((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    await until(() => session !== null && refused !== null, { message: "the session" });
    assert.ok(refused instanceof RangeError, "126 bytes refused");

    // The client pings: onPing sees its payload, the client gets its pong.
    ws.ping(new TextEncoder().encode("from the client"));
    await until(() => clientSaw.includes("pong from the client"), { message: "the client's pong" });
    assert.deepEqual(seen, ["ping from the client"]);

    // The server pings (a string, then bytes): the client's 'ping' event, its automatic pong to onPong.
    ws.send("ping me");
    await until(() => seen.length === 2, { message: "the pong of the server's ping" });
    assert.equal(seen[1], "pong from the server");
    assert.ok(clientSaw.includes(`ping ${Buffer.from("from the server").toString("hex")}`));
    ws.send("ping me bytes");
    await until(() => seen.length === 3, { message: "the pong of the second ping" });
    assert.equal(seen[2], `pong ${text(new Uint8Array([1, 2, 3]))}`);
    assert.ok(clientSaw.includes("ping 010203"));
  } finally {
    ws.close();
    await server.shutdown({ timeout: 2000 });
  }
});
