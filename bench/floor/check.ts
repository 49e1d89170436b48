/**
 * Checks that an echo server really echoes, byte for byte (wsbench checks
 * only each message's length and type): opens one connection, checks the
 * 101's `Sec-WebSocket-Accept`, sends 222 masked data frames (0 B to 1 MiB,
 * 7-, 16- and 64-bit lengths, text and binary, then 200 small ones) and a
 * ping, cut into random pieces of 1 to 9,000 bytes, and compares every answer
 * with what was sent (the ping's must be a pong with its payload, in any
 * place); then sends a close and expects it back. Meant for the floor servers of this folder; any echo server passes
 * (hybi's examples/echo.ts too).
 *
 *     node bench/floor/node.ts --port 9001 & node bench/floor/check.ts 9001
 *
 * With `--broadcast K`, for a broadcast server (every message to all open
 * connections, the sender included): K more connections are opened first,
 * and every one of them must receive the same data frames byte for byte, in
 * order, and nothing else (the pong and the close answer go to the sender
 * alone); the sent frames also include one message in 3 fragments, expected
 * back as one frame.
 *
 *     bun bench/floor/broadcast_bun.ts --port 9002 & node bench/floor/check.ts 9002 --broadcast 3
 *
 * @module
 */
import { connect } from "node:net";
import { createHash, randomBytes } from "node:crypto";
import { Buffer } from "node:buffer";
import process from "node:process";

const port = Number(process.argv[2]);
const broadcastAt = process.argv.indexOf("--broadcast");
const listenerCount = broadcastAt < 0 ? 0 : Number(process.argv[broadcastAt + 1]);
if (!Number.isInteger(port) || port <= 0 || !Number.isInteger(listenerCount) || listenerCount < 0) {
  console.error("usage: node bench/floor/check.ts PORT [--broadcast LISTENERS]");
  process.exit(2);
}

function fail(message: string): never {
  console.log(`FAILED: ${message}`);
  process.exit(1);
}

function frame(opcode: number, payload: Uint8Array, fin = true): Buffer {
  const mask = randomBytes(4);
  const n = payload.length;
  const ext = n < 126 ? 0 : n < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + ext + 4);
  head[0] = (fin ? 0x80 : 0) | opcode;
  if (ext === 0) head[1] = 0x80 | n;
  else if (ext === 2) {
    head[1] = 0x80 | 126;
    head.writeUInt16BE(n, 2);
  } else {
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  mask.copy(head, 2 + ext);
  const body = Buffer.from(payload);
  for (let i = 0; i < n; i++) body[i] ^= mask[i & 3];
  return Buffer.concat([head, body]);
}

const sent: { opcode: number; data: Buffer }[] = [];
for (
  const size of [0, 1, 2, 3, 4, 5, 31, 32, 63, 64, 65, 67, 125, 126, 127, 200, 1000, 65535, 65536, 70001, 2 ** 20, 3]
) {
  // Text frames carry ASCII letters (valid UTF-8, so a validating server echoes them too).
  const data = randomBytes(size);
  if (size % 2 === 0) { for (let i = 0; i < size; i++) data[i] = 97 + data[i] % 26; }
  sent.push({ opcode: size % 2 ? 2 : 1, data });
}
const ping = randomBytes(7);
for (let i = 0; i < 200; i++) sent.push({ opcode: 2, data: randomBytes((i * 37) % 300) });
// The ping goes after the 1 MiB frame (its pong may overtake that frame's echo: control frames may be interleaved).
const frames = [
  ...sent.slice(0, 22).map((f) => frame(f.opcode, f.data)),
  frame(9, ping),
  ...sent.slice(22).map((f) => frame(f.opcode, f.data)),
];
if (listenerCount > 0) {
  // A message in 3 fragments (a ping between two of them), expected back whole.
  const whole = randomBytes(5000);
  sent.push({ opcode: 2, data: whole });
  frames.push(
    frame(2, whole.subarray(0, 100), false),
    frame(0, whole.subarray(100, 4000), false),
    frame(9, Buffer.alloc(0)),
    frame(0, whole.subarray(4000), true),
    frame(2, Buffer.from("after")),
  );
  sent.push({ opcode: 2, data: Buffer.from("after") });
}
const wire = Buffer.concat(frames);
let extraPongs = listenerCount > 0 ? 1 : 0;
let pong = false;

const key = randomBytes(16).toString("base64");
const accept = createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
/** Parses one unmasked frame at the front of `buf`: null until it is whole. */
function parse(buf: Buffer): { opcode: number; fin: boolean; payload: Buffer; size: number } | null {
  if (buf.length < 2) return null;
  if (buf[1] & 0x80) fail("a masked frame from the server");
  let length = buf[1] & 0x7f;
  let h = 2;
  if (length === 126) {
    if (buf.length < 4) return null;
    length = buf.readUInt16BE(2);
    h = 4;
  } else if (length === 127) {
    if (buf.length < 10) return null;
    length = Number(buf.readBigUInt64BE(2));
    h = 10;
  }
  if (buf.length < h + length) return null;
  return { opcode: buf[0] & 0x0f, fin: (buf[0] & 0x80) !== 0, payload: buf.subarray(h, h + length), size: h + length };
}

