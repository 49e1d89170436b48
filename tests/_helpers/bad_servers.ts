/**
 * Servers that answer a WebSocket client badly, one named scenario each, for
 * client tests: raw TCP (or TLS) servers on `node:net` / `node:tls` that read
 * the opening handshake, answer it as the scenario says, and record every byte
 * the client sent, so a test can assert the client's close frame and code.
 *
 * Scenarios that send a bad frame after a correct handshake answer the
 * client's close frame with a close frame and end TCP, so a correct client
 * finishes promptly; the others do only what their JSDoc says. Correct
 * `Sec-WebSocket-Accept` values come from src/handshake.ts `computeAccept`.
 */
import { createServer as createTcpServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import type { AddressInfo } from "node:net";
import { computeAccept } from "../../src/handshake.ts";
import { concatBytes } from "./bytes.ts";
import type { TestCertificates } from "./tls.ts";

/**
 * What the server does after reading the client's opening handshake:
 *
 * - `wrong-accept`: 101 whose `Sec-WebSocket-Accept` is computed from another key.
 * - `status-200`: `200 OK` with a text body (`Connection: close`), then ends.
 * - `redirect`: `options.status` (302) with `Location: options.location`, then ends.
 * - `redirect-downgrade`: the same over TLS (`options.tls` required) to a `ws://` location.
 * - `extension-not-offered`: correct 101 plus `Sec-WebSocket-Extensions: options.extension`
 *   (`x-hybi-not-offered`).
 * - `protocol-not-offered`: correct 101 plus `Sec-WebSocket-Protocol: options.protocol` (`not-offered`).
 * - `masked-frame`: correct 101, then a masked text frame "masked" (servers must not mask).
 * - `invalid-utf8`: correct 101, then a text frame whose payload is not UTF-8
 *   ({@linkcode INVALID_UTF8}).
 * - `huge-length`: correct 101, then a binary frame header claiming 2^63 bytes (64-bit length
 *   with its most significant bit set, which RFC 6455 forbids), and no payload.
 * - `close-1005`: correct 101, then a close frame whose payload carries code 1005 (reserved, never
 *   on the wire).
 * - `silent`: accepts TCP, never answers (a client needs a handshake timeout).
 * - `stall-mid-message`: correct 101, then the header of a 10-byte text frame and 5 of its
 *   bytes ("hello"), then nothing; it does not answer a close either.
 * - `close-then-linger`: correct 101, then a close frame 1000 "bye"; it ignores the client's
 *   reply and its FIN and keeps TCP open (a client must drop it after its close timeout).
 */
export type BadScenario =
  | "wrong-accept"
  | "status-200"
  | "redirect"
  | "redirect-downgrade"
  | "extension-not-offered"
  | "protocol-not-offered"
  | "masked-frame"
  | "invalid-utf8"
  | "huge-length"
  | "close-1005"
  | "silent"
  | "stall-mid-message"
  | "close-then-linger";

/** Every scenario, for tests that loop over them. */
export const BAD_SCENARIOS: readonly BadScenario[] = [
  "wrong-accept",
  "status-200",
  "redirect",
  "redirect-downgrade",
  "extension-not-offered",
  "protocol-not-offered",
  "masked-frame",
  "invalid-utf8",
  "huge-length",
  "close-1005",
  "silent",
  "stall-mid-message",
  "close-then-linger",
];

/** The payload of the `invalid-utf8` text frame: "κόσμε" then an encoded UTF-16 surrogate (ED A0 80), then "edited". */
export const INVALID_UTF8: Uint8Array = new Uint8Array([
  0xce,
  0xba,
  0xe1,
  0xbd,
  0xb9,
  0xcf,
  0x83,
  0xce,
  0xbc,
  0xce,
  0xb5,
  0xed,
  0xa0,
  0x80,
  0x65,
  0x64,
  0x69,
  0x74,
  0x65,
  0x64,
]);

/** The body of the `status-200` answer. */
export const STATUS_200_BODY = "not a websocket server\n";

/** Options of {@linkcode startBadServer}. */
export interface BadServerOptions {
  /** Serve TLS (`wss://`) with these certificates. Required by `redirect-downgrade`. */
  tls?: TestCertificates;
  /** `Location` of `redirect` / `redirect-downgrade` (required there; `ws://…` for the downgrade). */
  location?: string;
  /** Status of `redirect` / `redirect-downgrade`. Default 302. */
  status?: number;
  /** `Sec-WebSocket-Extensions` of `extension-not-offered`. Default `x-hybi-not-offered`. */
  extension?: string;
  /** `Sec-WebSocket-Protocol` of `protocol-not-offered`. Default `not-offered`. */
  protocol?: string;
}

/** A frame the client sent (unmasked here). */
export interface ClientFrame {
  fin: boolean;
  opcode: number;
  /** Whether the client masked it (a client must). */
  masked: boolean;
  payload: Uint8Array;
}

/** One accepted connection: what the client sent, and whether it ended or dropped TCP. */
export class RecordedConnection {
  #chunks: Uint8Array[] = [];
  /** The client sent FIN (TCP `end`), by ending or by closing its socket. */
  ended = false;
  /**
   * The socket is closed on both sides. `close-then-linger` and
   * `stall-mid-message` never end their side, so there only `ended` tells that
   * the client is done (TCP cannot tell a half-closed client from a closed one
   * without writing to it).
   */
  closed = false;

  /** @internal */
  record(chunk: Uint8Array): void {
    this.#chunks.push(new Uint8Array(chunk));
  }

  /** Every byte the client sent. */
  bytes(): Uint8Array {
    return concatBytes(this.#chunks);
  }

  /** Where the opening handshake ends (after its blank line), or -1. */
  #headEnd(bytes: Uint8Array): number {
    for (let i = 3; i < bytes.length; i++) {
      if (bytes[i - 3] === 13 && bytes[i - 2] === 10 && bytes[i - 1] === 13 && bytes[i] === 10) return i + 1;
    }
    return -1;
  }

  /** The client's opening handshake (request line and headers), or "" before it is complete. */
  request(): string {
    const bytes = this.bytes();
    const end = this.#headEnd(bytes);
    return end < 0 ? "" : new TextDecoder().decode(bytes.subarray(0, end));
  }

  /** A request header's value (name case-insensitive), or null. */
  header(name: string): string | null {
    const wanted = name.toLowerCase();
    for (const line of this.request().split("\r\n").slice(1)) {
      const colon = line.indexOf(":");
      if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === wanted) return line.slice(colon + 1).trim();
    }
    return null;
  }

  /** The complete frames the client sent after its handshake, unmasked. */
  frames(): ClientFrame[] {
    const bytes = this.bytes();
    let at = this.#headEnd(bytes);
    const frames: ClientFrame[] = [];
    if (at < 0) return frames;
    while (at + 2 <= bytes.length) {
      const masked = (bytes[at + 1] & 0x80) !== 0;
      let length = bytes[at + 1] & 0x7f;
      let header = 2;
      if (length === 126) {
        if (at + 4 > bytes.length) break;
        length = (bytes[at + 2] << 8) | bytes[at + 3];
        header = 4;
      } else if (length === 127) {
        if (at + 10 > bytes.length) break;
        length = 0;
        for (let i = 2; i < 10; i++) length = length * 256 + bytes[at + i];
        header = 10;
      }
      const keyAt = at + header;
      const payloadAt = keyAt + (masked ? 4 : 0);
      if (payloadAt + length > bytes.length) break;
      const payload = bytes.slice(payloadAt, payloadAt + length);
      if (masked) { for (let i = 0; i < length; i++) payload[i] ^= bytes[keyAt + (i & 3)]; }
      frames.push({ fin: (bytes[at] & 0x80) !== 0, opcode: bytes[at] & 0x0f, masked, payload });
      at = payloadAt + length;
    }
    return frames;
  }

  /** The client's close frame: `code` null for a close without payload; `null` when it sent none. */
  closeFrame(): { code: number | null; reason: string } | null {
    const close = this.frames().find((f) => f.opcode === 8);
    if (close === undefined) return null;
    if (close.payload.length < 2) return { code: null, reason: "" };
    return {
      code: (close.payload[0] << 8) | close.payload[1],
      reason: new TextDecoder().decode(close.payload.subarray(2)),
    };
  }
}

