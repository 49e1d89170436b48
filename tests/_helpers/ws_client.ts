/**
 * The `ws` package's client, typed with just what the tests use (the
 * package ships no types and `@types/ws` is not a dependency).
 */
import type { Buffer } from "node:buffer";
import type { ConnectionOptions } from "node:tls";
import wsModule from "ws";

export interface WsClient {
  once(event: "open", listener: () => void): WsClient;
  once(event: "error", listener: (error: Error) => void): WsClient;
  once(event: "pong", listener: (data: Buffer) => void): WsClient;
  once(event: "message", listener: (data: Buffer, isBinary: boolean) => void): WsClient;
  once(event: "close", listener: (code: number, reason: Buffer) => void): WsClient;
  once(event: "unexpected-response", listener: (request: unknown, response: { statusCode: number }) => void): WsClient;
  readonly protocol: string;
  ping(data?: Uint8Array): void;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
}

export type WsClientConstructor = new (
  url: string,
  protocols?: string | string[],
  options?: ConnectionOptions & { origin?: string; headers?: Record<string, string> },
) => WsClient;

export const WebSocketClient: WsClientConstructor = wsModule as unknown as WsClientConstructor;
