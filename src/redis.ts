/**
 * A Redis backplane for {@linkcode Topics}: publishes travel between the
 * processes and machines that serve the same topics over Redis pub/sub
 * (tested against `redis-server` 7.0; Valkey speaks the same pub/sub
 * commands but has not been tested). One Redis channel per topic (`channelPrefix` + topic),
 * subscribed only while this process has local subscribers to the topic.
 *
 * The Redis client is the application's, from npm — `redis` (node-redis, v4
 * and later): `npm:redis@^6.4.0` for Deno, `redis` for Node and Bun. The core
 * package does not depend on it; this adapter uses only a few methods of it
 * ({@linkcode RedisClientLike}).
 *
 * A message on the wire is a small binary envelope: a version byte, the
 * 16-byte id of the publishing process, the opcode (1 text, 2 binary), then
 * the payload as it is. A process ignores its own messages coming back (its
 * local subscribers have had them already). Order is kept per publisher
 * (one connection, one channel).
 *
 * Faults: while Redis is unreachable, local delivery goes on; a publish that
 * cannot reach Redis is counted in {@linkcode RedisBackplane.failedPublishes}
 * and reported (the `onError` option and an `error` event), never thrown.
 * The client reconnects by itself and subscribes again to every channel it
 * had. Redis unreachable when the backplane is created: it rejects with a
 * clear error after `connectTimeout`.
 *
 * @example
 * ```ts
 * import { createClient } from "redis"; // npm:redis@^6.4.0 on Deno without a package.json
 * import { router, webSocket } from "@hybi/websocket";
 * import { serve } from "@hybi/websocket/deno";
 * import { createRedisBackplane } from "@hybi/websocket/redis";
 *
 * const server = await serve({ port: 8080 }, router([
 *   webSocket("/chat", {
 *     open(ws) {
 *       ws.subscribe("room");
 *     },
 *     message(ws, data) {
 *       ws.publish("room", data); // every subscriber of "room", on every machine, but the sender
 *     },
 *   }),
 * ]));
 * const publisher = createClient({ url: "redis://redis.internal:6379" });
 * const backplane = await createRedisBackplane(server.topics, {
 *   publisher,
 *   subscriber: publisher.duplicate(),
 *   onError: (error) => console.warn("redis backplane:", error.message),
 * });
 * // Later: backplane.failedPublishes; on shutdown: await backplane.close().
 * ```
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { Backplane, Topics } from "./topics.ts";

export type { Backplane } from "./topics.ts";

/**
 * The part of a node-redis client (`createClient()` of the `redis` package,
 * v4 and later) the adapter uses.
 */
export interface RedisClientLike {
  /** Whether `connect()` was called (and the client not closed since). */
  readonly isOpen: boolean;
  /** Whether the connection is up and ready for commands. */
  readonly isReady: boolean;
  /** Connects (retrying as the client's `reconnectStrategy` says). */
  connect(): Promise<unknown>;
  /** Closes the connection at once. */
  destroy(): unknown;
  /** `PUBLISH channel message`. */
  publish(channel: string, message: Buffer): Promise<unknown>;
  /** `SUBSCRIBE`, with the listener getting Buffers when `bufferMode` is true. */
  subscribe(
    channel: string,
    listener: (message: Buffer, channel: Buffer) => unknown,
    bufferMode: true,
  ): Promise<unknown>;
  /** `UNSUBSCRIBE` of one listener. */
  unsubscribe(
    channel: string,
    listener: (message: Buffer, channel: Buffer) => unknown,
    bufferMode: true,
  ): Promise<unknown>;
  /** Event listeners (`error`, `ready`, `end`). */
  // deno-lint-ignore no-explicit-any
  on(event: string, listener: (...args: any[]) => void): unknown;
  /** Removes an event listener. */
  // deno-lint-ignore no-explicit-any
  off(event: string, listener: (...args: any[]) => void): unknown;
}

/** What went wrong, in a {@linkcode RedisBackplaneErrorEvent} and `onError`. */
export type RedisBackplaneFailure = "publish" | "subscribe" | "connection";

