/**
 * The browser-style `WebSocket` on hybi's client (`@hybi/websocket/client`
 * and the runtime's engine): code written for the browser
 * (tests/_helpers/browser_style.ts) runs against the `ws` package's server
 * and hybi's server, and its transcript is the one Chromium's own
 * `WebSocket` gives running the same function against the same server.
 * Also: the constructor's checks, headers, bufferedAmount rising while the
 * server does not read and falling once it does.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { router, type ServerWebSocket, webSocket, type WebSocketHandlers } from "../mod.ts";
import { HybiWebSocket, WebSocket as ClientWebSocket } from "../src/client.ts";
import type { Server } from "../src/http/serve_types.ts";
import {
  type BrowserWebSocketClass,
  echoTranscript,
  failureTranscript,
  serverCloseTranscript,
} from "./_helpers/browser_style.ts";
import { hasChromium, launchChromium } from "./_helpers/chromium.ts";
import { engineServe, runtime } from "./_helpers/engine.ts";
import { until, within } from "./_helpers/wait.ts";
import { startWsServer, type WsServer, type WsServerSocket } from "./_helpers/ws_server.ts";

/** hybi's class, typed as the browser's for the browser-style code. */
const HybiClass = ClientWebSocket as unknown as BrowserWebSocketClass;

/** The runtime's engine's own `WebSocket`. */
async function engineWebSocket(): Promise<typeof HybiWebSocket> {
  switch (runtime) {
    case "deno":
      return (await import("../src/engine/deno.ts")).WebSocket;
    case "bun":
      return (await import("../src/engine/bun.ts")).WebSocket;
    case "node":
      return (await import("../src/engine/node.ts")).WebSocket;
  }
}

type Scenario = (WebSocketClass: BrowserWebSocketClass, url: string, ...rest: never[]) => Promise<string[]>;

interface Chromium {
  run(scenario: Scenario, url: string, ...rest: unknown[]): Promise<string[]>;
  close(): Promise<void>;
}

/** Chromium, headless, running a scenario's source on a blank page with its own `WebSocket`. */
async function startChromium(): Promise<Chromium> {
  const launched = await launchChromium();
  const page = await launched.browser.newPage();
  return {
    run: (scenario, url, ...rest) =>
      page.evaluate(
        ([source, url, rest]) => new Function(`return (${source})`)()(WebSocket, url, ...rest),
        [scenario.toString(), url, rest] as const,
      ),
    close: () => launched.close(),
  };
}

const echoOrClose: WebSocketHandlers = {
  message(ws: ServerWebSocket, data) {
    if (data === "close me") ws.close(4002, "server bye");
    else ws.send(data);
  },
};

let hybi: Server;
let wsServer: WsServer;
let wsSockets: WsServerSocket[] = [];
let silent: net.Server;
let silentOpen = 0;
let browser: Chromium | null = null;
let refusedPort = 0;

before(async () => {
  const serve = await engineServe();
  hybi = await serve(
    { port: 0, onError: () => {} },
    router([
      webSocket("/chat", echoOrClose, { protocol: "superchat" }),
      webSocket("/plain", echoOrClose),
    ]),
  );
  wsServer = await startWsServer({
    handleProtocols: (offered) => offered.has("superchat") ? "superchat" : false,
    onConnection(ws) {
      wsSockets.push(ws);
      ws.on("message", (data, isBinary) => {
        if (!isBinary && data.toString() === "close me") ws.close(4002, "server bye");
        else ws.send(data, { binary: isBinary });
      });
      return true;
    },
  });
  // Accepts and never answers: a handshake that stays CONNECTING.
  silent = net.createServer((socket) => {
    silentOpen++;
    socket.resume(); // reads (and drops) the request, so that the client's close is seen
    socket.on("close", () => silentOpen--);
  });
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  // A port nobody listens on (taken, then freed).
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  refusedPort = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  if (hasChromium) browser = await startChromium();
});

after(async () => {
  await browser?.close();
  await hybi.shutdown({ timeout: 1000 });
  await wsServer.close();
  await new Promise<void>((resolve) => silent.close(() => resolve()));
});