/** A running bad server. */
export interface BadServer {
  readonly scenario: BadScenario;
  /** `ws://127.0.0.1:PORT/`, or `wss://…` over TLS. */
  readonly url: string;
  readonly port: number;
  /** The connections accepted so far, in order. */
  readonly connections: readonly RecordedConnection[];
  /** Destroys every connection and closes the listener. */
  close(): Promise<void>;
}

/** An unmasked server frame. */
function serverFrame(opcode: number, payload: Uint8Array, fin = true): Uint8Array {
  if (payload.length > 125) throw new Error("bad_servers only sends short frames");
  return concatBytes([new Uint8Array([(fin ? 0x80 : 0) | opcode, payload.length]), payload]);
}

function closePayload(code: number, reason = ""): Uint8Array {
  return concatBytes([new Uint8Array([code >> 8, code & 255]), new TextEncoder().encode(reason)]);
}

function switchingProtocols(key: string, extra: string[] = []): string {
  return [
    "HTTP/1.1 101 Switching Protocols",
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Accept: ${computeAccept(key)}`,
    ...extra,
  ].join("\r\n") + "\r\n\r\n";
}

/** What a scenario writes once the handshake has arrived (`end`: then end TCP). */
function answer(
  scenario: BadScenario,
  key: string,
  options: BadServerOptions,
): { bytes: (string | Uint8Array)[]; end: boolean } {
  switch (scenario) {
    case "wrong-accept":
      return {
        bytes: [switchingProtocols("").replace(computeAccept(""), computeAccept(`not ${key}`))],
        end: false,
      };
    case "status-200":
      return {
        bytes: [
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n" +
          `Content-Length: ${STATUS_200_BODY.length}\r\n\r\n${STATUS_200_BODY}`,
        ],
        end: true,
      };
    case "redirect":
    case "redirect-downgrade":
      return {
        bytes: [
          `HTTP/1.1 ${options.status ?? 302} Redirect\r\nLocation: ${options.location}\r\n` +
          "Content-Length: 0\r\nConnection: close\r\n\r\n",
        ],
        end: true,
      };
    case "extension-not-offered":
      return {
        bytes: [switchingProtocols(key, [`Sec-WebSocket-Extensions: ${options.extension ?? "x-hybi-not-offered"}`])],
        end: false,
      };
    case "protocol-not-offered":
      return {
        bytes: [switchingProtocols(key, [`Sec-WebSocket-Protocol: ${options.protocol ?? "not-offered"}`])],
        end: false,
      };
    case "masked-frame": {
      const mask = [0x12, 0x34, 0x56, 0x78];
      const payload = new TextEncoder().encode("masked").map((b, i) => b ^ mask[i & 3]);
      return {
        bytes: [switchingProtocols(key), new Uint8Array([0x81, 0x80 | payload.length, ...mask, ...payload])],
        end: false,
      };
    }
    case "invalid-utf8":
      return { bytes: [switchingProtocols(key), serverFrame(1, INVALID_UTF8)], end: false };
    case "huge-length":
      return {
        bytes: [switchingProtocols(key), new Uint8Array([0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0])],
        end: false,
      };
    case "close-1005":
      return { bytes: [switchingProtocols(key), serverFrame(8, closePayload(1005))], end: false };
    case "silent":
      return { bytes: [], end: false };
    case "stall-mid-message":
      return {
        bytes: [switchingProtocols(key), concatBytes([new Uint8Array([0x81, 10]), new TextEncoder().encode("hello")])],
        end: false,
      };
    case "close-then-linger":
      return { bytes: [switchingProtocols(key), serverFrame(8, closePayload(1000, "bye"))], end: false };
  }
}

/** Scenarios that answer the client's close frame with one of their own and end TCP. */
const REPLIES_TO_CLOSE: ReadonlySet<BadScenario> = new Set([
  "wrong-accept",
  "extension-not-offered",
  "protocol-not-offered",
  "masked-frame",
  "invalid-utf8",
  "huge-length",
  "close-1005",
]);

/**
 * Starts a server on 127.0.0.1, port 0, that answers every connection as
 * `scenario` says (see {@linkcode BadScenario}).
 *
 * @example
 * ```ts
 * const server = await startBadServer("invalid-utf8");
 * try {
 *   // connect a client to server.url, then:
 *   console.log(server.connections[0]?.closeFrame()); // { code: 1007, reason: "…" }
 * } finally {
 *   await server.close();
 * }
 * ```
 */
export async function startBadServer(scenario: BadScenario, options: BadServerOptions = {}): Promise<BadServer> {
  if (scenario === "redirect" && options.location === undefined) throw new Error("redirect needs options.location");
  if (scenario === "redirect-downgrade" && (!options.tls || !options.location?.startsWith("ws://"))) {
    throw new Error("redirect-downgrade needs options.tls and a ws:// options.location");
  }
  const connections: RecordedConnection[] = [];
  const sockets = new Set<Socket>();
  const onConnection = (socket: Socket) => {
    const connection = new RecordedConnection();
    connections.push(connection);
    sockets.add(socket);
    let answered = false;
    let closeAnswered = false;
    socket.on("error", () => {}); // a client that drops the connection
    socket.on("close", () => {
      connection.closed = true;
      sockets.delete(socket);
    });
    socket.on("end", () => {
      connection.ended = true;
      // close-then-linger keeps its side open (allowHalfOpen); the others end theirs too.
      if (scenario !== "close-then-linger" && scenario !== "stall-mid-message") socket.end();
    });
    socket.on("data", (chunk: Uint8Array) => {
      connection.record(chunk);
      if (!answered) {
        const key = connection.header("sec-websocket-key");
        if (key === null) return; // the handshake is not complete yet
        answered = true;
        const { bytes, end } = answer(scenario, key, options);
        for (const part of bytes) socket.write(part);
        if (end) socket.end();
      } else if (!closeAnswered && REPLIES_TO_CLOSE.has(scenario)) {
        const close = connection.closeFrame();
        if (close === null) return;
        closeAnswered = true;
        socket.end(serverFrame(8, close.code === null ? new Uint8Array(0) : closePayload(close.code)));
      }
    });
  };
  const server: Server = options.tls
    ? createTlsServer({ cert: options.tls.cert, key: options.tls.key, allowHalfOpen: true }, onConnection)
    : createTcpServer({ allowHalfOpen: true }, onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    scenario,
    url: `${options.tls ? "wss" : "ws"}://127.0.0.1:${port}/`,
    port,
    connections,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
