/**
 * A connection's side of its topic subscriptions, shared by the handler
 * path and the default session: the names of the topics it is in, kept on
 * its message core (one name as a plain string, a `Set` only from the
 * second: most connections are in one topic, and a `Set` costs ~150 bytes).
 *
 * @module
 */
import type { Topics, TopicSubscriber } from "../topics.ts";

/** A subscriber that keeps the names of its topics (a connection's message core). */
export interface TopicMember extends TopicSubscriber {
  /** None, one, or several topic names. */
  topicNames: string | Set<string> | null;
}

/**
 * Subscribes `core` to `topic` in `topics` (nothing when it already is).
 *
 * @param topics The server's topics.
 * @param core The connection.
 * @param topic The topic's name.
 */
export function subscribe(topics: Topics, core: TopicMember, topic: string): void {
  if (!topics.subscribe(core, topic)) return;
  const names = core.topicNames;
  if (names === null) core.topicNames = topic;
  else if (typeof names === "string") core.topicNames = new Set([names, topic]);
  else names.add(topic);
}

/**
 * Ends `core`'s subscription to `topic`.
 *
 * @param topics The server's topics.
 * @param core The connection.
 * @param topic The topic's name.
 */
export function unsubscribe(topics: Topics, core: TopicMember, topic: string): void {
  if (!topics.unsubscribe(core, topic)) return;
  const names = core.topicNames;
  if (typeof names === "string") core.topicNames = null;
  else if (names !== null) {
    names.delete(topic);
    if (names.size === 0) core.topicNames = null;
  }
}

/**
 * Whether `core` is subscribed to `topic`.
 *
 * @param core The connection.
 * @param topic The topic's name.
 */
export function isSubscribed(core: TopicMember, topic: string): boolean {
  const names = core.topicNames;
  return names === null ? false : typeof names === "string" ? names === topic : names.has(topic);
}

/**
 * The topics `core` is subscribed to.
 *
 * @param core The connection.
 */
export function subscriptionsOf(core: TopicMember): string[] {
  const names = core.topicNames;
  return names === null ? [] : typeof names === "string" ? [names] : [...names];
}

/**
 * Takes `core` out of every topic (its connection is finished).
 *
 * @param topics The server's topics.
 * @param core The connection.
 */
export function leaveAll(topics: Topics, core: TopicMember): void {
  const names = core.topicNames;
  if (names === null) return;
  core.topicNames = null;
  if (typeof names === "string") topics.unsubscribe(core, names);
  else for (const topic of names) topics.unsubscribe(core, topic);
}
