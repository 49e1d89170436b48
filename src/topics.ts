/**
 * Topics: publish/subscribe among the connections of one server, in the
 * manner of `Bun.serve`'s and uWebSockets' `subscribe`/`publish`. A
 * published message is framed once; the same frame bytes are copied into
 * every subscriber's output batch. With permessage-deflate, the message is
 * compressed once for all the subscribers whose server side has no context
 * takeover (and the same window and level), and per connection for the
 * others. A publish never waits for a slow subscriber: past its
 * `maxQueuedBytes` it is closed with 1008, or the message is dropped for it
 * (`publishOverflow`).
 *
 * @module
 */
import { OP_BINARY, OP_TEXT } from "./frame/frame_type.ts";
import { unmaskedFrame } from "./frame/frame_writer.ts";

/** What a topic holds: one connection's side of publish/subscribe (the session objects). */
export interface TopicSubscriber {
  /**
   * Queues a published message: `frame` (header and payload, unmasked,
   * built once for every subscriber), what subscribers alike derive from it
   * once (`message.shared`: a frame compressed once), or the message
   * encoded its own way. Returns as `ServerWebSocket.send`.
   *
   * @param frame The message as one server frame, the same bytes for every subscriber.
   * @param opcode 1 (text) or 2 (binary).
   * @param payload The message.
   * @param message This publish, as every subscriber of it sees it.
   */
  deliverPublished(frame: Uint8Array, opcode: number, payload: Uint8Array, message: PublishedMessage): number;
}

/**
 * One publish as its subscribers see it: the message, its frame (made once,
 * the same bytes for everyone), and what subscribers alike derive from it once (with permessage-deflate, the compressed frame of each
 * sharing configuration). Valid during the publish; the bytes it hands out
 * never change.
 *
 * @example
 * ```ts
 * import { PublishedMessage } from "@hybi/websocket";
 * const message = new PublishedMessage(1, new TextEncoder().encode("hi"));
 * console.log(message.frame); // Uint8Array(4) [ 129, 2, 104, 105 ]
 * const key = {};
 * let made = 0;
 * message.shared(key, () => ++made);
 * console.log(message.shared(key, () => ++made)); // 1
 * ```
 */
export class PublishedMessage {
  /** 1 (text) or 2 (binary). */
  readonly opcode: number;
  /** The message's bytes. */
  readonly payload: Uint8Array;
  #frame: Uint8Array | null = null;
  // Most publishes need one derived value (one deflate configuration): a Map only from the second.
  #firstKey: object | null = null;
  #firstValue: unknown = null;
  #more: Map<object, unknown> | null = null;

  /**
   * Wraps one message being published; `Topics.publish` makes one per publish.
   *
   * @param opcode 1 (text) or 2 (binary).
   * @param payload The message; must not change until written.
   */
  constructor(opcode: number, payload: Uint8Array) {
    this.opcode = opcode;
    this.payload = payload;
  }

  /** The message as one unmasked server frame (FIN, no RSV bits): header and payload. */
  get frame(): Uint8Array {
    return this.#frame ??= unmaskedFrame(0x80 | this.opcode, this.payload);
  }

