/**
 * Choosing the subprotocol from the client's offer (`handleProtocols`, as
 * `ws`'s): on `webSocket` routes (handlers and session functions),
 * `webSocketRaw`, a `WebSocketUpgrade` built by hand, and Node's `attach`;
 * against `ws` and Python `websockets` clients offering several protocols.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { Frame, type ProtocolChooser, router, webSocket, webSocketRaw, WebSocketUpgrade } from "../mod.ts";
import { engineServe, runtime } from "./_helpers/engine.ts";
import { handshake, SocketClient } from "./_helpers/socket_client.ts";
import { until } from "./_helpers/wait.ts";
import { WebSocketClient } from "./_helpers/ws_client.ts";

/** Prefers the newest version of the chat protocol the client knows. */
const newestChat: ProtocolChooser = (offered) => ["chat.v2", "chat.v1"].find((p) => offered.includes(p));

/** Opens a `ws` client offering `protocols`; resolves with the protocol it got and the server's first message. */
function wsExchange(url: string, protocols: string[]): Promise<{ protocol: string; said: string }> {
  return new Promise((resolve, reject) => {
    const client = new WebSocketClient(url, protocols);
    client.once("error", reject);
    client.once("message", (data) => {
      resolve({ protocol: client.protocol, said: data.toString() });
      client.close();
    });
  });
}

/** What a `ws` client that offered `protocols` fails with. */
function wsFailure(url: string, protocols: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const client = new WebSocketClient(url, protocols);
    client.once("open", () => reject(new Error("the handshake succeeded")));
    client.once("error", (error) => resolve(error.message));
  });
}

/** The raw HTTP answer to an opening handshake offering `protocols`. */
async function rawAnswer(port: number, path: string, protocols: string | null): Promise<string> {
  const client = await SocketClient.connect(port);
  try {
    client.write(handshake(path, protocols === null ? "" : `Sec-WebSocket-Protocol: ${protocols}\r\n`));
    await client.until(() => client.text().includes("\r\n\r\n"));
    return client.text().slice(0, client.text().indexOf("\r\n\r\n"));
  } finally {
    client.close();
  }
}

test(`handleProtocols on ${runtime}: routes of every shape choose from the offer of ws clients`, async () => {
  const serve = await engineServe();
  const errors: unknown[] = [];
  const offers: string[][] = [];
  const chooser: ProtocolChooser = (offered, request) => {
    assert.ok(request instanceof Request);
    offers.push([...offered]);
    return newestChat(offered, request);
  };
  const server = await serve(
    { port: 0, hostname: "127.0.0.1", onError: (e) => errors.push(e) },
    router([
      webSocket("/handlers", { open: (ws) => void ws.sendText(`handlers ${ws.protocol}`) }, {
        handleProtocols: chooser,
      }),
      webSocket("/session", null, async (session) => {
        await session.sendText(`session ${session.protocol}`);
        for await (const _ of session.messages()) { /* until the client closes */ }
      }, { handleProtocols: chooser }),
      webSocketRaw("/raw", null, async (session) => {
        await session.send(new Frame.Text(`raw ${session.protocol}`));
        for await (const _ of session.incoming) { /* until the client closes */ }
      }, { handleProtocols: chooser }),
      webSocket("/verified", { open: (ws) => void ws.sendText(`verified ${ws.protocol} ${ws.data}`) }, {
        handleProtocols: chooser,
        verify: () => "alice",
      }),
    ]),
  );
  try {
    const url = (path: string) => `ws://127.0.0.1:${server.port}${path}`;
    assert.deepEqual(await wsExchange(url("/handlers"), ["other", "chat.v1", "chat.v2"]), {
      protocol: "chat.v2",
      said: "handlers chat.v2",
    });
    assert.deepEqual(await wsExchange(url("/session"), ["chat.v1", "other"]), {
      protocol: "chat.v1",
      said: "session chat.v1",
    });
    assert.deepEqual(await wsExchange(url("/raw"), ["chat.v2"]), { protocol: "chat.v2", said: "raw chat.v2" });
    assert.deepEqual(await wsExchange(url("/verified"), ["chat.v1"]), {
      protocol: "chat.v1",
      said: "verified chat.v1 alice",
    });
    // Offered in the client's order.
    assert.deepEqual(offers[0], ["other", "chat.v1", "chat.v2"]);

    // None acceptable: the handshake succeeds without a subprotocol; `ws`, having asked for one, refuses it.
    const answer = await rawAnswer(server.port, "/handlers", "mqtt, stomp");
    assert.match(answer, /^HTTP\/1\.1 101 /);
    assert.equal(answer.toLowerCase().includes("sec-websocket-protocol"), false);
    assert.match(await wsFailure(url("/handlers"), ["mqtt"]), /no subprotocol/i);

    // No offer: not called, no subprotocol.
    const before = offers.length;
    assert.deepEqual(await wsExchange(url("/handlers"), []), { protocol: "", said: "handlers null" });
    assert.equal(offers.length, before);
    assert.deepEqual(errors, []);
  } finally {
    await server.shutdown({ timeout: 2000 });
  }
});

