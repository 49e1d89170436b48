/**
 * The real `ws` 8.23 package (client and server) on every runtime, typed with
 * what the peer fixtures and their self-tests use, and a recorder of a
 * client's events.
 *
 * Why not `import "ws"`: Bun resolves the bare specifier `ws` to its own
 * built-in copy (no permessage-deflate, Bun's fixes), so the package is loaded
 * here by its path, which every runtime takes as the npm package itself.
 */
import type { Buffer } from "node:buffer";
import type { ClientRequest, IncomingMessage, Server as HttpServer } from "node:http";
import { createRequire } from "node:module";
import type { ConnectionOptions } from "node:tls";
import { until } from "./wait.ts";

/** What a `ws` client emits, by event name. */
export interface WsClientEvents {
  open: [];
  error: [Error];
  message: [Buffer, boolean];
  ping: [Buffer];
  pong: [Buffer];
  close: [number, Buffer];
  redirect: [string, ClientRequest];
  "unexpected-response": [ClientRequest, IncomingMessage];
  upgrade: [IncomingMessage];
}

/** The options of `new WebSocket(url, protocols, options)` the tests use. */
export interface WsClientOptions extends ConnectionOptions {
  origin?: string;
  headers?: Record<string, string>;
  perMessageDeflate?: boolean;
  followRedirects?: boolean;
  maxRedirects?: number;
  /** Milliseconds before an unanswered opening handshake fails. */
  handshakeTimeout?: number;
  /** Milliseconds to wait for the server to close TCP after the closing handshake (ws's default 30 000). */
  closeTimeout?: number;
  /** Whether the client answers pings (ws's default true). */
  autoPong?: boolean;
}

/** A `ws` client. */
export interface WsPackageClient {
  on<E extends keyof WsClientEvents>(event: E, listener: (...args: WsClientEvents[E]) => void): WsPackageClient;
  /** Negotiated subprotocol ("" for none). */
  readonly protocol: string;
  /** Negotiated extension names ("" for none). */
  readonly extensions: string;
  send(data: string | Uint8Array, options?: { binary?: boolean; fin?: boolean }): void;
  ping(data?: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
}

/** A connection accepted by a `ws` WebSocketServer. */
export interface WsServerSocket {
  on(event: "message", listener: (data: Buffer, isBinary: boolean) => void): WsServerSocket;
  on(event: "pong", listener: (data: Buffer) => void): WsServerSocket;
  on(event: "error", listener: (error: Error) => void): WsServerSocket;
  readonly protocol: string;
  send(data: string | Uint8Array, options?: { binary?: boolean; fin?: boolean }): void;
  ping(data?: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
}

/** A `ws` WebSocketServer attached to an HTTP(S) server. */
export interface WsServer {
  on(event: "connection", listener: (socket: WsServerSocket, request: IncomingMessage) => void): WsServer;
  readonly clients: Set<WsServerSocket>;
  close(callback?: () => void): void;
}

/** The `ws` module's two classes. */
export interface WsPackage {
  WebSocket: new (url: string, protocols?: string | string[], options?: WsClientOptions) => WsPackageClient;
  WebSocketServer: new (options: {
    server: HttpServer;
    perMessageDeflate?: boolean;
    handleProtocols?: (offer: Set<string>, request: IncomingMessage) => string | false;
  }) => WsServer;
}

const require = createRequire(import.meta.url);
/** The npm `ws` package (8.23), loaded by path so that Bun does not substitute its own. */
export const wsPackage: WsPackage = require("../../node_modules/ws/index.js") as WsPackage;

/** Everything a `ws` client emitted, in order, for tests to wait on. */
export class WsRecorder {
  readonly client: WsPackageClient;
  opened = false;
  /** Messages: text as strings, binary as bytes. */
  readonly messages: (string | Uint8Array)[] = [];
  /** Payloads of the pings the server sent (as text). */
  readonly pings: string[] = [];
  readonly errors: Error[] = [];
  closed: { code: number; reason: string } | null = null;

  constructor(url: string, protocols: string[] = [], options: WsClientOptions = {}) {
    this.client = new wsPackage.WebSocket(url, protocols, options);
    this.client.on("open", () => this.opened = true);
    this.client.on("message", (data, binary) => this.messages.push(binary ? new Uint8Array(data) : data.toString()));
    this.client.on("ping", (data) => this.pings.push(data.toString()));
    this.client.on("error", (error) => this.errors.push(error));
    // No `redirect` listener: with one, ws leaves the headers of a redirected request to it
    // (it keeps Authorization and Cookie across hosts and on a wss→ws downgrade).
    this.client.on("close", (code, reason) => this.closed = { code, reason: reason.toString() });
  }

  /** Waits for the handshake to succeed (rejects with the client's error if it fails). */
  async open(timeout = 10_000): Promise<void> {
    await until(() => {
      if (this.errors.length > 0) throw this.errors[0];
      return this.opened;
    }, { timeout, message: "the ws client to open" });
  }

  /** Waits for the `n`th message (1-based) and returns it. */
  async message(n: number, timeout = 10_000): Promise<string | Uint8Array> {
    await until(() => this.messages.length >= n, {
      timeout,
      message: () => `message ${n} (got ${this.messages.length})`,
    });
    return this.messages[n - 1];
  }

  /** Waits for the client's `close` event. */
  async close(timeout = 10_000): Promise<{ code: number; reason: string }> {
    return await until(() => this.closed, { timeout, message: () => `close (errors: ${this.errors.join("; ")})` });
  }

  /** Waits for the client's first `error`. */
  async error(timeout = 10_000): Promise<Error> {
    return await until(() => this.errors[0], { timeout, message: "an error" });
  }
}
