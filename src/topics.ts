/**
 * Topics: publish/subscribe among the connections of one server, in the
 * manner of `Bun.serve`'s and uWebSockets' `subscribe`/`publish`. A
 * published message is framed once; the same frame bytes are copied into
 * every subscriber's output batch (a subscriber with permessage-deflate gets
 * the message compressed for its own connection). A publish never waits for
 * a slow subscriber: past its `maxQueuedBytes` it is closed with 1008, or the
 * message is dropped for it (`publishOverflow`).
 *
 * @module
 */
import { OP_BINARY, OP_TEXT } from "./frame/frame_type.ts";
import { headerLength } from "./frame/frame_writer.ts";

/** What a topic holds: one connection's side of publish/subscribe (the session objects). */
export interface TopicSubscriber {
  /**
   * Queues an already framed, unmasked message (`frame`: header and
   * payload), or the message itself when the connection must encode it its
   * own way (extensions). Returns as `ServerWebSocket.send`.
   */
  deliverPublished(frame: Uint8Array, opcode: number, payload: Uint8Array): number;
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
   * once; text for a `string`, binary otherwise. Never waits: a subscriber
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
    return subscribers.deliverPublished(frameOf(opcode, payload), opcode, payload) !== 0 ? 1 : 0;
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
    const frame = frameOf(opcode, payload);
    let queued = 0;
    // A subscriber that leaves during the loop (closed with 1008) is deleted from the set, which iteration allows.
    for (const subscriber of subscribers) {
      if (subscriber === except) continue;
      if (subscriber.deliverPublished(frame, opcode, payload) !== 0) queued++;
    }
    return queued;
  }
}

/** A server frame (unmasked, FIN, no RSV) of one message: the bytes every subscriber gets. */
function frameOf(opcode: number, payload: Uint8Array): Uint8Array {
  const length = payload.length;
  const header = headerLength(length, false);
  const frame = new Uint8Array(header + length);
  frame[0] = 0x80 | opcode;
  if (length < 126) {
    frame[1] = length;
  } else if (length < 0x10000) {
    frame[1] = 126;
    frame[2] = length >>> 8;
    frame[3] = length & 0xff;
  } else {
    frame[1] = 127;
    const hi = Math.floor(length / 0x100000000);
    frame[2] = hi >>> 24;
    frame[3] = (hi >>> 16) & 0xff;
    frame[4] = (hi >>> 8) & 0xff;
    frame[5] = hi & 0xff;
    frame[6] = length >>> 24;
    frame[7] = (length >>> 16) & 0xff;
    frame[8] = (length >>> 8) & 0xff;
    frame[9] = length & 0xff;
  }
  frame.set(payload, header);
  return frame;
}

function bytesOf(data: Uint8Array | ArrayBuffer | ArrayBufferView): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** The topics of upgrades made outside a server (`WebSocketUpgrade.upgrade` with no `topics` in its contexts). */
export const processTopics: Topics = new Topics();
