/**
 * Converters (src/converter.ts) with the `ws` client on real sockets on the
 * current runtime's engine: JSON by default on the default session
 * (`sendSerialized`, `deserialized()`, `receiveDeserialized()`) and on the
 * handler path (`sendSerialized`, the `deserialized` handler); text that is
 * not JSON closes with 1007 and `WS_ERR_UNDECODABLE_MESSAGE`, a binary
 * message with 1003 and `WS_ERR_UNACCEPTABLE_MESSAGE_TYPE`; a pluggable
 * binary converter given as a route option.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ErrorCode, jsonConverter, webSocket, type WebSocketConverter, WebSocketError } from "../mod.ts";
import { runtime, withServer } from "./_helpers/engine.ts";
import { until } from "./_helpers/wait.ts";
import { WsRecorder } from "./_helpers/ws_package.ts";

/** A `ws` client, open. */
async function connect(url: string): Promise<WsRecorder> {
  const peer = new WsRecorder(url);
  await peer.open();
  return peer;
}

/** Sends `frames`, then waits for the server's close; returns the replies and the close code. */
async function exchange(url: string, frames: (string | Uint8Array)[]): Promise<WsRecorder> {
  const peer = await connect(url);
  try {
    for (const f of frames) peer.client.send(f, { binary: typeof f !== "string" });
    await until(() => peer.closed, { timeout: 10_000, message: "the close" });
  } finally {
    peer.client.terminate();
  }
  return peer;
}

const INVALID_CASES = [
  { name: "text that is not JSON", frame: '{"n": 2', close: 1007, code: ErrorCode.UndecodableMessage },
  {
    name: "a binary message",
    frame: new Uint8Array([0x7b, 0x7d]),
    close: 1003,
    code: ErrorCode.UnacceptableMessageType,
  },
];

test(`default session: sendSerialized and deserialized() in JSON; bad messages close with 1007 / 1003 (${runtime})`, async () => {
  const loopErrors: unknown[] = [];
  const route = webSocket("/json", null, async (session) => {
    try {
      for await (const value of session.deserialized()) {
        await session.sendSerialized({ got: value });
      }
    } catch (error) {
      loopErrors.push(error);
      throw error;
    }
  }, { onError: () => {} });
  await withServer([route], async (port) => {
    const url = `ws://127.0.0.1:${port}/json`;
    const good = await connect(url);
    try {
      good.client.send(JSON.stringify({ n: 1, s: "é" }));
      good.client.send("[1,2,3]");
      await until(() => good.messages.length === 2, { message: "two replies" });
      assert.deepEqual(good.messages.map((m) => JSON.parse(String(m))), [{ got: { n: 1, s: "é" } }, {
        got: [1, 2, 3],
      }]);
      good.client.close(1000);
      await until(() => good.closed, { message: "the close" });
      assert.equal(good.closed!.code, 1000);
    } finally {
      good.client.terminate();
    }

    for (const [i, c] of INVALID_CASES.entries()) {
      // A valid message first: answered before the bad one closes the connection.
      const peer = await exchange(url, ['"first"', c.frame]);
      assert.deepEqual(peer.messages, ['{"got":"first"}'], c.name);
      assert.equal(peer.closed!.code, c.close, c.name);
      await until(() => loopErrors.length === i + 1, { message: "the loop's error" });
      const error = loopErrors[i];
      assert.ok(error instanceof WebSocketError, c.name);
      assert.equal(error.code, c.code, c.name);
      assert.equal(error.closeCode, c.close, c.name);
      assert.equal(peer.closed!.reason, error.message, c.name);
    }
  });
});

test(`default session: receiveDeserialized() reads one value at a time (${runtime})`, async () => {
  const got: unknown[] = [];
  const route = webSocket("/login", null, async (session) => {
    const hello = await session.receiveDeserialized();
    got.push(hello);
    await session.sendSerialized({ welcome: (hello as { user: string }).user });
    got.push(await session.receiveDeserialized());
  });
  await withServer([route], async (port) => {
    const peer = await connect(`ws://127.0.0.1:${port}/login`);
    try {
      peer.client.send('{"user":"ada"}');
      await until(() => peer.messages.length === 1, { message: "the welcome" });
      assert.deepEqual(JSON.parse(String(peer.messages[0])), { welcome: "ada" });
      peer.client.send("42");
      // The handler returns after its second read: the session closes with 1000.
      await until(() => peer.closed, { message: "the close" });
      assert.equal(peer.closed!.code, 1000);
      assert.deepEqual(got, [{ user: "ada" }, 42]);
    } finally {
      peer.client.terminate();
    }
  });
});