/** Runs `scenario` with hybi's WebSocket, checks it against `expected`, and against Chromium's run when present. */
async function check(scenario: Scenario, expected: string[], url: string, ...rest: unknown[]): Promise<void> {
  const run = scenario as (c: BrowserWebSocketClass, url: string, ...rest: unknown[]) => Promise<string[]>;
  const what = `${scenario.name} on ${url}`;
  assert.deepEqual(await within(run(HybiClass, url, ...rest), { timeout: 20_000, message: what }), expected);
  if (browser !== null) {
    const chromium = await within(browser.run(scenario, url, ...rest), {
      timeout: 20_000,
      message: `Chromium: ${what}`,
    });
    assert.deepEqual(chromium, expected, "Chromium differs");
  }
}

function echoExpected(serverEchoesReason: boolean): string[] {
  return [
    "constructed readyState=0 CONNECTING=0/0",
    "binaryType=blob bufferedAmount=0",
    "send while CONNECTING: InvalidStateError",
    "open readyState=1 protocol=superchat",
    "text string héllo, wörld",
    "Uint8Array as Blob 1,2,3",
    "ArrayBuffer as ArrayBuffer 4,5,6",
    "DataView as ArrayBuffer 8,9",
    "Blob as ArrayBuffer 11,12,65,66",
    "then string after the blob",
    "onmessage Blob size=70000",
    "listener too: true",
    "close(999, 0 chars): InvalidAccessError",
    "close(1001, 0 chars): InvalidAccessError",
    "close(2999, 0 chars): InvalidAccessError",
    "close(5000, 0 chars): InvalidAccessError",
    "close(1000, 62 chars): SyntaxError",
    "still readyState=1",
    "closing readyState=2",
    `close code=4000 reason=${serverEchoesReason ? 123 : 0} chars wasClean=true`,
    "readyState=3",
  ];
}

const notChromium = hasChromium ? "" : " (Chromium absent: transcripts checked, not compared)";

test(`${runtime} WebSocket ↔ ws: open, text, binary as Blob and ArrayBuffer, close's checks, close 4000${notChromium}`, async () => {
  // ws answers a close with the client's code and reason.
  await check(echoTranscript, echoExpected(true), `ws://127.0.0.1:${wsServer.port}/`);
});

test(`${runtime} WebSocket ↔ hybi: open, text, binary as Blob and ArrayBuffer, close's checks, close 4000${notChromium}`, async () => {
  // hybi's server answers a close with the code alone.
  await check(echoTranscript, echoExpected(false), `ws://127.0.0.1:${hybi.port}/chat`);
});

test(`${runtime} WebSocket: the server closes with 4002 "server bye" (ws and hybi)${notChromium}`, async () => {
  const expected = ["events open close", "close code=4002 reason=server bye wasClean=true readyState=3"];
  await check(serverCloseTranscript, expected, `ws://127.0.0.1:${wsServer.port}/`);
  await check(serverCloseTranscript, expected, `ws://127.0.0.1:${hybi.port}/plain`);
  // The engine's own class, the same way.
  const EngineWebSocket = (await engineWebSocket()) as unknown as BrowserWebSocketClass;
  assert.deepEqual(await serverCloseTranscript(EngineWebSocket, `ws://127.0.0.1:${hybi.port}/plain`), expected);
});

test(`${runtime} WebSocket: a refused connection, and close() while CONNECTING, fire error then close 1006${notChromium}`, async () => {
  await check(failureTranscript, ["error@3 close@3 code=1006 wasClean=false"], `ws://127.0.0.1:${refusedPort}/`, false);
  const silentPort = (silent.address() as net.AddressInfo).port;
  await check(
    failureTranscript,
    ["closed at once: readyState=2 error@3 close@3 code=1006 wasClean=false"],
    `ws://127.0.0.1:${silentPort}/`,
    true,
  );
  // Nothing is left open: the aborted dial's socket (if it connected) is closed.
  await until(() => silentOpen === 0, { message: () => `${silentOpen} connections to the silent server to close` });
  // A handshake the server refuses (hybi answers 404: no route) fails the same way.
  await check(
    failureTranscript,
    ["error@3 close@3 code=1006 wasClean=false"],
    `ws://127.0.0.1:${hybi.port}/nowhere`,
    false,
  );
});

