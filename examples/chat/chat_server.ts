/**
 * A chat room: the page (plain HTML and JavaScript, no build step) and its
 * WebSocket on one port. A user picks a name, sees who is present, and
 * every message is broadcast to everyone. Upgrades from another `Origin`
 * than the page's own are refused with 403.
 *
 * Wire format, JSON text messages. From the page: `{type: "join", name}`,
 * `{type: "say", text}`. To the page: `{type: "welcome", name, present}`,
 * `{type: "presence", present}`, `{type: "message", from, text, at}`,
 * `{type: "error", message}`.
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import {
  CloseCode,
  CloseReason,
  Frame,
  type RawWebSocketSession,
  route,
  router,
  type ServeHandler,
  webSocketRaw,
} from "../../mod.ts";
import type { Server } from "../../src/http/serve_types.ts";
import { serveOnThisRuntime } from "../runtime.ts";

/** Options of {@linkcode startChat}. */
export interface ChatOptions {
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  hostname?: string;
}

const MAX_NAME = 32;
const MAX_TEXT = 2000;
const MAX_MESSAGE_BYTES = 16 * 1024;
/** A member whose unsent backlog grows beyond this is too slow for the room and is closed. */
const MAX_BACKLOG = 1024 * 1024;

const STATIC: Record<string, string> = {
  "/": "index.html",
  "/chat.js": "chat.js",
  "/style.css": "style.css",
};
const CONTENT_TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
};

/**
 * Text messages from a RAW session: fragments reassembled, UTF-8 checked,
 * pings answered, the close answered.
 */
// Switch-over point: the default session does all of this itself; once it
// lands, this becomes `for await (const frame of session.incoming)` on `webSocket`.
async function* textMessages(session: RawWebSocketSession): AsyncGenerator<string> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let parts: Uint8Array[] | null = null;
  let size = 0;
  let binary = false;
  for await (const frame of session.incoming) {
    if (frame instanceof Frame.Ping) {
      await session.send(new Frame.Pong(frame.data));
      continue;
    }
    if (frame instanceof Frame.Pong) continue;
    if (frame instanceof Frame.Close) {
      await session.close(frame.readReason() ?? undefined);
      return;
    }
    if (frame instanceof Frame.Text || frame instanceof Frame.Binary) {
      if (parts !== null) {
        return void await session.close(new CloseReason(CloseCode.ProtocolError, "expected a continuation"));
      }
      parts = [];
      size = 0;
      binary = frame instanceof Frame.Binary;
    } else if (parts === null) {
      return void await session.close(new CloseReason(CloseCode.ProtocolError, "unexpected continuation"));
    }
    size += frame.data.length;
    if (size > MAX_MESSAGE_BYTES) return void await session.close(new CloseReason(CloseCode.MessageTooBig, "too long"));
    parts.push(frame.data.slice());
    if (!frame.fin) continue;
    const whole = new Uint8Array(size);
    let offset = 0;
    for (const p of parts) {
      whole.set(p, offset);
      offset += p.length;
    }
    parts = null;
    if (binary) continue; // the room speaks text only
    let text: string;
    try {
      text = decoder.decode(whole);
    } catch {
      return void await session.close(new CloseReason(CloseCode.NotConsistent, "not UTF-8"));
    }
    yield text;
  }
}

/** The room: who is present, and sending to all of them. */
class Room {
  readonly #members = new Map<RawWebSocketSession, string>();

  names(): string[] {
    return [...this.#members.values()].sort((a, b) => a.localeCompare(b));
  }

  has(name: string): boolean {
    for (const n of this.#members.values()) if (n.toLowerCase() === name.toLowerCase()) return true;
    return false;
  }

  join(session: RawWebSocketSession, name: string): void {
    this.#members.set(session, name);
    this.broadcast({ type: "presence", present: this.names() });
  }

  leave(session: RawWebSocketSession): void {
    if (this.#members.delete(session)) this.broadcast({ type: "presence", present: this.names() });
  }

  broadcast(message: unknown): void {
    const frame = new Frame.Text(JSON.stringify(message));
    for (const session of this.#members.keys()) {
      if (session.bufferedAmount > MAX_BACKLOG) {
        void session.close(new CloseReason(CloseCode.ViolatedPolicy, "too slow to keep up"));
        continue;
      }
      // Not awaited: one slow member must not hold up the others.
      session.send(frame).catch(() => {});
    }
  }
}

function send(session: RawWebSocketSession, message: unknown): Promise<void> {
  return session.send(new Frame.Text(JSON.stringify(message)));
}

async function member(room: Room, session: RawWebSocketSession): Promise<void> {
  let name: string | null = null;
  try {
    for await (const text of textMessages(session)) {
      let message: { type?: unknown; name?: unknown; text?: unknown };
      try {
        message = JSON.parse(text);
      } catch {
        await send(session, { type: "error", message: "not JSON" });
        continue;
      }
      if (message.type === "join" && name === null && typeof message.name === "string") {
        const wanted = message.name.trim();
        if (wanted.length === 0 || wanted.length > MAX_NAME) {
          await send(session, { type: "error", message: `a name has 1 to ${MAX_NAME} characters` });
        } else if (room.has(wanted)) {
          await send(session, { type: "error", message: `${wanted} is taken` });
        } else {
          name = wanted;
          await send(session, { type: "welcome", name, present: [...room.names(), name].sort() });
          room.join(session, name);
        }
      } else if (message.type === "say" && name !== null && typeof message.text === "string") {
        const said = message.text.trim().slice(0, MAX_TEXT);
        if (said.length > 0) room.broadcast({ type: "message", from: name, text: said, at: Date.now() });
      } else {
        await send(session, { type: "error", message: "unexpected message" });
      }
    }
  } finally {
    room.leave(session);
  }
}

async function loadStatic(): Promise<Map<string, Response>> {
  const pages = new Map<string, Response>();
  for (const [path, file] of Object.entries(STATIC)) {
    const body = await readFile(new URL(`./public/${file}`, import.meta.url));
    pages.set(path, new Response(body, { headers: { "content-type": CONTENT_TYPES[file.split(".").pop()!] } }));
  }
  return pages;
}

/** The chat's request handler: the page, its assets, and the room's WebSocket at `/ws`. */
export async function chatHandler(): Promise<ServeHandler> {
  const pages = await loadStatic();
  const room = new Room();
  const page = (path: string) => () => {
    const response = pages.get(path)!.clone();
    response.headers.set("cache-control", "no-cache");
    response.headers.set("content-security-policy", "default-src 'self'; connect-src 'self'");
    return response;
  };
  return router([
    ...Object.keys(STATIC).map((path) => route(path, page(path))),
    webSocketRaw("/ws", null, (session) => member(room, session), { origins: "same-origin" }),
  ]);
}

/** Starts the chat on the current runtime's engine. */
export async function startChat(options: ChatOptions = {}): Promise<Server> {
  return await serveOnThisRuntime({
    port: options.port ?? 8080,
    hostname: options.hostname ?? "127.0.0.1",
  }, await chatHandler());
}