test(`handlers: the deserialized handler and sendSerialized in JSON; bad messages close with 1007 / 1003 (${runtime})`, async () => {
  const errors: unknown[] = [];
  const raw: string[] = [];
  const closes: number[] = [];
  const route = webSocket("/json", {
    message(_ws, data) {
      raw.push(typeof data === "string" ? data : `${data.length} bytes`);
    },
    deserialized(ws, value) {
      ws.sendSerialized({ got: value });
    },
    error(_ws, error) {
      errors.push(error);
    },
    close(_ws, code) {
      closes.push(code);
    },
  }, { onError: (e) => assert.fail(`onError got ${e}`) });
  await withServer([route], async (port) => {
    const url = `ws://127.0.0.1:${port}/json`;
    for (const [i, c] of INVALID_CASES.entries()) {
      const peer = await exchange(url, ['{"ok":true}', c.frame]);
      assert.deepEqual(peer.messages, ['{"got":{"ok":true}}'], c.name);
      assert.equal(peer.closed!.code, c.close, c.name);
      await until(() => errors.length === i + 1 && closes.length === i + 1, { message: "the error and close" });
      const error = errors[i];
      assert.ok(error instanceof WebSocketError, c.name);
      assert.equal(error.code, c.code, c.name);
      assert.equal(closes[i], c.close, c.name);
    }
    // `message` saw every message, raw, before `deserialized`.
    assert.deepEqual(raw, ['{"ok":true}', '{"n": 2', '{"ok":true}', "2 bytes"]);
  });
});

test(`a custom binary converter as a route option, on both paths (${runtime})`, async () => {
  // Numbers as 8-byte big-endian floats; text is not this converter's.
  const float64: WebSocketConverter = {
    messageType: "binary",
    encode(value) {
      const out = new Uint8Array(8);
      new DataView(out.buffer).setFloat64(0, value as number);
      return out;
    },
    decode(data) {
      const bytes = data as Uint8Array;
      if (bytes.length !== 8) throw new Error(`${bytes.length} bytes, not 8`);
      return new DataView(bytes.buffer, bytes.byteOffset, 8).getFloat64(0);
    },
  };
  const routes = [
    webSocket("/handlers", { deserialized: (ws, value) => void ws.sendSerialized((value as number) * 2) }, {
      converter: float64,
    }),
    webSocket("/session", null, async (session) => {
      for await (const value of session.deserialized()) await session.sendSerialized((value as number) * 2);
    }, { converter: float64, onError: () => {} }),
  ];
  await withServer(routes, async (port) => {
    for (const path of ["/handlers", "/session"]) {
      const peer = await connect(`ws://127.0.0.1:${port}${path}`);
      const replies: number[] = [];
      peer.client.on("message", (data) => void replies.push(data.readDoubleBE(0)));
      try {
        peer.client.send(float64.encode(1.25) as Uint8Array, { binary: true });
        await until(() => replies.length === 1, { message: `${path}: the reply` });
        assert.deepEqual(replies, [2.5]);
        peer.client.send(new Uint8Array(3), { binary: true });
        await until(() => peer.closed, { message: `${path}: the close` });
        assert.equal(peer.closed!.code, 1007, path);
        assert.match(peer.closed!.reason, /3 bytes, not 8/);
      } finally {
        peer.client.terminate();
      }
      const text = await exchange(`ws://127.0.0.1:${port}${path}`, ["1.25"]);
      assert.equal(text.closed!.code, 1003, `${path}: text refused`);
    }
  });
});

test("jsonConverter: encodes to text, refuses what JSON cannot encode", () => {
  assert.equal(jsonConverter.encode({ a: [1, "x"] }), '{"a":[1,"x"]}');
  assert.deepEqual(jsonConverter.decode('{"a":[1,"x"]}'), { a: [1, "x"] });
  assert.throws(() => jsonConverter.encode(undefined), TypeError);
  assert.throws(() => jsonConverter.encode(10n), TypeError);
  assert.equal(jsonConverter.messageType, "text");
});