test(`${runtime} WebSocket: the constructor's checks, as browsers (and hybi's header check)`, () => {
  const syntaxError = (f: () => unknown) =>
    assert.throws(f, (e: unknown) => e instanceof DOMException && e.name === "SyntaxError");
  syntaxError(() => new HybiWebSocket("not a url"));
  syntaxError(() => new HybiWebSocket("ftp://127.0.0.1/"));
  syntaxError(() => new HybiWebSocket("ws://127.0.0.1/#fragment"));
  syntaxError(() => new HybiWebSocket(`ws://127.0.0.1:${refusedPort}/`, ["a", "a"]));
  syntaxError(() => new HybiWebSocket(`ws://127.0.0.1:${refusedPort}/`, "not a token"));
  assert.throws(
    () => new HybiWebSocket(`ws://127.0.0.1:${refusedPort}/`, [], { headers: { "sec-websocket-key": "x" } }),
    TypeError,
  );
  assert.equal(HybiWebSocket.OPEN, 1);
  assert.equal(HybiWebSocket.CLOSED, 3);
});

test(`${runtime} WebSocket: http: becomes ws:, headers and origin reach the server, extensions are reported`, async () => {
  const deflate = await startWsServer({ perMessageDeflate: { threshold: 0 } });
  try {
    const ws = new HybiWebSocket(`http://127.0.0.1:${deflate.port}/path?q=1`, "v1", {
      headers: { "x-token": "s3cret" },
      origin: "https://app.example",
    });
    assert.equal(ws.url, `ws://127.0.0.1:${deflate.port}/path?q=1`);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    const request = deflate.requests.at(-1)!;
    assert.equal(request.url, "/path?q=1");
    assert.equal(request.headers["x-token"], "s3cret");
    assert.equal(request.headers.origin, "https://app.example");
    assert.equal(request.headers["sec-websocket-protocol"], "v1");
    // ws chooses the first subprotocol offered.
    assert.equal(ws.protocol, "v1");
    assert.match(ws.extensions, /^permessage-deflate/);
    const echoed = new Promise<MessageEvent>((resolve) => {
      ws.onmessage = resolve;
    });
    ws.send("compressed ".repeat(1000));
    assert.equal((await echoed).data, "compressed ".repeat(1000));
    const closed = new Promise((resolve) => ws.addEventListener("close", resolve));
    ws.close();
    await closed;
  } finally {
    await deflate.close();
  }
});

test(`${runtime} WebSocket: bufferedAmount rises while the server does not read, and falls to 0 once it does`, async () => {
  wsSockets = [];
  const ws = new ClientWebSocket(`ws://127.0.0.1:${wsServer.port}/`, [], { extensions: false });
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  await until(() => wsSockets.length === 1, { message: "the server's socket" });
  const serverSocket = (wsSockets[0] as unknown as { _socket: net.Socket })._socket;
  serverSocket.pause();
  const chunk = new Uint8Array(512 * 1024);
  let sent = 0;
  // The kernel's buffers take some; what they cannot take stays queued and is counted.
  while (ws.bufferedAmount === 0 && sent < 12) {
    ws.send(chunk);
    sent++;
    await until(() => true);
  }
  await until(() => ws.bufferedAmount > 0, { message: "bufferedAmount to rise" });
  const echoes: number[] = [];
  ws.binaryType = "arraybuffer";
  ws.onmessage = (event) => void echoes.push((event.data as ArrayBuffer).byteLength);
  serverSocket.resume();
  await until(() => ws.bufferedAmount === 0, { timeout: 20_000, message: "bufferedAmount to fall to 0" });
  await until(() => echoes.length === sent, { timeout: 20_000, message: `${sent} echoes` });
  assert.ok(echoes.every((size) => size === chunk.length));
  const closed = new Promise((resolve) => ws.addEventListener("close", resolve));
  ws.close();
  await closed;
});
