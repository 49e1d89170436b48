import { Buffer } from "node:buffer";
import { test } from "node:test";
import assert from "node:assert/strict";
import { Frame, FrameReader, FrameWriter, WebSocketUpgrade } from "../mod.ts";
import { transportStreams } from "../src/http/transport_streams.ts";
import { UpgradedTransport } from "../src/http/upgraded_transport.ts";
import { TRANSPORT } from "../src/transport.ts";
import { MemoryTransport } from "./_helpers/memory_transport.ts";
import { rawEcho } from "./_helpers/engine.ts";
import { upgradeRequest } from "./_helpers/client.ts";

const bytes = (...b: number[]) => new Uint8Array(b);

/** A socket transport already started by an HTTP front, wrapped for the session as an engine does. */
function handedOver(pending: Uint8Array | null) {
  const socket = new MemoryTransport();
  const upgraded = new UpgradedTransport(socket, pending);
  socket.start(upgraded.socketSink);
  return { socket, upgraded };
}

test("both streams carry the same transport under TRANSPORT", () => {
  const { upgraded } = handedOver(null);
  const { input, output } = transportStreams(upgraded);
  const i = (input as unknown as { [TRANSPORT]: unknown })[TRANSPORT];
  assert.equal(i, upgraded);
  assert.equal((output as unknown as { [TRANSPORT]: unknown })[TRANSPORT], upgraded);
});

test("read directly, the input gives the bytes read after the head first, then the socket's, then its end", async () => {
  const { socket, upgraded } = handedOver(bytes(1, 2));
  socket.push(bytes(3)); // arrives before anyone reads: held, and the socket paused
  assert.equal(socket.paused, true);
  const { input, output } = transportStreams(upgraded);
  const reader = input.getReader();
  assert.deepEqual((await reader.read()).value, bytes(1, 2, 3));
  socket.push(bytes(4));
  assert.deepEqual((await reader.read()).value, bytes(4));
  // Node's and Bun's engines pass their Buffers on; a reader gets plain Uint8Arrays.
  socket.push(Buffer.from([5, 6]));
  const fromBuffer = (await reader.read()).value!;
  assert.equal(fromBuffer.constructor, Uint8Array);
  assert.deepEqual(fromBuffer, bytes(5, 6));
  const writer = output.getWriter();
  await writer.write(bytes(9, 9));
  assert.deepEqual(socket.bytes(), bytes(9, 9));
  socket.endInput();
  assert.equal((await reader.read()).done, true);
  await writer.close();
  assert.equal(socket.outputEnded, true);
});

test("a session over the streams without the TRANSPORT shortcut works the same", async () => {
  const { socket, upgraded } = handedOver(null);
  const { input, output } = transportStreams(upgraded);
  // Piping through identity transforms drops the shortcut: upgrade() must use the streams themselves.
  const plainInput = input.pipeThrough(new TransformStream<Uint8Array, Uint8Array>());
  const identity = new TransformStream<Uint8Array, Uint8Array>();
  identity.readable.pipeTo(output);
  const job = new WebSocketUpgrade(upgradeRequest(), null, rawEcho).upgrade(plainInput, identity.writable);
  const writer = new FrameWriter({ masking: true });
  socket.push(writer.encode(new Frame.Text("through the streams")));
  await socket.until(() => socket.bytes().length >= 21);
  const reader = new FrameReader({ role: "client" });
  reader.push(socket.bytes());
  assert.equal(reader.read()?.readText(), "through the streams");
  socket.push(writer.encode(new Frame.Close()));
  await socket.until(() => socket.outputEnded);
  socket.endInput();
  await job;
});
