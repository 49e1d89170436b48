/**
 * The `ws` package's `WebSocketServer`, typed with just what the tests use,
 * as a real server for hybi's client: an echo (text stays text, binary stays
 * binary) that records each connection's request and can be told to do more
 * per test (`onConnection`).
 */
import type { Buffer } from "node:buffer";
import type { IncomingMessage } from "node:http";
import { wsPackage } from "./ws_package.ts";

/** A server-side `ws` socket, the part the tests use. */
export interface WsServerSocket {
  on(event: "message", listener: (data: Buffer, isBinary: boolean) => void): WsServerSocket;
  on(event: "ping", listener: (data: Buffer) => void): WsServerSocket;
  on(event: "pong", listener: (data: Buffer) => void): WsServerSocket;
  on(event: "close", listener: (code: number, reason: Buffer) => void): WsServerSocket;
  send(data: string | Uint8Array, options?: { binary?: boolean; fin?: boolean; compress?: boolean }): void;
  ping(data?: Uint8Array): void;
  close(code?: number, reason?: string): void;
  readonly protocol: string;
  readonly extensions: string;
}

/** Options of {@linkcode startWsServer}. */
export interface WsServerOptions {
  /** `ws`'s `perMessageDeflate` (false by default here). */
  perMessageDeflate?: boolean | Record<string, unknown>;
  /** `ws`'s `handleProtocols`: the subprotocol to choose, or false. */
  handleProtocols?: (protocols: Set<string>) => string | false;
  /** Called for each connection before the echo is installed; return true to skip the echo. */
  onConnection?: (ws: WsServerSocket, request: IncomingMessage) => boolean | void;
}

/** A running `ws` server. */
export interface WsServer {
  readonly port: number;
  /** The request of each connection, in order. */
  readonly requests: IncomingMessage[];
  /** Each connection's close code and reason, as the server saw them. */
  readonly closes: [number, string][];
  /** Pings the server received (payload as text). */
  readonly pings: string[];
  close(): Promise<void>;
}

interface WsServerInstance {
  on(event: "connection", listener: (ws: WsServerSocket, request: IncomingMessage) => void): void;
  once(event: "listening", listener: () => void): void;
  address(): { port: number };
  clients: Set<{ terminate(): void }>;
  close(callback: () => void): void;
}

type WsServerConstructor = new (options: Record<string, unknown>) => WsServerInstance;

/** Starts a `ws` echo server on 127.0.0.1, port 0. */
export async function startWsServer(options: WsServerOptions = {}): Promise<WsServer> {
  const server = new (wsPackage.WebSocketServer as unknown as WsServerConstructor)({
    host: "127.0.0.1",
    port: 0,
    perMessageDeflate: options.perMessageDeflate ?? false,
    ...(options.handleProtocols === undefined ? {} : { handleProtocols: options.handleProtocols }),
  });
  const requests: IncomingMessage[] = [];
  const closes: [number, string][] = [];
  const pings: string[] = [];
  server.on("connection", (ws, request) => {
    requests.push(request);
    ws.on("close", (code, reason) => closes.push([code, reason.toString()]));
    ws.on("ping", (data) => pings.push(data.toString()));
    if (options.onConnection?.(ws, request) === true) return;
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  await new Promise<void>((resolve) => server.once("listening", resolve));
  return {
    port: server.address().port,
    requests,
    closes,
    pings,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  };
}