/** Options of {@linkcode createRedisBackplane}. */
export interface RedisBackplaneOptions {
  /** The client that publishes. Connected or not (then the adapter connects it). */
  publisher: RedisClientLike;
  /** The client that subscribes (`publisher.duplicate()`); in subscriber mode from then on. */
  subscriber: RedisClientLike;
  /** Prefix of every channel name. Default `"hybi:"`. */
  channelPrefix?: string;
  /** Milliseconds to wait for Redis at creation before rejecting. Default 5000. */
  connectTimeout?: number;
  /** Told of every failure (also dispatched as an `error` event). Must not throw. */
  onError?: (error: Error, failure: RedisBackplaneFailure, topic: string | null) => void;
}

/** The `error` event of a {@linkcode RedisBackplane}. */
export class RedisBackplaneErrorEvent extends Event {
  /** The error. */
  readonly error: Error;
  /** What failed. */
  readonly failure: RedisBackplaneFailure;
  /** The topic concerned, if any. */
  readonly topic: string | null;

  /**
   * An `error` event.
   *
   * @param error The error.
   * @param failure What failed.
   * @param topic The topic concerned, if any.
   */
  constructor(error: Error, failure: RedisBackplaneFailure, topic: string | null) {
    super("error");
    this.error = error;
    this.failure = failure;
    this.topic = topic;
  }
}

const VERSION = 1;
const ID_LENGTH = 16;
const HEADER_LENGTH = 1 + ID_LENGTH + 1;
const decoder = new TextDecoder();

/**
 * Connects `topics` to Redis. Resolves once both clients are ready (the
 * adapter connects a client that is not yet), or rejects with a clear error
 * after `connectTimeout` (a client it was connecting is then closed).
 *
 * @param topics The server's topics (`server.topics`).
 * @param options The clients and settings.
 * @returns The backplane, set on `topics`.
 */
export async function createRedisBackplane(topics: Topics, options: RedisBackplaneOptions): Promise<RedisBackplane> {
  const timeout = options.connectTimeout ?? 5000;
  const { publisher, subscriber } = options;
  if (publisher === subscriber) throw new TypeError("the publisher and the subscriber must be two clients");
  const errors: Error[] = [];
  const record = (error: Error) => errors.push(error);
  // An `error` event without a listener would throw; one is kept for the backplane's life.
  publisher.on("error", record);
  subscriber.on("error", record);
  const started: RedisClientLike[] = [];
  try {
    await Promise.all([publisher, subscriber].map((client) => ready(client, started, timeout, errors)));
  } catch (error) {
    publisher.off("error", record);
    subscriber.off("error", record);
    for (const client of started) client.destroy();
    throw error;
  }
  publisher.off("error", record);
  subscriber.off("error", record);
  const backplane = new RedisBackplane(topics, options);
  topics.setBackplane(backplane);
  return backplane;
}

async function ready(client: RedisClientLike, started: RedisClientLike[], timeout: number, errors: Error[]) {
  if (client.isReady) return;
  let onReady: () => void = () => {};
  const isReady = new Promise<void>((resolve) => {
    onReady = resolve;
    client.on("ready", onReady);
  });
  if (!client.isOpen) {
    started.push(client);
    // Rejects only once the client's reconnect strategy gives up; the deadline below comes first otherwise.
    client.connect().catch((error) => errors.push(error));
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      isReady,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const last = errors.at(-1);
          reject(
            new Error(
              `Redis backplane: Redis is unreachable (not ready within ${timeout} ms)` +
                (last ? `: ${last.message}` : ""),
              { cause: last },
            ),
          );
        }, timeout);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    client.off("ready", onReady);
  }
}

/**
 * A {@linkcode Backplane} over Redis pub/sub, made by
 * {@linkcode createRedisBackplane}. Dispatches a
 * {@linkcode RedisBackplaneErrorEvent} (`error`) on every failure.
 */
export class RedisBackplane extends EventTarget implements Backplane {
  readonly #topics: Topics;
  readonly #publisher: RedisClientLike;
  readonly #subscriber: RedisClientLike;
  readonly #prefix: string;
  readonly #onError: RedisBackplaneOptions["onError"];
  readonly #id: Uint8Array = crypto.getRandomValues(new Uint8Array(ID_LENGTH));
  readonly #subscribed: Set<string> = new Set();
  readonly #listener = (message: Buffer, channel: Buffer) => this.#receive(message, channel);
  readonly #onClientError = (error: Error) => this.#fail(error, "connection", null);
  #closed = false;
  #failed = 0;
  #published = 0;
  #received = 0;

