/**
 * TLS on the current runtime's engine (`cert`/`key`): wss:// with the `ws`
 * package and the runtime's own WebSocket client, https with its fetch; a
 * client that does not speak TLS is dropped while others are served. The
 * certificates are made by `openssl` for this run.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { spawn } from "node:child_process";
import { route, router, webSocketRaw } from "../mod.ts";
import type { Server } from "../src/http/serve_types.ts";
import { engineServe, next, rawEcho, runtime } from "./_helpers/engine.ts";
import { SocketClient } from "./_helpers/socket_client.ts";
import { makeCertificates, type TestCertificates } from "./_helpers/tls.ts";
import { within } from "./_helpers/wait.ts";
import { WebSocketClient } from "./_helpers/ws_client.ts";

let certs: TestCertificates;
let server: Server;

before(async () => {
  certs = await makeCertificates();
  const serve = await engineServe();
  server = await serve(
    { port: 0, cert: certs.cert, key: certs.key, onError: () => {} },
    router([
      route("/", (req) => new Response(`secure ${new URL(req.url).protocol}`)),
      webSocketRaw("/ws", null, rawEcho),
    ]),
  );
});

after(async () => {
  await server.shutdown({ timeout: 1000 });
  await certs.remove();
});

test(`wss:// on ${runtime} with the ws package (trusting the test CA): text, binary, ping, close`, async () => {
  // Without the CA, the client's own verification refuses the server: the trust below is real.
  const untrusting = new WebSocketClient(`wss://127.0.0.1:${server.port}/ws`);
  await new Promise<void>((resolve, reject) =>
    untrusting.once("open", () => reject(new Error("opened"))).once("error", () => resolve())
  );
  const ws = new WebSocketClient(`wss://127.0.0.1:${server.port}/ws`, [], { ca: certs.ca });
  await new Promise<void>((resolve, reject) => ws.once("open", resolve).once("error", reject));
  ws.send("over TLS");
  assert.equal((await new Promise<Buffer>((r) => ws.once("message", r))).toString(), "over TLS");
  const big = new Uint8Array(256 * 1024).map((_, i) => i * 7);
  ws.send(big);
  assert.deepEqual(new Uint8Array(await new Promise<Buffer>((r) => ws.once("message", r))), big);
  ws.ping(Buffer.from("tls ping"));
  assert.equal((await new Promise<Buffer>((r) => ws.once("pong", r))).toString(), "tls ping");
  ws.close(4003, "tls bye");
  assert.deepEqual(
    await new Promise<[number, string]>((r) => ws.once("close", (code, reason) => r([code, reason.toString()]))),
    [4003, "tls bye"],
  );
});

/** Node's own WebSocket and fetch, in a child Node that trusts the test CA (they take no CA option in-process). */
function nodeBuiltInClient(port: number, caFile: string): Promise<string> {
  const script = `
    const ws = new WebSocket("wss://127.0.0.1:${port}/ws");
    ws.onopen = () => ws.send("from node's WebSocket");
    ws.onmessage = async (e) => {
      const page = await (await fetch("https://127.0.0.1:${port}/")).text();
      ws.close(4004, "done");
      ws.onclose = (c) => console.log(JSON.stringify([e.data, page, c.code, c.reason]));
    };
    ws.onerror = (e) => { console.log(JSON.stringify(["error", String(e.message)])); };`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout!.on("data", (d) => out += d);
    child.on("exit", () => resolve(out.trim()));
    child.on("error", reject);
  });
}

test(`wss:// and https:// on ${runtime} with the runtime's own WebSocket and fetch`, async () => {
  const wss = `wss://127.0.0.1:${server.port}/ws`;
  const https = `https://127.0.0.1:${server.port}/`;
  if (runtime === "node") {
    const result = JSON.parse(await nodeBuiltInClient(server.port, certs.caFile));
    assert.deepEqual(result, ["from node's WebSocket", "secure https:", 4004, "done"]);
    return;
  }
  let ws: WebSocket;
  let page: string;
  if (runtime === "deno") {
    const client = Deno.createHttpClient({ caCerts: [certs.ca] });
    page = await (await fetch(https, { client })).text();
    ws = new WebSocket(wss, { client } as unknown as string[]);
    await next(ws, "open");
    client.close();
  } else {
    // Bun's WebSocket and fetch take TLS options of their own.
    type BunTls = { tls: { ca: string } };
    const BunWebSocket = WebSocket as unknown as new (url: string, options: BunTls) => WebSocket;
    page = await (await fetch(https, { tls: { ca: certs.ca } } as RequestInit & BunTls)).text();
    ws = new BunWebSocket(wss, { tls: { ca: certs.ca } });
    await next(ws, "open");
  }
  assert.equal(page, "secure https:");
  ws.send("from the built-in client");
  assert.equal((await next<MessageEvent>(ws, "message")).data, "from the built-in client");
  ws.close(4005, "built-in bye");
  const closed = await next<CloseEvent>(ws, "close");
  assert.equal(closed.code, 4005);
  assert.equal(closed.reason, "built-in bye");
});

test("a client that does not speak TLS is dropped, and the server keeps serving", async () => {
  const plain = await SocketClient.connect(server.port);
  plain.write("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  await plain.until(() => plain.ended, 5000);
  assert.ok(!plain.text().startsWith("HTTP/1.1 200"));
  plain.close();
  const secure = await SocketClient.connect(server.port, { tls: { ca: certs.ca } });
  secure.write("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  await secure.until(() => secure.ended);
  assert.match(secure.text(), /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nsecure https:$/);
  secure.close();
});

test("shutdown finishes, although a client gave up in the middle of a TLS handshake", async () => {
  // The untrusting client of the first test left a socket in the handshake; a server that
  // waited for it would never finish shutting down.
  const gaveUp = new WebSocketClient(`wss://127.0.0.1:${server.port}/ws`);
  await new Promise<void>((resolve) => gaveUp.once("error", () => resolve()));
  await within(server.shutdown({ timeout: 1000 }), { timeout: 10_000, message: "shutdown to finish" });
});
