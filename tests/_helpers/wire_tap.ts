/**
 * A TCP proxy that watches WebSocket connections go by: it forwards bytes
 * both ways unchanged and records the opening handshake's heads and every
 * frame (FIN, RSV bits, opcode, unmasked payload) in each direction. Tests
 * put it between a real client and the server to see what was negotiated
 * and what travelled on the wire (was a message compressed, how many bytes
 * did it take) without touching either end. Its frame parsing is its own
 * (RFC 6455 §5.2), independent of `src/frame/`; it runs on `node:net`,
 * which Deno, Bun and Node all provide.
 */
import { connect, createServer, type Server, type Socket } from "node:net";
import { concatBytes } from "./bytes.ts";

export interface TappedFrame {
  fin: boolean;
  /** RSV bits as 0..7 (RSV1 = 4). */
  rsv: number;
  opcode: number;
  /** The payload, unmasked. */
  payload: Uint8Array;
}

/** A whole data message as it travelled: its frames, joined payload and first frame's RSV bits. */
export interface TappedMessage {
  opcode: number;
  rsv: number;
  frames: TappedFrame[];
  /** Payload bytes on the wire (compressed, when RSV1 is set). */
  payload: Uint8Array;
}

/** Parses one direction's frames from chunks as they come, after the HTTP head. */
class FrameTap {
  readonly frames: TappedFrame[] = [];
  /** Bytes seen after the head. */
  bytes = 0;
  head: string | null = null;

  push(chunk: Uint8Array): void {
    if (this.head === null) {
      const data = concatBytes([...this.#pending, chunk]);
      this.#pending = [];
      this.#pendingLength = 0;
      const end = indexOfHeadEnd(data);
      if (end < 0) {
        this.#pending.push(data);
        this.#pendingLength = data.length;
        return;
      }
      this.head = new TextDecoder().decode(data.subarray(0, end));
      chunk = data.subarray(end + 4);
    }
    this.bytes += chunk.length;
    this.#pending.push(chunk);
    this.#pendingLength += chunk.length;
    // A large frame arrives in many chunks: join them only once it is all here.
    if (this.#pendingLength < this.#need) return;
    const data = concatBytes(this.#pending);
    let at = 0;
    for (;;) {
      const parsed = parseFrame(data, at);
      if (typeof parsed === "number") {
        this.#need = parsed;
        break;
      }
      this.frames.push(parsed.frame);
      at = parsed.end;
    }
    this.#pending = at === data.length ? [] : [data.slice(at)];
    this.#pendingLength = data.length - at;
  }

  #pending: Uint8Array[] = [];
  #pendingLength = 0;
  /** Bytes the next frame needs at least (header, or header and payload once its length is known). */
  #need = 2;

  /** Data messages (fragments joined), in order; control frames are left out. */
  messages(): TappedMessage[] {
    const out: TappedMessage[] = [];
    let current: TappedMessage | null = null;
    for (const f of this.frames) {
      if (f.opcode >= 8) continue;
      if (f.opcode !== 0) current = { opcode: f.opcode, rsv: f.rsv, frames: [], payload: new Uint8Array(0) };
      if (current === null) throw new Error("a continuation frame with no message to continue on the wire");
      current.frames.push(f);
      if (f.fin) {
        current.payload = concatBytes(current.frames.map((x) => x.payload));
        out.push(current);
        current = null;
      }
    }
    return out;
  }
}

function indexOfHeadEnd(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}

/** The frame at `at`, or how many bytes from `at` are needed before it can be parsed. */
function parseFrame(b: Uint8Array, at: number): { frame: TappedFrame; end: number } | number {
  if (b.length - at < 2) return 2;
  const b0 = b[at], b1 = b[at + 1];
  const masked = (b1 & 0x80) !== 0;
  let n = b1 & 0x7f;
  let p = at + 2;
  if (n === 126) {
    if (b.length - p < 2) return 4;
    n = (b[p] << 8) | b[p + 1];
    p += 2;
  } else if (n === 127) {
    if (b.length - p < 8) return 10;
    n = 0;
    for (let i = 0; i < 8; i++) n = n * 256 + b[p + i];
    p += 8;
  }
  const keyAt = p;
  if (masked) p += 4;
  if (b.length - p < n) return p - at + n;
  const payload = b.slice(p, p + n);
  if (masked) { for (let i = 0; i < n; i++) payload[i] ^= b[keyAt + (i & 3)]; }
  return {
    frame: { fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, payload },
    end: p + n,
  };
}

/** One proxied connection. */
export class TappedConnection {
  readonly fromClient: FrameTap = new FrameTap();
  readonly fromServer: FrameTap = new FrameTap();
  readonly closed: Promise<void>;
  #resolveClosed!: () => void;

  constructor() {
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
  }

  /** The request target, e.g. `/echo?id=3`. */
  get path(): string {
    return this.fromClient.head?.split(" ")[1] ?? "";
  }

  /** A request header (name case-insensitive), or null. */
  requestHeader(name: string): string | null {
    return header(this.fromClient.head, name);
  }

  /** A response header (name case-insensitive), or null. */
  responseHeader(name: string): string | null {
    return header(this.fromServer.head, name);
  }

  /** @internal */
  ended(): void {
    this.#resolveClosed();
  }
}

function header(head: string | null, name: string): string | null {
  if (head === null) return null;
  const lower = name.toLowerCase();
  for (const line of head.split("\r\n").slice(1)) {
    const i = line.indexOf(":");
    if (i > 0 && line.slice(0, i).trim().toLowerCase() === lower) return line.slice(i + 1).trim();
  }
  return null;
}

export class WireTap {
  readonly port: number;
  readonly connections: TappedConnection[] = [];
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  private constructor(server: Server, port: number) {
    this.#server = server;
    this.port = port;
  }

  /** Listens on 127.0.0.1 (a free port) and forwards every connection to `targetPort`. */
  static async start(targetPort: number): Promise<WireTap> {
    let tap: WireTap | null = null;
    const server = createServer((client) => {
      const conn = new TappedConnection();
      tap!.connections.push(conn);
      const upstream = connect({ host: "127.0.0.1", port: targetPort });
      client.setNoDelay(true);
      upstream.setNoDelay(true);
      for (const s of [client, upstream]) {
        tap!.#sockets.add(s);
        s.on("close", () => tap!.#sockets.delete(s));
      }
      // Until the upstream connects, what the client sends is held by net's own buffering.
      client.on("data", (chunk: Uint8Array) => {
        conn.fromClient.push(chunk);
        if (!upstream.write(chunk)) client.pause();
      });
      upstream.on("drain", () => client.resume());
      upstream.on("data", (chunk: Uint8Array) => {
        conn.fromServer.push(chunk);
        if (!client.write(chunk)) upstream.pause();
      });
      client.on("drain", () => upstream.resume());
      client.on("end", () => upstream.end());
      upstream.on("end", () => client.end());
      let closed = 0;
      const onClose = () => {
        if (++closed === 2) conn.ended();
      };
      client.on("close", () => {
        upstream.destroy();
        onClose();
      });
      upstream.on("close", () => {
        client.destroy();
        onClose();
      });
      client.on("error", () => {});
      upstream.on("error", () => {});
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    tap = new WireTap(server, address.port);
    return tap;
  }

  /** The connection whose request target is `path`. */
  connection(path: string): TappedConnection {
    const found = this.connections.find((c) => c.path === path);
    if (found === undefined) throw new Error(`no tapped connection to ${path}`);
    return found;
  }

  /** Stops listening and drops what is still connected. */
  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
