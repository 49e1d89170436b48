import { test } from "node:test";
import assert from "node:assert/strict";
import { CloseReason, Frame, upgradeWebSocketStream } from "../mod.ts";
import { hex, pipe, upgradeRequest } from "./_helpers/client.ts";
import { delay, until } from "./_helpers/wait.ts";

test("WebSocketStream-style echo: readable piped to writable, closed resolves after the handshake", async () => {
  const p = pipe();
  const { stream, response } = upgradeWebSocketStream(upgradeRequest());
  void stream.opened.then(({ readable, writable }) => readable.pipeTo(writable).catch(() => {}));
  const job = response.upgrade(p.input, p.output);
  await p.client.send(new Frame.Text("one"), new Frame.Binary(hex("02")));
  assert.equal((await p.client.next())?.readText(), "one");
  assert.deepEqual((await p.client.next())?.data, hex("02"));
  await p.client.send(new Frame.Close(new CloseReason(1000, "bye")));
  const close = await p.client.next();
  assert.ok(close instanceof Frame.Close);
  assert.equal(await p.client.next(), null);
  await p.client.end();
  await job;
  assert.deepEqual(await stream.closed, { closeCode: 1000, reason: "bye" });
});

test("the readable applies backpressure: unread messages stop the server reading", async () => {
  const p = pipe();
  const { stream, response } = upgradeWebSocketStream(upgradeRequest());
  const job = response.upgrade(p.input, p.output);
  const { readable } = await stream.opened;
  const big = new Uint8Array(512 * 1024);
  // 8 MiB offered while the application reads nothing: the client's writes stall.
  let written = 0;
  const writing = (async () => {
    for (let i = 0; i < 16; i++) {
      await p.client.send(new Frame.Binary(big));
      written++;
    }
  })();
  await until(() => p.transport.paused, { message: "the server to stop reading" });
  const taken = written;
  // The client's writes make no progress while nobody reads.
  await delay(20); // negative check: nothing may happen in this time
  assert.equal(written, taken, "the server read on while nobody read");
  assert.ok(written < 16, `all ${written} messages were taken while nobody read`);
  const reader = readable.getReader();
  for (let i = 0; i < 16; i++) assert.equal(((await reader.read()).value as Uint8Array).length, big.length);
  await writing;
  stream.close({ closeCode: 1000, reason: "enough" });
  const close = await p.client.next();
  assert.deepEqual((close as InstanceType<typeof Frame.Close>).readReason(), new CloseReason(1000, "enough"));
  await p.client.send(new Frame.Close(new CloseReason(1000)));
  assert.equal(await p.client.next(), null);
  await p.client.end();
  await job;
  assert.equal((await stream.closed).closeCode, 1000);
});

test("closed rejects when the connection drops", async () => {
  const p = pipe();
  const { stream, response } = upgradeWebSocketStream(upgradeRequest());
  const job = response.upgrade(p.input, p.output);
  await stream.opened;
  await p.client.end();
  await job;
  await assert.rejects(stream.closed);
});