/** A connection that only listens: it must receive every sent data frame, in order, and nothing else. */
function listen(index: number): Promise<void> {
  return new Promise((opened) => {
    const listener = connect(port, "127.0.0.1");
    let got: Buffer = Buffer.alloc(0);
    let upgraded = false;
    let matchedHere = 0;
    listener.on("error", (error) => fail(`listener ${index}: ${error}`));
    listener.on("connect", () => {
      const listenerKey = randomBytes(16).toString("base64");
      listener.write(
        `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${listenerKey}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    listener.on("data", (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (!upgraded) {
        const end = got.indexOf("\r\n\r\n");
        if (end < 0) return;
        if (!got.subarray(0, 12).toString("latin1").startsWith("HTTP/1.1 101")) fail(`listener ${index}: no 101`);
        got = got.subarray(end + 4);
        upgraded = true;
        opened();
      }
      for (let f = parse(got); f !== null; f = parse(got)) {
        const want = sent[matchedHere];
        if (want === undefined) fail(`listener ${index}: an extra frame, opcode ${f.opcode}`);
        if (f.opcode !== want.opcode || !f.fin || !f.payload.equals(want.data)) {
          fail(`listener ${index}, frame ${matchedHere}: opcode ${f.opcode}, ${f.payload.length} B, not as sent`);
        }
        got = got.subarray(f.size);
        if (++matchedHere === sent.length) {
          listenersDone++;
          listener.destroy();
          finish();
        }
      }
    });
  });
}
let listenersDone = 0;
let senderDone = false;
function finish(): void {
  if (!senderDone || listenersDone < listenerCount) return;
  clearTimeout(timer);
  console.log(
    `ok: ${sent.length} frames echoed byte for byte, the ping answered with a pong, close echoed` +
      (listenerCount > 0 ? `; the same ${sent.length} frames reached ${listenerCount} other connections` : ""),
  );
  socket.destroy();
}

let received: Buffer = Buffer.alloc(0);
let open = false;
let matched = 0;
let closing = false;
const timer = setTimeout(() => fail(`timed out after ${matched} of ${sent.length} answers`), 20_000);
for (let i = 0; i < listenerCount; i++) await listen(i);
const socket = connect(port, "127.0.0.1");

socket.on("error", (error) => fail(String(error)));
socket.on("connect", () => {
  socket.write(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
});
socket.on("data", (chunk: Buffer) => {
  received = Buffer.concat([received, chunk]);
  if (!open) {
    const end = received.indexOf("\r\n\r\n");
    if (end < 0) return;
    const head = received.subarray(0, end).toString("latin1");
    if (!head.startsWith("HTTP/1.1 101")) fail(`no 101: ${head.split("\r\n")[0]}`);
    if (!head.toLowerCase().includes(`sec-websocket-accept: ${accept.toLowerCase()}`)) fail("wrong accept value");
    received = received.subarray(end + 4);
    open = true;
    void sendInPieces();
  }
  check();
});

async function sendInPieces(): Promise<void> {
  for (let at = 0, i = 0; at < wire.length; i++) {
    const n = i % 5 === 0 ? 1 : Math.min(wire.length - at, 1 + Math.floor(Math.random() * 9000));
    socket.write(wire.subarray(at, at + n));
    at += n;
    if (i % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

function check(): void {
  while (matched < sent.length) {
    if (received.length < 2) return;
    if (received[1] & 0x80) fail("a masked answer");
    let length = received[1] & 0x7f;
    let h = 2;
    if (length === 126) {
      if (received.length < 4) return;
      length = received.readUInt16BE(2);
      h = 4;
    } else if (length === 127) {
      if (received.length < 10) return;
      length = Number(received.readBigUInt64BE(2));
      h = 10;
    }
    if (received.length < h + length) return;
    const opcode = received[0] & 0x0f;
    if (opcode === 10 && !pong) {
      if (!received.subarray(h, h + length).equals(ping)) fail("the pong does not carry the ping's payload");
      pong = true;
      received = received.subarray(h + length);
      continue;
    }
    if (opcode === 10 && extraPongs > 0 && length === 0) {
      extraPongs--;
      received = received.subarray(h);
      continue;
    }
    const want = sent[matched];
    if (opcode !== want.opcode || !(received[0] & 0x80)) {
      fail(`answer ${matched}: opcode ${opcode}, FIN ${received[0] >> 7}, sent opcode ${want.opcode}`);
    }
    if (!received.subarray(h, h + length).equals(want.data)) {
      fail(`answer ${matched}: ${length} bytes differ from the ${want.data.length} sent`);
    }
    received = received.subarray(h + length);
    matched++;
  }
  if (!pong) return;
  if (closing) {
    if (received.length >= 4) {
      if (received[0] !== 0x88 || received[1] !== 2 || received[2] !== 3 || received[3] !== 232) {
        fail("close not echoed");
      }
      senderDone = true;
      finish();
    }
    return;
  }
  closing = true;
  socket.write(frame(8, Uint8Array.of(3, 232)));
  check();
}
