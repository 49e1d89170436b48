/**
 * A WebSocket peer on `Deno.serve` + `Deno.upgradeWebSocket`, speaking the
 * protocol described in tests/_helpers/peer_servers.ts. Deno's server
 * WebSocket is the web API: it cannot send a fragment or a ping, and does not
 * negotiate permessage-deflate, so `fragmented` and `ping:` are answered
 * `unsupported:…`. The peer reads the protocol offer as RFC 6455 writes it;
 * `Deno.upgradeWebSocket` then throws (a 500) when the chosen protocol came
 * from an offer written `a,b`, since it splits the offer on ", " only: that is
 * Deno's behaviour, kept so that clients are tested against it.
 *
 *     deno run --allow-net --allow-env --allow-read peer_deno_server.ts
 *
 * Listens on 127.0.0.1, port 0, and prints `listening on PORT`; serves TLS
 * when HYBI_PEER_CERT_FILE and HYBI_PEER_KEY_FILE are set.
 */
import { choosePeerProtocol, type PeerRequestInfo, protocolOffer } from "./peer_protocol.ts";

function serveSocket(socket: WebSocket, info: PeerRequestInfo): void {
  socket.binaryType = "arraybuffer";
  socket.onmessage = (event: MessageEvent<string | ArrayBuffer>) => {
    const data = event.data;
    if (typeof data !== "string") return socket.send(data);
    if (data === "fragmented" || data.startsWith("ping:")) {
      socket.send(`unsupported:${data === "fragmented" ? "fragmented" : "ping"}`);
    } else if (data === "headers") socket.send(JSON.stringify(info));
    else if (data.startsWith("close:")) {
      const rest = data.slice(6);
      const colon = rest.indexOf(":");
      socket.close(Number(rest.slice(0, colon)), rest.slice(colon + 1));
    } else socket.send(data);
  };
}

const certFile = Deno.env.get("HYBI_PEER_CERT_FILE");
const keyFile = Deno.env.get("HYBI_PEER_KEY_FILE");
const tls = certFile && keyFile ? { cert: Deno.readTextFileSync(certFile), key: Deno.readTextFileSync(keyFile) } : {};

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  ...tls,
  onListen: ({ port }) => console.log(`listening on ${port}`),
}, (request) => {
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return new Response("websocket only", { status: 426 });
  }
  const offer = protocolOffer(request.headers.get("sec-websocket-protocol"));
  const protocol = choosePeerProtocol(offer);
  const url = new URL(request.url);
  const headers: Record<string, string> = {};
  request.headers.forEach((value, name) => headers[name] = value);
  const { socket, response } = Deno.upgradeWebSocket(request, protocol ? { protocol } : {});
  serveSocket(socket, { path: url.pathname + url.search, headers, protocol });
  return response;
});
