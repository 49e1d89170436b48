/**
 * The `ws` package's client, typed with just what the tests use (the
 * package ships no types and `@types/ws` is not a dependency).
 */
import type { Buffer } from "node:buffer";
import type { ConnectionOptions } from "node:tls";
import { wsPackage } from "./ws_package.ts";

export interface WsClient {
  once(event: "open", listener: () => void): WsClient;
  once(event: "error", listener: (error: Error) => void): WsClient;
  once(event: "pong", listener: (data: Buffer) => void): WsClient;
  once(event: "message", listener: (data: Buffer, isBinary: boolean) => void): WsClient;
  once(event: "close", listener: (code: number, reason: Buffer) => void): WsClient;
  once(event: "unexpected-response", listener: (request: unknown, response: { statusCode: number }) => void): WsClient;
  once(
    event: "upgrade",
    listener: (response: { headers: Record<string, string | string[] | undefined> }) => void,
  ): WsClient;
  on(event: "message", listener: (data: Buffer, isBinary: boolean) => void): WsClient;
  on(event: "ping" | "pong", listener: (data: Buffer) => void): WsClient;
  on(event: "close", listener: (code: number, reason: Buffer) => void): WsClient;
  readonly protocol: string;
  /** The names of the negotiated extensions. */
  readonly extensions: string;
  ping(data?: Uint8Array): void;
  send(data: string | Uint8Array, options?: { binary?: boolean; compress?: boolean; fin?: boolean }): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
}

/** The client side of `ws`'s `perMessageDeflate` option. */
export interface WsDeflateOptions {
  serverNoContextTakeover?: boolean;
  clientNoContextTakeover?: boolean;
  serverMaxWindowBits?: number | boolean;
  clientMaxWindowBits?: number | boolean;
  /** Messages below this many bytes go uncompressed (ws's default 1024). */
  threshold?: number;
}

export type WsClientConstructor = new (
  url: string,
  protocols?: string | string[],
  options?: ConnectionOptions & {
    origin?: string;
    headers?: Record<string, string>;
    perMessageDeflate?: boolean | WsDeflateOptions;
    maxPayload?: number;
    /** Whether pings are answered by themselves (default true); false makes a peer that never pongs. */
    autoPong?: boolean;
  },
) => WsClient;

// The npm package by its path: under Bun, `import "ws"` is Bun's own built-in copy, not the client we test against.
export const WebSocketClient: WsClientConstructor = wsPackage.WebSocket as unknown as WsClientConstructor;
