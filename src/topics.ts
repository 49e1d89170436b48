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
 * The topics of one server: topic → subscribers. A topic exists while it has
 * subscribers; each subscription costs one `Set` entry here and one in the
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
  readonly #topics: Map<string, Set<TopicSubscriber>> = new Map();

  /**
   * Adds `subscriber` to `topic`.
   *
   * @param subscriber The connection.
   * @param topic The topic's name.
   * @returns Whether it was not subscribed before.
   */
  subscribe(subscriber: TopicSubscriber, topic: string): boolean {
    let subscribers = this.#topics.get(topic);
    if (subscribers === undefined) {
      subscribers = new Set();
      this.#topics.set(topic, subscribers);
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
    if (subscribers === undefined || !subscribers.delete(subscriber)) return false;
    if (subscribers.size === 0) this.#topics.delete(topic);
    return true;
  }

  /**
   * How many connections are subscribed to `topic`.
   *
   * @param topic The topic's name.
   */
  subscriberCount(topic: string): number {
    return this.#topics.get(topic)?.size ?? 0;
  }

  /** How many topics have subscribers. */
  get size(): number {
    return this.#topics.size;
  }

  /**
   * Sends a message to every subscriber of `topic` (but `except`), framed
   * once; text for a `string`, binary otherwise. Never waits: a subscriber
   * behind gets it queued, or is closed (or skipped) by its overflow policy.
   *
   * @param topic The topic's name.
   * @param data The message; bytes must not change until written.
   * @param except A subscriber not to send to (the publisher itself).
   * @returns How many subscribers it was queued for.
   */
  publish(
    topic: string,
    data: string | Uint8Array | ArrayBuffer | ArrayBufferView,
    except: TopicSubscriber | null = null,
  ): number {
    const subscribers = this.#topics.get(topic);
    if (subscribers === undefined) return 0;
    const text = typeof data === "string";
    const payload = text ? encoder.encode(data) : bytesOf(data);
    return this.publishBytes(subscribers, text ? OP_TEXT : OP_BINARY, payload, except);
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