  /**
   * What `make` derives from this message, made once per `key` for this
   * publish and handed to every subscriber that asks with the same key.
   *
   * @param key What derives it (a shared compressor), compared by identity.
   * @param make Called on the first request for `key` only.
   */
  shared<T>(key: object, make: () => T): T {
    if (this.#firstKey === key) return this.#firstValue as T;
    if (this.#firstKey === null) {
      this.#firstKey = key;
      return (this.#firstValue = make()) as T;
    }
    const more = this.#more ??= new Map();
    if (more.has(key)) return more.get(key) as T;
    const value = make();
    more.set(key, value);
    return value;
  }
}

const encoder = new TextEncoder();

/**
 * What carries a server's publishes to the other processes and machines that
 * serve the same topics (the Redis adapter, `@hybi/websocket/redis`, is one),
 * and brings theirs back through {@linkcode Topics.deliverRemote}. Set with
 * {@linkcode Topics.setBackplane}. Its methods are called synchronously and
 * must not throw: a backplane reports its own failures.
 */
export interface Backplane {
  /** `topic` got its first local subscriber: start listening to it elsewhere. */
  topicAdded(topic: string): void;
  /** `topic` lost its last local subscriber: stop listening to it. */
  topicRemoved(topic: string): void;
  /**
   * A local publish to forward to the other processes (the local subscribers
   * have had it already). `payload` is not to be kept past the call unless copied.
   *
   * @param topic The topic's name.
   * @param opcode 1 (text) or 2 (binary).
   * @param payload The message.
   */
  publish(topic: string, opcode: number, payload: Uint8Array): void;
}

/**
 * The topics of one server: topic → subscribers. A topic exists while it has
 * subscribers; each subscription costs one entry here (a `Set` only for a topic with several) and one in the
 * subscriber's own list.
 *
 * @example
 * ```ts
 * import { Topics } from "@hybi/websocket";
 * const topics = new Topics();
 * const got: string[] = [];
 * const subscriber = {
 *   deliverPublished(_frame: Uint8Array, _opcode: number, payload: Uint8Array): number {
 *     got.push(new TextDecoder().decode(payload));
 *     return payload.length;
 *   },
 * };
 * topics.subscribe(subscriber, "news");
 * console.log(topics.publish("news", "hello"), got); // 1 [ "hello" ]
 * ```
 */
export class Topics {
  // A topic's one subscriber as it is, a `Set` only from the second: a `Set` costs ~150 bytes, and
  // many topics (a user's own feed, a document) have one subscriber per process.
  readonly #topics: Map<string, TopicSubscriber | Set<TopicSubscriber>> = new Map();
  #backplane: Backplane | null = null;

  /**
   * Connects these topics to other processes: every local publish is
   * forwarded to `backplane`, which hears of each topic gaining its first or
   * losing its last local subscriber (of those already here, at once). A
   * previous backplane is told to drop every topic. `null` detaches.
   *
   * @param backplane The backplane, or `null`.
   */
  setBackplane(backplane: Backplane | null): void {
    const previous = this.#backplane;
    if (previous === backplane) return;
    this.#backplane = backplane;
    for (const topic of this.#topics.keys()) {
      previous?.topicRemoved(topic);
      backplane?.topicAdded(topic);
    }
  }

  /** The backplane set by {@linkcode setBackplane}, if any. */
  get backplane(): Backplane | null {
    return this.#backplane;
  }

  /**
   * Delivers a message that came from the backplane (published by another
   * process) to the local subscribers of `topic` only: it is not forwarded.
   *
   * @param topic The topic's name.
   * @param opcode 1 (text) or 2 (binary).
   * @param payload The message; must not change until written.
   * @returns How many subscribers it was queued for.
   */
  deliverRemote(topic: string, opcode: number, payload: Uint8Array): number {
    const subscribers = this.#topics.get(topic);
    if (subscribers === undefined) return 0;
    return this.#deliver(subscribers, opcode, payload, null);
  }

  /**
   * Adds `subscriber` to `topic`.
   *
   * @param subscriber The connection.
   * @param topic The topic's name.
   * @returns Whether it was not subscribed before.
   */
  subscribe(subscriber: TopicSubscriber, topic: string): boolean {
    const subscribers = this.#topics.get(topic);
    if (subscribers === undefined) {
      this.#topics.set(topic, subscriber);
      this.#backplane?.topicAdded(topic);
      return true;
    }
    if (!(subscribers instanceof Set)) {
      if (subscribers === subscriber) return false;
      this.#topics.set(topic, new Set([subscribers, subscriber]));
      return true;
    }
    const before = subscribers.size;
    subscribers.add(subscriber);
    return subscribers.size !== before;
  }

  /**
   * Removes `subscriber` from `topic`; a topic left without subscribers goes.
   *
   * @param subscriber The connection.
   * @param topic The topic's name.
   * @returns Whether it was subscribed.
   */
  unsubscribe(subscriber: TopicSubscriber, topic: string): boolean {
    const subscribers = this.#topics.get(topic);
    if (subscribers === undefined) return false;
    if (subscribers instanceof Set) {
      if (!subscribers.delete(subscriber)) return false;
      if (subscribers.size > 0) return true;
    } else if (subscribers !== subscriber) {
      return false;
    }
    this.#topics.delete(topic);
    this.#backplane?.topicRemoved(topic);
    return true;
  }

  /**
   * How many connections are subscribed to `topic`.
   *
   * @param topic The topic's name.
   */
  subscriberCount(topic: string): number {
    const subscribers = this.#topics.get(topic);
    return subscribers === undefined ? 0 : subscribers instanceof Set ? subscribers.size : 1;
  }

  /** How many topics have subscribers. */
  get size(): number {
    return this.#topics.size;
  }

  /**
   * Sends a message to every subscriber of `topic` (but `except`), framed
   * once (and, with permessage-deflate, compressed once for the subscribers
   * that can share it; see {@linkcode PublishedMessage}); text for a `string`, binary otherwise. Never waits: a subscriber
   * behind gets it queued, or is closed (or skipped) by its overflow policy.
   * With a backplane set, the message also goes to it (for the subscribers of
   * other processes), whether or not there are local subscribers.
   *
   * @param topic The topic's name.
   * @param data The message; bytes must not change until written.
   * @param except A subscriber not to send to (the publisher itself).
   * @returns How many local subscribers it was queued for.
   */
  publish(
    topic: string,
    data: string | Uint8Array | ArrayBuffer | ArrayBufferView,
    except: TopicSubscriber | null = null,
  ): number {
    const subscribers = this.#topics.get(topic);
    const backplane = this.#backplane;
    if (subscribers === undefined && backplane === null) return 0;
    const text = typeof data === "string";
    const payload = text ? encoder.encode(data) : bytesOf(data);
    const opcode = text ? OP_TEXT : OP_BINARY;
    const queued = subscribers === undefined ? 0 : this.#deliver(subscribers, opcode, payload, except);
    backplane?.publish(topic, opcode, payload);
    return queued;
  }

  /** `publishBytes` to a topic's entry: one subscriber, or a set of them. */
  #deliver(
    subscribers: TopicSubscriber | Set<TopicSubscriber>,
    opcode: number,
    payload: Uint8Array,
    except: TopicSubscriber | null,
  ): number {
    if (subscribers instanceof Set) return this.publishBytes(subscribers, opcode, payload, except);
    if (subscribers === except) return 0;
    const message = new PublishedMessage(opcode, payload);
    return subscribers.deliverPublished(message.frame, opcode, payload, message) !== 0 ? 1 : 0;
  }

  /**
   * `publish` of bytes already chosen as text or binary, to a given set.
   *
   * @param subscribers The subscribers.
   * @param opcode 1 (text) or 2 (binary).
   * @param payload The message.
   * @param except A subscriber not to send to.
   * @returns How many subscribers it was queued for.
   */
  publishBytes(
    subscribers: Iterable<TopicSubscriber>,
    opcode: number,
    payload: Uint8Array,
    except: TopicSubscriber | null,
  ): number {
    const message = new PublishedMessage(opcode, payload);
    const frame = message.frame;
    let queued = 0;
    // A subscriber that leaves during the loop (closed with 1008) is deleted from the set, which iteration allows.
    for (const subscriber of subscribers) {
      if (subscriber === except) continue;
      if (subscriber.deliverPublished(frame, opcode, payload, message) !== 0) queued++;
    }
    return queued;
  }
}

function bytesOf(data: Uint8Array | ArrayBuffer | ArrayBufferView): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** The topics of upgrades made outside a server (`WebSocketUpgrade.upgrade` with no `topics` in its contexts). */
export const processTopics: Topics = new Topics();
