/**
 * The broadcast testee: every message any connection sends goes to every
 * open connection, the sender included, through a topic (framed once for
 * all of them). permessage-deflate is negotiated with clients that offer it,
 * as in the echo. It prints one line, `listening on <port>`, once it accepts
 * connections, and shuts down gracefully on SIGINT or SIGTERM.
 *
 *     deno run -A examples/broadcast.ts --port 9002     (npm run broadcast:deno -- --port 9002)
 *     bun examples/broadcast.ts --port 9002             (npm run broadcast:bun -- --port 9002)
 *     node examples/broadcast.ts --port 9002            (npm run broadcast:node -- --port 9002)
 *
 * `--port 0` picks a free port; `--hostname` defaults to 127.0.0.1. Any path
 * is accepted.
 *
 * @module
 */
import { PerMessageDeflate, type ServeHandler, type WebSocketHandlers, WebSocketUpgrade } from "../mod.ts";
import type { Server } from "../src/http/serve_types.ts";
import { option, portOption, serveOnThisRuntime, stopOnSignals } from "./runtime.ts";

const TOPIC = "all";

/** Each connection joins the one topic; what it sends is published to it, the sender included. */
const handlers: WebSocketHandlers = {
  open(ws) {
    ws.subscribe(TOPIC);
  },
  message(_ws, data) {
    // `server` is set before the first connection is accepted.
    server.publish(TOPIC, data);
  },
};

const deflate = new PerMessageDeflate();

const handler: ServeHandler = (request) => {
  if (request.headers.get("upgrade") === null) {
    return new Response("hybi broadcast server: connect with a WebSocket client\n", {
      status: 426,
      headers: { upgrade: "websocket", connection: "Upgrade", "content-type": "text/plain; charset=utf-8" },
    });
  }
  return new WebSocketUpgrade(request, null, handlers, { extensions: [deflate] });
};

const port = portOption("9002");
const server: Server = await serveOnThisRuntime({ port, hostname: option("hostname", "127.0.0.1") }, handler);
console.log(`listening on ${server.port}`);

stopOnSignals(server);
