/**
 * A WebSocket peer on `Bun.serve` with `websocket` handlers and
 * `perMessageDeflate: true`, speaking the protocol described in
 * tests/_helpers/peer_servers.ts. Bun's ServerWebSocket sends pings with a
 * payload but no fragments, so `fragmented` is answered
 * `unsupported:fragmented`. Echoes are sent with `compress: true` (Bun's
 * `send` does not compress by default, even on a connection that negotiated
 * permessage-deflate).
 *
 *     bun peer_bun_server.ts
 *
 * Listens on 127.0.0.1, port 0, and prints `listening on PORT`; serves TLS
 * when HYBI_PEER_CERT_FILE and HYBI_PEER_KEY_FILE are set.
 */
import { readFileSync } from "node:fs";
import process from "node:process";
import { choosePeerProtocol, type PeerRequestInfo, protocolOffer } from "./peer_protocol.ts";

// The part of Bun's API this script uses (Bun's own types are not a dependency).
interface BunServerWebSocket {
  readonly data: PeerRequestInfo;
  send(data: string | Uint8Array, compress?: boolean): number;
  ping(data?: string | Uint8Array): number;
  close(code?: number, reason?: string): void;
}
interface BunServer {
  readonly port: number;
  upgrade(request: Request, options: { data: PeerRequestInfo; headers?: Record<string, string> }): boolean;
}
interface BunApi {
  serve(options: {
    hostname: string;
    port: number;
    tls?: { cert: string; key: string };
    fetch(request: Request, server: BunServer): Response | undefined;
    websocket: {
      perMessageDeflate: boolean;
      message(socket: BunServerWebSocket, message: string | Uint8Array): void;
      pong(socket: BunServerWebSocket, data: Uint8Array): void;
    };
  }): BunServer;
}
const bun = (globalThis as unknown as { Bun: BunApi }).Bun;

const certFile = process.env.HYBI_PEER_CERT_FILE;
const keyFile = process.env.HYBI_PEER_KEY_FILE;

const server = bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  tls: certFile && keyFile ? { cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8") } : undefined,
  fetch(request, server) {
    const offer = protocolOffer(request.headers.get("sec-websocket-protocol"));
    const protocol = choosePeerProtocol(offer);
    const url = new URL(request.url);
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => headers[name] = value);
    const data: PeerRequestInfo = { path: url.pathname + url.search, headers, protocol };
    if (server.upgrade(request, { data, headers: protocol ? { "Sec-WebSocket-Protocol": protocol } : {} })) {
      return undefined;
    }
    return new Response("websocket only", { status: 426 });
  },
  websocket: {
    perMessageDeflate: true,
    message(socket, message) {
      if (typeof message !== "string") return void socket.send(message, true);
      if (message === "fragmented") socket.send("unsupported:fragmented");
      else if (message === "headers") socket.send(JSON.stringify(socket.data));
      else if (message.startsWith("close:")) {
        const rest = message.slice(6);
        const colon = rest.indexOf(":");
        socket.close(Number(rest.slice(0, colon)), rest.slice(colon + 1));
      } else if (message.startsWith("ping:")) socket.ping(message.slice(5));
      else socket.send(message, true);
    },
    pong(socket, data) {
      socket.send(`pong:${new TextDecoder().decode(data)}`);
    },
  },
});
console.log(`listening on ${server.port}`);
