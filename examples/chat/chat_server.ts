/**
 * A chat room: the page (plain HTML and JavaScript, no build step) and its
 * WebSocket on one port. A user picks a name, sees who is present, and
 * every message is published on the room's topic (`chat:lobby`), framed
 * once for all its members. Upgrades from another `Origin` than the page's
 * own are refused with 403.
 *
 * Several instances form one chat when their servers' topics share a
 * backplane ({@linkcode connectRedis}, the `redisUrl` option of
 * {@linkcode startChat}): what one publishes reaches the members of all.
 * Presence works across them without shared state: an instance publishes
 * `join` and `leave` for its own members, and when one of them joins it asks
 * (`who`) every other instance to announce its members (`here`). The page
 * merges these into the list it shows.
 *
 * Wire format, JSON text messages. From the page: `{type: "join", name}`,
 * `{type: "say", text}`. To the page: `{type: "welcome", name, present}`
 * (to the joining page only), `{type: "error", message}` (to one page);
 * and on the topic, to every page: `{type: "join", name}`,
 * `{type: "leave", name}`, `{type: "here", names}`,
 * `{type: "message", from, text, at}`, and `{type: "who"}` (for the
 * instances, which pages ignore). Messages on the topic also carry `via`,
 * the id of the instance that published them.
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import {
  type DefaultWebSocketSession,
  Frame,
  route,
  router,
  type ServeHandler,
  type Topics,
  type TopicSubscriber,
  webSocket,
} from "../../mod.ts";
import type { Server, ShutdownOptions } from "../../src/http/serve_types.ts";
import { serveOnThisRuntime } from "../runtime.ts";

/** Options of {@linkcode startChat}. */
export interface ChatOptions {
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  hostname?: string;
  /** A Redis URL (`redis://127.0.0.1:6379`): the chat is shared with the other instances on it. Default none: alone. */
  redisUrl?: string;
}

/** A running chat, from {@linkcode startChat}. */
export interface Chat {
  /** The port it listens on. */
  readonly port: number;
  /** The HTTP server. */
  readonly server: Server;
  /** Whether it is connected to other instances through Redis. */
  readonly shared: boolean;
  /** Shuts the server down, then detaches from Redis and closes its clients. */
  shutdown(options?: ShutdownOptions): Promise<void>;
}

/** The topic of the (one) room. */
export const ROOM_TOPIC = "chat:lobby";

const MAX_NAME = 32;
const MAX_TEXT = 2000;
const MAX_MESSAGE_BYTES = 16 * 1024;
/** A member whose unsent backlog grows beyond this is too slow for the room and is closed (1008). */
const MAX_BACKLOG = 1024 * 1024;
const OP_TEXT = 1;

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

const decoder = new TextDecoder();
const byName = (a: string, b: string) => a.localeCompare(b);

/**
 * The room on one instance: its own members, the names the other instances
 * announced, and publishing on the topic. It also listens to the topic
 * itself (a subscriber of the server's topics) to answer `who` and to learn
 * the other instances' members.
 */
class Room implements TopicSubscriber {
  readonly topic: string;
  /** This instance, in `via`. */
  readonly id: string = crypto.randomUUID();
  readonly #members = new Map<DefaultWebSocketSession, string>();
  /** Other instance id → the names it announced. */
  readonly #remote = new Map<string, Set<string>>();
  #topics: Topics | null = null;

  constructor(topic: string) {
    this.topic = topic;
  }

  /** Starts publishing on, and listening to, `topics` (the server's). */
  attach(topics: Topics): void {
    this.#topics = topics;
    topics.subscribe(this, this.topic);
  }

  detach(): void {
    this.#topics?.unsubscribe(this, this.topic);
  }

