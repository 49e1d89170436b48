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
import process from "node:process";
import { PerMessageDeflate, type ServeHandler, type WebSocketHandlers, WebSocketUpgrade } from "../mod.ts";
import type { Server } from "../src/http/serve_types.ts";
import { serveOnThisRuntime } from "./runtime.ts";

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

function option(name: string, fallback: string): string {
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}` && i + 1 < args.length) return args[i + 1];
    if (args[i].startsWith(`--${name}=`)) return args[i].slice(name.length + 3);
  }
  return fallback;
}

const port = Number(option("port", "9002"));
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port must be a port number, not ${option("port", "")}`);
  process.exit(2);
}
const server: Server = await serveOnThisRuntime({ port, hostname: option("hostname", "127.0.0.1") }, handler);
console.log(`listening on ${server.port}`);

let stopping = false;
const stop = async () => {
  if (stopping) process.exit(130); // a second signal: stop now
  stopping = true;
  await server.shutdown({ timeout: 5000 });
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
