/**
 * `attach` and `handleUpgrade` of the Node engine on a `node:http` /
 * `node:https` server, on every runtime (Bun and Deno have `node:http` too,
 * as tests/express_test.ts and tests/fastify_test.ts also show).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import { Frame, FrameReader, FrameWriter, type Job, WebSocketUpgrade } from "../mod.ts";
import { next, rawEcho } from "./_helpers/engine.ts";
import { handshake, SocketClient } from "./_helpers/socket_client.ts";
import { makeCertificates } from "./_helpers/tls.ts";
import { WebSocketClient } from "./_helpers/ws_client.ts";

async function httpServer(): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((_req, res) => res.end("plain http"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

test(
  "attach: WebSocket upgrades of an http.Server go to the handler, other requests stay with it",
  async () => {
    const { attach } = await import("../src/engine/node.ts");
    const { server, port } = await httpServer();
    const ws = attach(server, (request) => {
      if (new URL(request.url).pathname === "/forbidden") return new Response("no", { status: 403 });
      return new WebSocketUpgrade(request, null, rawEcho);
    });
    assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), "plain http");

    const builtIn = new WebSocket(`ws://127.0.0.1:${port}/chat`);
    await next(builtIn, "open");
    builtIn.send("hello");
    assert.equal((await next<MessageEvent>(builtIn, "message")).data, "hello");

    const client = new WebSocketClient(`ws://127.0.0.1:${port}/`);
    await new Promise<void>((resolve, reject) => client.once("open", resolve).once("error", reject));
    client.ping(Buffer.from("p"));
    assert.equal((await new Promise<Buffer>((r) => client.once("pong", r))).toString(), "p");

    const refused = await SocketClient.connect(port);
    refused.write(handshake("/forbidden"));
    await refused.until(() => refused.ended);
    assert.equal(refused.status(), 403);

    // Shutdown closes the sessions with 1001; the http.Server is the caller's to close.
    const closed = next<CloseEvent>(builtIn, "close");
    const wsClosed = new Promise<number>((r) => client.once("close", (code) => r(code)));
    await ws.shutdown({ timeout: 2000 });
    assert.equal((await closed).code, 1001);
    assert.equal(await wsClosed, 1001);
    await new Promise((resolve) => server.close(resolve));
  },
);

test("handleUpgrade: the head bytes that came with the request reach the session", async () => {
  const { handleUpgrade } = await import("../src/engine/node.ts");
  const { server, port } = await httpServer();
  const jobs: Job[] = [];
  server.on("upgrade", (req, socket, head) => {
    jobs.push(handleUpgrade(req, socket, head, (request) => new WebSocketUpgrade(request, null, rawEcho)));
  });
  const client = await SocketClient.connect(port);
  const writer = new FrameWriter({ masking: true });
  client.write(Buffer.concat([Buffer.from(handshake(), "latin1"), writer.encode(new Frame.Text("with the head"))]));
  await client.until(() => client.text().includes("with the head"));
  const reader = new FrameReader({ role: "client" });
  reader.push(client.bytes().subarray(client.text().indexOf("\r\n\r\n") + 4));
  assert.equal(reader.read()?.readText(), "with the head");
  client.write(writer.encode(new Frame.Close()));
  await client.until(() => client.ended);
  assert.equal(jobs.length, 1);
  await jobs[0];
  assert.equal(jobs[0].isActive, false);
  client.close();
  await new Promise((resolve) => server.close(resolve));
});

test("attach works on an https.Server too (wss://)", async () => {
  const { attach } = await import("../src/engine/node.ts");
  const certs = await makeCertificates();
  const server = https.createServer({ cert: certs.cert, key: certs.key }, (_req, res) => res.end("secure http"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const ws = attach(server, (request) => {
    assert.equal(new URL(request.url).protocol, "https:");
    return new WebSocketUpgrade(request, null, rawEcho);
  });
  const client = new WebSocketClient(`wss://127.0.0.1:${port}/`, [], { ca: certs.ca });
  await new Promise<void>((resolve, reject) => client.once("open", resolve).once("error", reject));
  client.send("over https.Server");
  assert.equal((await new Promise<Buffer>((r) => client.once("message", r))).toString(), "over https.Server");
  client.close(1000, "");
  await new Promise((r) => client.once("close", r));
  await ws.shutdown({ timeout: 1000 });
  await new Promise((resolve) => server.close(resolve));
  await certs.remove();
});
