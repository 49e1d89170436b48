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
  type DefaultWebSocketSession,
  Frame,
  route,
  router,
  type ServeHandler,
  webSocket,
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

/** The room: who is present, and sending to all of them. */
class Room {
  readonly #members = new Map<DefaultWebSocketSession, string>();

  names(): string[] {
    return [...this.#members.values()].sort((a, b) => a.localeCompare(b));
  }

  has(name: string): boolean {
    for (const n of this.#members.values()) if (n.toLowerCase() === name.toLowerCase()) return true;
    return false;
  }

  join(session: DefaultWebSocketSession, name: string): void {
    this.#members.set(session, name);
    this.broadcast({ type: "presence", present: this.names() });
  }

  leave(session: DefaultWebSocketSession): void {
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

function send(session: DefaultWebSocketSession, message: unknown): Promise<void> {
  return session.send(new Frame.Text(JSON.stringify(message)));
}

async function member(room: Room, session: DefaultWebSocketSession): Promise<void> {
  let name: string | null = null;
  try {
    for await (const text of session.messages()) {
      if (typeof text !== "string") continue; // the room speaks text only
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
    webSocket("/ws", null, (session) => member(room, session), {
      origins: "same-origin",
      maxMessageSize: MAX_MESSAGE_BYTES,
      // Browsers that vanish without a close (sleeping laptops) are noticed within a minute.
      pingInterval: 30_000,
      timeout: 30_000,
    }),
  ]);
}

/** Starts the chat on the current runtime's engine. */
export async function startChat(options: ChatOptions = {}): Promise<Server> {
  return await serveOnThisRuntime({
    port: options.port ?? 8080,
    hostname: options.hostname ?? "127.0.0.1",
  }, await chatHandler());
}
