/**
 * The conformance testee: a WebSocket echo server on any path. Every text
 * message comes back as text and every binary message as binary, compressed
 * (permessage-deflate) for clients that offer compression. It prints
 * one line, `listening on <port>`, once it accepts connections, and shuts
 * down gracefully on SIGINT or SIGTERM.
 *
 * The same file runs on each runtime, with the matching engine:
 *
 *     deno run -A examples/echo.ts --port 9001     (npm run echo:deno -- --port 9001)
 *     bun examples/echo.ts --port 9001             (npm run echo:bun -- --port 9001)
 *     node examples/echo.ts --port 9001            (npm run echo:node -- --port 9001)
 *
 * `--port 0` picks a free port (the printed line tells which);
 * `--hostname` defaults to 127.0.0.1. `--api` picks the way in, so that
 * conformance suites can drive each: `handlers` (the default: the handler
 * object, the fast path), `session` (the `for await` default session) or
 * `raw` (a RAW session that answers pings and echoes data frames as they
 * come, fragments included, with no reassembly or UTF-8 check of its own).
 *
 * @module
 */
import process from "node:process";
import {
  type DefaultWebSocketSession,
  Frame,
  PerMessageDeflate,
  type RawWebSocketSession,
  runDefaultSession,
  type ServeHandler,
  type WebSocketHandlers,
  WebSocketUpgrade,
} from "../mod.ts";
import { option, portOption, serveOnThisRuntime, stopOnSignals } from "./runtime.ts";

/**
 * Echoes on the handler path: each whole message (reassembled, text checked
 * to be UTF-8) goes back from inside the read that completed it, text as
 * text and binary as binary; pings and the close handshake are answered by
 * the core.
 */
const handlers: WebSocketHandlers = {
  message(ws, data) {
    ws.send(data);
  },
};

/**
 * Echoes on the default session: whole messages (reassembled, text checked
 * to be UTF-8) go back as they came, text as text and binary as binary; the
 * session answers pings and the close handshake itself.
 */
async function echo(session: DefaultWebSocketSession): Promise<void> {
  for await (const message of session) await session.send(message);
}

/**
 * permessage-deflate for every client that offers it, on the settings a
 * conformance testee should have: any window the client asks for (with or
 * without client_max_window_bits), context takeover both ways unless the
 * client turns it off, and every non-empty message compressed, so each
 * compression case exercises the codec rather than the threshold.
 */
const deflate = new PerMessageDeflate({ compressIfBiggerThan: 0 });

const handler: ServeHandler = (request) => {
  if (request.headers.get("upgrade") === null) {
    return new Response("hybi echo server: connect with a WebSocket client\n", {
      status: 426,
      headers: { upgrade: "websocket", connection: "Upgrade", "content-type": "text/plain; charset=utf-8" },
    });
  }
  switch (api) {
    case "session":
      return new WebSocketUpgrade(request, null, (raw) => runDefaultSession(raw, echo), { extensions: [deflate] });
    case "raw":
      return new WebSocketUpgrade(request, null, echoFrames);
    default:
      return new WebSocketUpgrade(request, null, handlers, { extensions: [deflate] });
  }
};

/**
 * Echoes on a RAW session: data frames go back as they came (continuations
 * too), pings are answered with pongs, and the peer's close is echoed. No
 * extension is negotiated: a RAW session sees frames as they are sent.
 */
async function echoFrames(session: RawWebSocketSession): Promise<void> {
  for await (const frame of session) {
    if (frame instanceof Frame.Ping) await session.send(new Frame.Pong(frame.data));
    else if (frame instanceof Frame.Close) return await session.close(frame.readReason() ?? undefined);
    else if (!(frame instanceof Frame.Pong)) await session.send(frame);
  }
}

const api = option("api", "handlers");
if (api !== "handlers" && api !== "session" && api !== "raw") {
  console.error(`--api must be handlers, session or raw, not ${api}`);
  process.exit(2);
}
const port = portOption("9001");
const server = await serveOnThisRuntime({
  port,
  hostname: option("hostname", "127.0.0.1"),
  // Large messages are the point of a conformance suite.
  maxBodySize: 64 * 1024 * 1024,
}, handler);
console.log(`listening on ${server.port}`);

stopOnSignals(server);