  /** Use {@linkcode createRedisBackplane}. */
  constructor(topics: Topics, options: RedisBackplaneOptions) {
    super();
    this.#topics = topics;
    this.#publisher = options.publisher;
    this.#subscriber = options.subscriber;
    this.#prefix = options.channelPrefix ?? "hybi:";
    this.#onError = options.onError;
    this.#publisher.on("error", this.#onClientError);
    this.#subscriber.on("error", this.#onClientError);
  }

  /** Publishes that did not reach Redis (Redis unreachable, or the command failed). */
  get failedPublishes(): number {
    return this.#failed;
  }

  /** Publishes handed to Redis (sent, or failed later). */
  get publishedMessages(): number {
    return this.#published;
  }

  /** Messages from other processes delivered locally. */
  get receivedMessages(): number {
    return this.#received;
  }

  /** The topics whose channels this process subscribes to. */
  get topics(): string[] {
    return [...this.#subscribed];
  }

  /** Subscribes to the topic's channel. @param topic The topic. */
  topicAdded(topic: string): void {
    if (this.#closed || this.#subscribed.has(topic)) return;
    this.#subscribed.add(topic);
    this.#subscriber.subscribe(this.#prefix + topic, this.#listener, true).catch((error) => {
      this.#fail(error, "subscribe", topic);
    });
  }

  /** Unsubscribes from the topic's channel. @param topic The topic. */
  topicRemoved(topic: string): void {
    if (!this.#subscribed.delete(topic)) return;
    this.#subscriber.unsubscribe(this.#prefix + topic, this.#listener, true).catch((error) => {
      this.#fail(error, "subscribe", topic);
    });
  }

  /**
   * Sends a local publish to the other processes; while Redis is unreachable
   * it is counted as failed at once (not queued for later).
   *
   * @param topic The topic.
   * @param opcode 1 (text) or 2 (binary).
   * @param payload The message.
   */
  publish(topic: string, opcode: number, payload: Uint8Array): void {
    if (this.#closed) return;
    if (!this.#publisher.isReady) {
      this.#fail(new Error("Redis backplane: Redis is unreachable; the message was not sent"), "publish", topic);
      return;
    }
    // node-redis takes a Buffer (a plain Uint8Array is refused).
    const envelope = Buffer.allocUnsafe(HEADER_LENGTH + payload.length);
    envelope[0] = VERSION;
    envelope.set(this.#id, 1);
    envelope[1 + ID_LENGTH] = opcode;
    envelope.set(payload, HEADER_LENGTH);
    this.#published++;
    this.#publisher.publish(this.#prefix + topic, envelope).catch((error) => this.#fail(error, "publish", topic));
  }

  /**
   * Detaches from the topics and unsubscribes from every channel; resolves
   * once Redis has answered, so the clients may be closed right after. The
   * clients stay open: they are the application's to close.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Taken before detaching, so that the unsubscribes are the ones awaited here (detaching
    // reports each topic as removed, which then finds nothing to do).
    const channels = [...this.#subscribed];
    this.#subscribed.clear();
    if (this.#topics.backplane === this) this.#topics.setBackplane(null);
    await Promise.all(
      channels.map((topic) => this.#subscriber.unsubscribe(this.#prefix + topic, this.#listener, true).catch(() => {})),
    );
    this.#publisher.off("error", this.#onClientError);
    this.#subscriber.off("error", this.#onClientError);
  }

  #receive(message: Uint8Array, channel: Uint8Array): void {
    if (this.#closed || message.length < HEADER_LENGTH || message[0] !== VERSION) return;
    const id = this.#id;
    let own = true;
    for (let i = 0; i < ID_LENGTH; i++) {
      if (message[1 + i] !== id[i]) {
        own = false;
        break;
      }
    }
    if (own) return;
    const opcode = message[1 + ID_LENGTH];
    if (opcode !== 1 && opcode !== 2) return;
    const topic = decoder.decode(channel).slice(this.#prefix.length);
    if (!this.#subscribed.has(topic)) return;
    this.#received++;
    this.#topics.deliverRemote(topic, opcode, message.subarray(HEADER_LENGTH));
  }

  #fail(error: unknown, failure: RedisBackplaneFailure, topic: string | null): void {
    const err = error instanceof Error ? error : new Error(String(error));
    if (failure === "publish") this.#failed++;
    try {
      this.#onError?.(err, failure, topic);
    } catch {
      // A throwing onError must not reach the publisher.
    }
    this.dispatchEvent(new RedisBackplaneErrorEvent(err, failure, topic));
  }
}
