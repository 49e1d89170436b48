import { test } from "node:test";
import assert from "node:assert/strict";
import { computeAccept, ErrorCode, HandshakeError, validateHandshake, WebSocketUpgrade } from "../mod.ts";
import { hasToken, parseTokenList } from "../src/handshake.ts";
import { upgradeRequest } from "./_helpers/client.ts";

function refused(request: Request, status: number, protocol: string | null = null): HandshakeError {
  let caught: unknown;
  try {
    new WebSocketUpgrade(request, protocol, () => {});
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof HandshakeError, `expected a HandshakeError, got ${caught}`);
  assert.equal(caught.status, status, caught.message);
  return caught;
}

test("the issue's literal check: status 101 and the RFC's Sec-WebSocket-Accept", () => {
  const upgrade = new WebSocketUpgrade(
    new Request("http://x/", {
      headers: {
        upgrade: "websocket",
        connection: "Upgrade",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        "sec-websocket-version": "13",
      },
    }),
    null,
    async () => {},
  );
  assert.equal(upgrade.status, 101);
  assert.equal(upgrade.headers.get("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  assert.equal(upgrade.headers.get("upgrade"), "websocket");
  assert.equal(upgrade.headers.get("connection"), "Upgrade");
  assert.equal(upgrade.headers.get("sec-websocket-protocol"), null);
  assert.equal(upgrade.call, upgrade.request);
});

test("computeAccept: RFC 6455 §1.3 example", () => {
  assert.equal(computeAccept("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
});

test("token lists are case-insensitive and tolerate whitespace", () => {
  const u = new WebSocketUpgrade(
    upgradeRequest({ upgrade: "h2c, WebSocket", connection: "keep-alive,  UPGRADE " }),
    null,
    () => {},
  );
  assert.equal(u.status, 101);
  assert.equal(hasToken("a, b ,\tupgrade", "upgrade"), true);
  assert.equal(hasToken("upgrades", "upgrade"), false);
  assert.equal(hasToken("", "upgrade"), false);
  assert.deepEqual(parseTokenList(" chat ,superchat,, v2.bin"), ["chat", "superchat", "v2.bin"]);
  assert.equal(parseTokenList("chat superchat"), null);
  assert.equal(parseTokenList('chat, "quoted"'), null);
});

test("non-GET is refused with 405 and Allow: GET", () => {
  const e = refused(upgradeRequest({}, { method: "POST" }), 405);
  assert.equal(e.headers.get("allow"), "GET");
  assert.equal(e.code, ErrorCode.BadHandshake);
});

test("missing Upgrade or Connection tokens, bad keys: 400 with a reason", async () => {
  refused(upgradeRequest({ upgrade: "h2c" }), 400);
  refused(upgradeRequest({ connection: "keep-alive" }), 400);
  const noKey = upgradeRequest();
  noKey.headers.delete("sec-websocket-key");
  refused(noKey, 400);
  for (
    const key of [
      "",
      "dGhlIHNhbXBsZSBub25jZQ",
      "dGhlIHNhbXBsZSBub25j",
      "dGhlIHNhbXBsZSBub25jZQ=!",
      "dGhlIHNhbXBsZSBub25jZXh4",
      "dGhl*HNhbXBsZSBub25jZQ==",
    ]
  ) {
    const e = refused(upgradeRequest({ "sec-websocket-key": key }), 400);
    assert.match(e.message, /Sec-WebSocket-Key/);
    const response = e.response();
    assert.equal(response.status, 400);
    assert.match(await response.text(), /Sec-WebSocket-Key/);
  }
});

test("versions other than 13 get 426 with Sec-WebSocket-Version: 13", () => {
  for (const version of ["8", "12", "14", "", null]) {
    const request = upgradeRequest(version === null ? {} : { "sec-websocket-version": version });
    if (version === null) request.headers.delete("sec-websocket-version");
    const e = refused(request, 426);
    assert.equal(e.code, ErrorCode.UnsupportedVersion);
    assert.equal(e.headers.get("sec-websocket-version"), "13");
    assert.equal(e.response().headers.get("sec-websocket-version"), "13");
  }
});

test("the chosen subprotocol must be one the client offered", () => {
  const request = () => upgradeRequest({ "sec-websocket-protocol": "chat, superchat" });
  assert.deepEqual(validateHandshake(request()).protocols, ["chat", "superchat"]);
  const u = new WebSocketUpgrade(request(), "superchat", () => {});
  assert.equal(u.headers.get("sec-websocket-protocol"), "superchat");
  assert.equal(u.protocol, "superchat");
  refused(request(), 400, "mqtt");
  refused(upgradeRequest(), 400, "chat");
  refused(upgradeRequest({ "sec-websocket-protocol": "a b" }), 400);
});

test("header scanners stay linear on 100 KiB of pathological input (the ws ReDoS shape)", () => {
  const n = 100 * 1024;
  // Long runs of whitespace and commas between tokens, the input that made a backtracking regex explode.
  const spaces = "a" + " ".repeat(n) + "b";
  assert.equal(parseTokenList(spaces), null);
  const commas = ",".repeat(n) + "chat";
  assert.deepEqual(parseTokenList(commas), ["chat"]);
  const many = Array.from({ length: n / 4 }, (_, i) => `p${i}`).join(",");
  assert.equal(parseTokenList(many)?.length, n / 4);
  const tabs = "chat" + "\t,".repeat(n / 2) + "x y";
  assert.equal(parseTokenList(tabs), null);
  assert.equal(hasToken(" ,".repeat(n / 2) + "upgrade", "upgrade"), true);
  assert.equal(hasToken("u".repeat(n), "upgrade"), false);
  const request = upgradeRequest({ "sec-websocket-protocol": commas, connection: "x, ".repeat(n / 3) + "Upgrade" });
  assert.deepEqual(validateHandshake(request).protocols, ["chat"]);
});
