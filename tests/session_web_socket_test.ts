import { test } from "node:test";
import assert from "node:assert/strict";
import { CloseReason, Frame, type SessionWebSocket, upgradeWebSocket, type WebSocketCloseEvent } from "../mod.ts";
import { hex, pipe, upgradeRequest } from "./_helpers/client.ts";

function start(configure: (socket: SessionWebSocket) => void, extra: Record<string, string> = {}, protocol?: string) {
  const p = pipe();
  const { socket, response } = upgradeWebSocket(upgradeRequest(extra), { protocol });
  configure(socket);
  assert.equal(socket.readyState, socket.CONNECTING);
  assert.throws(
    () => socket.send("too early"),
    (e: unknown) => e instanceof DOMException && e.name === "InvalidStateError",
  );
  const job = response.upgrade(p.input, p.output);
  return { client: p.client, job, socket };
}

test("browser-style socket: open, message events for text and binary, send, close event", async () => {
  const events: string[] = [];
  let closeEvent: WebSocketCloseEvent | undefined;
  const { client, job, socket } = start(
    (s) => {
      s.binaryType = "arraybuffer";
      s.onopen = () => events.push("open");
      s.onmessage = (e) => {
        events.push(typeof e.data === "string" ? `text:${e.data}` : `binary:${new Uint8Array(e.data).join(",")}`);
        s.send(e.data);
      };
      s.addEventListener("message", () => events.push("listener"));
      s.onclose = (e) => {
        closeEvent = e;
        events.push("close");
      };
    },
    { "sec-websocket-protocol": "chat" },
    "chat",
  );
  await client.send(new Frame.Text("hi"), new Frame.Binary(hex("01 02")));
  assert.equal((await client.next())?.readText(), "hi");
  assert.deepEqual((await client.next())?.data, hex("01 02"));
  assert.equal(socket.readyState, socket.OPEN);
  assert.equal(socket.protocol, "chat");
  await client.send(new Frame.Close(new CloseReason(4000, "done")));
  assert.equal((await client.next() as InstanceType<typeof Frame.Close>).readReason()?.code, 4000);
  assert.equal(await client.next(), null);
  await client.end();
  await job;
  assert.deepEqual(events, ["open", "text:hi", "listener", "binary:1,2", "listener", "close"]);
  assert.equal(socket.readyState, socket.CLOSED);
  assert.equal(closeEvent?.code, 4000);
  assert.equal(closeEvent?.reason, "done");
  assert.equal(closeEvent?.wasClean, true);
});

test("binaryType blob delivers Blobs, and Blobs can be sent in order with other data", async () => {
  const { client, job } = start((s) => {
    s.onmessage = (e) => {
      assert.ok(e.data instanceof Blob);
      s.send(e.data);
      s.send("after the blob");
    };
  });
  await client.send(new Frame.Binary(hex("0a 0b 0c")));
  assert.deepEqual((await client.next())?.data, hex("0a 0b 0c"));
  assert.equal((await client.next())?.readText(), "after the blob");
  await client.send(new Frame.Close());
  await client.next();
  await client.end();
  await job;
});

test("socket.close validates like a browser and runs the close handshake", async () => {
  let closeEvent: WebSocketCloseEvent | undefined;
  const { client, job, socket } = start((s) => {
    s.onopen = () => {
      assert.throws(() => s.close(1001), (e: unknown) => e instanceof DOMException && e.name === "InvalidAccessError");
      assert.throws(
        () => s.close(1000, "x".repeat(124)),
        (e: unknown) => e instanceof DOMException && e.name === "SyntaxError",
      );
      s.close(3001, "bye");
      s.send("discarded once closing");
    };
    s.onclose = (e) => closeEvent = e;
  });
  const close = await client.next();
  assert.ok(close instanceof Frame.Close);
  assert.deepEqual(close.readReason(), new CloseReason(3001, "bye"));
  assert.equal(socket.readyState, socket.CLOSING);
  await client.send(new Frame.Close(new CloseReason(3001)));
  assert.equal(await client.next(), null);
  await client.end();
  await job;
  assert.equal(closeEvent?.code, 3001);
  assert.equal(closeEvent?.wasClean, true);
});

test("a protocol error fires error then an unclean close", async () => {
  const events: string[] = [];
  let closeEvent: WebSocketCloseEvent | undefined;
  const { client, job } = start((s) => {
    s.onerror = () => events.push("error");
    s.onclose = (e) => {
      closeEvent = e;
      events.push("close");
    };
  });
  await client.send(new Frame.Text(hex("ff")));
  const close = await client.next();
  assert.equal((close as InstanceType<typeof Frame.Close>).readReason()?.code, 1007);
  assert.equal(await client.next(), null);
  await client.end();
  await job;
  assert.deepEqual(events, ["error", "close"]);
  assert.equal(closeEvent?.code, 1007);
  assert.equal(closeEvent?.wasClean, false);
});

test("a dropped transport fires error and close with 1006", async () => {
  let closeEvent: WebSocketCloseEvent | undefined;
  const { client, job } = start((s) => {
    s.onclose = (e) => closeEvent = e;
  });
  await client.send(new Frame.Text("x"));
  await client.end();
  await job;
  assert.equal(closeEvent?.code, 1006);
  assert.equal(closeEvent?.wasClean, false);
});