  local(): string[] {
    return [...this.#members.values()];
  }

  names(): string[] {
    const all = new Set(this.local());
    for (const names of this.#remote.values()) for (const name of names) all.add(name);
    return [...all].sort(byName);
  }

  has(name: string): boolean {
    const wanted = name.toLowerCase();
    return this.names().some((n) => n.toLowerCase() === wanted);
  }

  join(session: DefaultWebSocketSession, name: string): void {
    this.#members.set(session, name);
    session.subscribe(this.topic);
    this.publish({ type: "join", name });
    this.publish({ type: "who" });
  }

  leave(session: DefaultWebSocketSession): void {
    const name = this.#members.get(session);
    if (name === undefined) return;
    this.#members.delete(session);
    this.publish({ type: "leave", name });
  }

  /** To every member of every instance (this one's included), framed once. */
  publish(message: Record<string, unknown>): void {
    this.#topics?.publish(this.topic, JSON.stringify({ ...message, via: this.id }));
  }

  /** What is published on the topic, here or elsewhere. */
  deliverPublished(_frame: Uint8Array, opcode: number, payload: Uint8Array): number {
    if (opcode !== OP_TEXT) return 0;
    let message: { type?: unknown; name?: unknown; names?: unknown; via?: unknown };
    try {
      message = JSON.parse(decoder.decode(payload));
    } catch {
      return 0;
    }
    const via = message.via;
    if (typeof via !== "string" || via === this.id) return 1;
    if (message.type === "who") {
      // Answered after this publish has reached everyone.
      queueMicrotask(() => {
        const names = this.local();
        if (names.length > 0) this.publish({ type: "here", names });
      });
    } else if (message.type === "join" && typeof message.name === "string") {
      this.#remoteNames(via).add(message.name);
    } else if (message.type === "leave" && typeof message.name === "string") {
      this.#remoteNames(via).delete(message.name);
    } else if (message.type === "here" && Array.isArray(message.names)) {
      this.#remote.set(via, new Set(message.names.filter((n): n is string => typeof n === "string")));
    }
    return 1;
  }

  #remoteNames(via: string): Set<string> {
    let names = this.#remote.get(via);
    if (names === undefined) this.#remote.set(via, names = new Set());
    return names;
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
          await send(session, { type: "welcome", name, present: [...room.names(), name].sort(byName) });
          room.join(session, name);
        }
      } else if (message.type === "say" && name !== null && typeof message.text === "string") {
        const said = message.text.trim().slice(0, MAX_TEXT);
        if (said.length > 0) room.publish({ type: "message", from: name, text: said, at: Date.now() });
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

/** The request handler of `room`: the page, its assets, and the room's WebSocket at `/ws`. */
async function roomHandler(room: Room): Promise<ServeHandler> {
  const pages = await loadStatic();
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
      // A member too slow for the room is closed rather than held in memory.
      maxQueuedBytes: MAX_BACKLOG,
      // Browsers that vanish without a close (sleeping laptops) are noticed within a minute.
      pingInterval: 30_000,
      timeout: 30_000,
    }),
  ]);
}

/**
 * Connects `topics` (a server's) to the other chat instances through the
 * Redis at `url`. Resolves once connected (rejects after 5 s if Redis is
 * unreachable); `close` detaches and closes the two clients.
 */
export async function connectRedis(topics: Topics, url: string): Promise<{ close(): Promise<void> }> {
  // Imported on demand: without Redis the chat needs no Redis client.
  const { createClient } = await import("redis");
  const { createRedisBackplane } = await import("../../src/redis.ts");
  const publisher = createClient({ url });
  const subscriber = publisher.duplicate();
  let closing = false;
  const backplane = await createRedisBackplane(topics, {
    publisher,
    subscriber,
    channelPrefix: "hybi-chat:",
    // While closing, an unsubscribe cut short by the clients' end is expected.
    onError: (error, failure) => closing || console.warn(`redis (${failure}): ${error.message}`),
  });
  return {
    async close() {
      closing = true;
      await backplane.close();
      publisher.destroy();
      subscriber.destroy();
    },
  };
}

/** Starts the chat on the current runtime's engine, alone or, with `redisUrl`, shared with other instances. */
export async function startChat(options: ChatOptions = {}): Promise<Chat> {
  const room = new Room(ROOM_TOPIC);
  const server = await serveOnThisRuntime({
    port: options.port ?? 8080,
    hostname: options.hostname ?? "127.0.0.1",
  }, await roomHandler(room));
  room.attach(server.topics);
  let redis: { close(): Promise<void> } | null = null;
  if (options.redisUrl !== undefined) {
    try {
      redis = await connectRedis(server.topics, options.redisUrl);
    } catch (error) {
      await server.shutdown();
      throw error;
    }
  }
  return {
    port: server.port,
    server,
    shared: redis !== null,
    async shutdown(shutdownOptions?: ShutdownOptions) {
      try {
        await server.shutdown(shutdownOptions);
      } finally {
        // The backplane first: it unsubscribes from Redis before its clients close.
        await redis?.close();
        room.detach();
      }
    },
  };
}