test(`handleProtocols on ${runtime}: a choice the client did not offer, or a throw, is 500 and goes to onError`, async () => {
  const serve = await engineServe();
  const errors: unknown[] = [];
  const server = await serve(
    { port: 0, hostname: "127.0.0.1", onError: (e) => errors.push(e) },
    router([
      webSocket("/unoffered", { message() {} }, { handleProtocols: () => "chat.v3" }),
      webSocket("/throws", null, async () => {}, {
        handleProtocols: () => {
          throw new Error("chooser failed");
        },
      }),
    ]),
  );
  try {
    assert.match(await rawAnswer(server.port, "/unoffered", "chat.v1, chat.v2"), /^HTTP\/1\.1 500 /);
    assert.match(await rawAnswer(server.port, "/throws", "chat.v1"), /^HTTP\/1\.1 500 /);
    await until(() => errors.length === 2, { message: "both errors reported" });
    assert.ok(errors[0] instanceof TypeError);
    assert.match((errors[0] as Error).message, /"chat\.v3", which the client did not offer/);
    assert.equal((errors[1] as Error).message, "chooser failed");
    // The server is still up.
    assert.match(await rawAnswer(server.port, "/unoffered", null), /^HTTP\/1\.1 101 /);
  } finally {
    await server.shutdown({ timeout: 2000 });
  }
});

test("handleProtocols with a fixed subprotocol is refused when the route is built", () => {
  assert.throws(
    () => webSocket("/ws", { message() {} }, { protocol: "chat", handleProtocols: newestChat }),
    /both a subprotocol and handleProtocols/,
  );
  assert.throws(
    () => webSocket("/ws", "chat", async () => {}, { handleProtocols: newestChat }),
    /both a subprotocol and handleProtocols/,
  );
  const request = new Request("http://x/", {
    headers: {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version": "13",
      "sec-websocket-protocol": "chat.v1, chat.v2",
    },
  });
  assert.throws(
    () => new WebSocketUpgrade(request, "chat.v1", async () => {}, { handleProtocols: newestChat }),
    TypeError,
  );
  const upgrade = new WebSocketUpgrade(request, null, async () => {}, { handleProtocols: newestChat });
  assert.equal(upgrade.protocol, "chat.v2");
  assert.equal(upgrade.headers.get("sec-websocket-protocol"), "chat.v2");
});

const PYTHON = "/usr/bin/python3";
const pythonSkip = spawnSync(PYTHON, ["-c", "import websockets"]).status === 0
  ? false
  : `${PYTHON} with the websockets package is not installed (.ci/run installs python3-websockets)`;

/** Python `websockets` offering each list in turn; prints the subprotocol it got and the server's first message. */
const PYTHON_CLIENT = `
import asyncio, json, sys
import websockets

async def main(url):
    out = []
    for offer in (["other", "chat.v1", "chat.v2"], ["chat.v1"], ["mqtt", "stomp"]):
        async with websockets.connect(url, subprotocols=offer) as ws:
            out.append([ws.subprotocol, await ws.recv()])
    print(json.dumps(out))

asyncio.run(asyncio.wait_for(main(sys.argv[1]), 20))
`;

test(
  `handleProtocols on ${runtime} with a WebSocketUpgrade built by hand, against Python websockets`,
  { skip: pythonSkip },
  async () => {
    const serve = await engineServe();
    const server = await serve({ port: 0, hostname: "127.0.0.1" }, (request) =>
      new WebSocketUpgrade(request, null, {
        open: (ws) => void ws.sendText(`speaking ${ws.protocol}`),
      }, { handleProtocols: newestChat }));
    try {
      const result = await new Promise<unknown>((resolve, reject) => {
        const child = spawn(PYTHON, ["-c", PYTHON_CLIENT, `ws://127.0.0.1:${server.port}/`], {
          stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "";
        let err = "";
        child.stdout!.on("data", (d) => out += String(d));
        child.stderr!.on("data", (d) => err += String(d));
        child.on("error", reject);
        child.on("close", (code) => {
          if (code !== 0) reject(new Error(`python exited with ${code}:\n${err}${out}`));
          else resolve(JSON.parse(out.trim().split("\n").pop()!));
        });
      });
      assert.deepEqual(result, [
        ["chat.v2", "speaking chat.v2"],
        ["chat.v1", "speaking chat.v1"],
        // None acceptable: no subprotocol, which this client accepts.
        [null, "speaking null"],
      ]);
    } finally {
      await server.shutdown({ timeout: 2000 });
    }
  },
);

test(
  "handleProtocols through attach on a Node http.Server",
  { skip: runtime === "node" ? false : "attach() is for Node's http.Server; this test runs under Node" },
  async () => {
    const { attach } = await import("../src/engine/node.ts");
    const server = http.createServer((_req, res) => res.end("plain http"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    const errors: unknown[] = [];
    const attachment = attach(
      server,
      router([
        webSocket("/chat", { open: (ws) => void ws.sendText(`attached ${ws.protocol}`) }, {
          handleProtocols: newestChat,
        }),
        webSocket("/bad", { message() {} }, { handleProtocols: () => "nope" }),
      ]),
      { onError: (e) => errors.push(e) },
    );
    try {
      assert.deepEqual(await wsExchange(`ws://127.0.0.1:${port}/chat`, ["chat.v1", "chat.v2"]), {
        protocol: "chat.v2",
        said: "attached chat.v2",
      });
      assert.match(await rawAnswer(port, "/bad", "chat.v1"), /^HTTP\/1\.1 500 /);
      await until(() => errors.length === 1, { message: "the error reported" });
      assert.ok(errors[0] instanceof TypeError);
    } finally {
      await attachment.shutdown({ timeout: 2000 });
      await new Promise((resolve) => server.close(resolve));
    }
  },
);
