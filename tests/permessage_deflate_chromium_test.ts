/**
 * permessage-deflate with Chromium (driven by playwright-core), which offers
 * `permessage-deflate; client_max_window_bits`, on the current runtime's
 * engine: a page fetches each route's scenario messages (small and 4 MiB,
 * text and binary, compressible and not) from the server, sends them over a
 * WebSocket and checks every echo; the connection is checked from the wire
 * (tests/_helpers/deflate_echo.ts): context takeover on and off on the
 * server side, 10-bit windows, echoes in fragments. Chromium is the Debian
 * package at /usr/bin/chromium (`.ci/run` installs it); without it the test
 * is skipped.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { chromiumSkip, withChromium } from "./_helpers/chromium.ts";
import { ROUTE_NAMES, startDeflateEcho, tapPath, verifyConnection } from "./_helpers/deflate_echo.ts";
import { runtime } from "./_helpers/engine.ts";

interface PageResult {
  extensions: string;
  echoed: number;
  messages: number;
  failure: string | null;
}

/** Runs in the page: fetches the route's messages, echoes each through the WebSocket, compares. */
async function echoInPage([base, url, route]: [string, string, string]): Promise<PageResult> {
  const messages: (string | Uint8Array)[] = [];
  for (let i = 0, count = 1; i < count; i++) {
    const response = await fetch(`${base}/payload/${route}/${i}`);
    count = Number(response.headers.get("x-count"));
    const bytes = new Uint8Array(await response.arrayBuffer());
    messages.push(response.headers.get("x-kind") === "text" ? new TextDecoder().decode(bytes) : bytes);
  }
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  const received: (string | ArrayBuffer)[] = [];
  let wake: (() => void) | null = null;
  ws.onmessage = (e) => {
    received.push(e.data);
    wake?.();
  };
  let closed: string | null = null;
  const done = new Promise((resolve) =>
    ws.onclose = (e) => {
      closed = `${e.code} ${e.reason}`;
      wake?.();
      resolve(undefined);
    }
  );
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("the WebSocket failed to open"));
  });
  let echoed = 0;
  let failure: string | null = null;

  for (const [i, m] of messages.entries()) {
    ws.send(m);
    while (received.length === 0 && closed === null) await new Promise<void>((resolve) => wake = resolve);
    if (received.length === 0) {
      failure = `the connection closed (${closed}) before the echo of message ${i}`;
      break;
    }
    const got = received.shift()!;
    const same = typeof m === "string"
      ? got === m
      : got instanceof ArrayBuffer && got.byteLength === m.length && new Uint8Array(got).every((b, k) => b === m[k]);
    if (!same) {
      failure = `message ${i} (${typeof m === "string" ? "text" : "binary"}) came back different`;
      break;
    }
    echoed++;
  }
  if (closed === null) ws.close(1000);
  await done;
  return { extensions: ws.extensions, echoed, messages: messages.length, failure };
}

test(`Chromium on ${runtime}'s engine: every deflate route`, { skip: chromiumSkip }, async () => {
  const echo = await startDeflateEcho();
  try {
    await withChromium(async (browser) => {
      const page = await browser.newPage();
      // A page of the server's own origin: Chromium does not let about:blank reach loopback.
      await page.goto(`${echo.httpUrl}/`);
      for (const route of ROUTE_NAMES) {
        const tag = "chromium";
        const result = await page.evaluate(
          echoInPage,
          [echo.httpUrl, echo.wsUrl(route, tag), route] as [string, string, string],
        );
        assert.equal(result.failure, null, `/${route}`);
        assert.equal(result.echoed, result.messages);
        const conn = echo.tap.connection(tapPath(route, tag));
        await conn.closed;
        assert.equal(result.extensions, conn.responseHeader("sec-websocket-extensions"), "what the page sees");
        const report = await verifyConnection(conn, route, echo.messages(route));
        assert.equal(report.offer, "permessage-deflate; client_max_window_bits");
        assert.ok(report.clientCompressed > 0, "Chromium compressed messages, which our inflater decoded");
      }
    });
  } finally {
    await echo.stop();
  }
});
