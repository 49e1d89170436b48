/**
 * The chat demo (examples/chat) as two instances sharing one Redis, in
 * Chromium driven by playwright-core, on the current runtime's engine: a
 * page on each instance, each sees the other in presence and gets the
 * other's messages; a page that leaves goes from the other's presence.
 * Needs /usr/bin/chromium and /usr/bin/redis-server (`.ci/run` installs
 * both); without either it is skipped.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type Chat, startChat } from "../examples/chat/chat_server.ts";
import { chromiumSkip, withChromium } from "./_helpers/chromium.ts";
import { joinChat, logEvents, present, said } from "./_helpers/chat_page.ts";
import { runtime } from "./_helpers/engine.ts";
import { RedisServer, redisSkip } from "./_helpers/redis_server.ts";

const skip = chromiumSkip || redisSkip;

test(`chat demo on two instances through Redis, in Chromium on ${runtime}`, { skip, timeout: 30_000 }, async () => {
  const redis = await RedisServer.start();
  const chats: Chat[] = [];
  try {
    chats.push(await startChat({ port: 0, hostname: "127.0.0.1", redisUrl: redis.url }));
    chats.push(await startChat({ port: 0, hostname: "127.0.0.1", redisUrl: redis.url }));
    const [one, two] = chats;
    assert.ok(one.shared && two.shared);
    assert.notEqual(one.port, two.port);
    await withChromium(async (browser) => {
      const alice = await browser.newPage();
      const bob = await browser.newPage();

      await joinChat(alice, `http://127.0.0.1:${one.port}/`, "alice");
      assert.deepEqual(await present(alice), ["alice"]);

      await joinChat(bob, `http://127.0.0.1:${two.port}/`, "bob");
      // Presence across the instances, both ways.
      await alice.locator("#present li", { hasText: "bob" }).waitFor({ timeout: 10_000 });
      await bob.locator("#present li", { hasText: "alice" }).waitFor({ timeout: 10_000 });
      assert.deepEqual(await present(alice), ["alice", "bob"]);
      assert.deepEqual(await present(bob), ["alice", "bob"]);

      // Messages across the instances, both ways; each page also sees its own.
      await alice.fill("#message", "hello from alice on one");
      await alice.click("#send");
      await bob.locator("#messages li.message", { hasText: "hello from alice on one" }).waitFor({ timeout: 10_000 });
      await bob.fill("#message", "hi alice, bob on two ✓");
      await bob.press("#message", "Enter");
      await alice.locator("#messages li.message", { hasText: "bob on two ✓" }).waitFor({ timeout: 10_000 });
      await bob.locator("#messages li.message", { hasText: "bob on two ✓" }).waitFor({ timeout: 10_000 });
      const aliceSees = await said(alice);
      assert.deepEqual(aliceSees, [["alice", "hello from alice on one"], ["bob", "hi alice, bob on two ✓"]]);
      assert.deepEqual(await said(bob), aliceSees);
      assert.deepEqual(await logEvents(alice), ["you joined as alice", "bob joined"]);

      // Bob leaves instance two: Alice, on instance one, sees it.
      await bob.close();
      await alice.locator("#present li", { hasText: "bob" }).waitFor({ state: "detached", timeout: 10_000 });
      assert.deepEqual(await present(alice), ["alice"]);
      await alice.locator("#messages li.event", { hasText: "bob left" }).waitFor();
    });
  } finally {
    await Promise.all(chats.map((chat) => chat.shutdown({ timeout: 2000 })));
    await redis.dispose();
  }
});
