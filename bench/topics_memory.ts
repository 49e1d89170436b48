/**
 * What a subscription costs: heap bytes per subscription of `Topics` (the
 * topic's `Set` entry) plus the subscriber's own list of topics (kept as the
 * sessions keep it, `src/session/subscriptions.ts`), after a
 * forced GC, in three shapes: 10,000 subscribers on one topic, 100,000
 * topics of one subscriber each, and 1,000 subscribers on 100 topics each.
 *
 *     node --expose-gc bench/topics_memory.ts
 *     deno run -A --v8-flags=--expose-gc bench/topics_memory.ts
 *     bun bench/topics_memory.ts
 *
 * @module
 */
import process from "node:process";
import { Topics } from "../mod.ts";
import { subscribe, type TopicMember } from "../src/session/subscriptions.ts";

const gc = (globalThis as { gc?: () => void }).gc ??
  (globalThis as { Bun?: { gc(force: boolean): void } }).Bun?.gc.bind(
    null,
    true,
  );
if (gc === undefined) {
  console.error("run with --expose-gc (Node), --v8-flags=--expose-gc (Deno), or on Bun");
  process.exit(2);
}

/** A subscriber as the sessions' message cores are: it keeps the names of its topics. */
class Subscriber implements TopicMember {
  topicNames: string | Set<string> | null = null;
  deliverPublished(frame: Uint8Array): number {
    return frame.length;
  }
}

function heap(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}

function measure(name: string, subscribers: number, topicsEach: number, topicCount: number): void {
  const names = Array.from({ length: topicCount }, (_, i) => `topic-${i}`);
  const subs = Array.from({ length: subscribers }, () => new Subscriber());
  const before = heap();
  const topics = new Topics();
  let subscriptions = 0;
  for (let s = 0; s < subscribers; s++) {
    const sub = subs[s];
    for (let t = 0; t < topicsEach; t++) {
      const topic = names[(s * topicsEach + t) % topicCount];
      const before = topics.subscriberCount(topic);
      subscribe(topics, sub, topic);
      if (topics.subscriberCount(topic) !== before) subscriptions++;
    }
  }
  const after = heap();
  const perSubscription = (after - before) / subscriptions;
  console.log(
    `${name.padEnd(34)} ${subscriptions.toLocaleString("en").padStart(9)} subscriptions in ${
      topics.size.toLocaleString("en").padStart(7)
    } topics: ${perSubscription.toFixed(0).padStart(4)} B per subscription`,
  );
  // Keep everything alive until measured.
  if (topics.subscriberCount(names[0]) < 0) console.log(subs.length);
}

const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
console.log(`${runtime}: heap bytes per subscription (registry entry + the subscriber's own list), after GC`);
measure("10,000 subscribers on one topic", 10_000, 1, 1);
measure("100,000 topics of one subscriber", 100_000, 1, 100_000);
measure("1,000 subscribers x 100 topics", 1_000, 100, 100);
