/**
 * The chat demo (examples/chat) in Chromium, driven by playwright-core, on
 * the current runtime's engine: two pages see each other's presence and
 * exchange messages; a page from another origin is refused. Chromium is
 * the Debian package at /usr/bin/chromium (`.ci/run` installs it); without
 * it this test is skipped.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { route, router } from "../mod.ts";
import { startChat } from "../examples/chat/chat_server.ts";
import { chromiumSkip, withChromium } from "./_helpers/chromium.ts";
import { joinChat, logEvents, present, said } from "./_helpers/chat_page.ts";
import { engineServe, runtime } from "./_helpers/engine.ts";

test(
  `chat demo in Chromium on ${runtime}: two pages see each other and exchange messages`,
  { skip: chromiumSkip },
  async () => {
    const chat = await startChat({ port: 0, hostname: "127.0.0.1" });
    const serve = await engineServe();
    // Another origin, for the cross-site check.
    const elsewhere = await serve(
      { port: 0 },
      router([route("/", () =>
        new Response("<!doctype html><title>elsewhere</title>", {
          headers: { "content-type": "text/html" },
        }))]),
    );
    try {
      await withChromium(async (browser) => {
        const url = `http://127.0.0.1:${chat.port}/`;
        const alice = await browser.newPage();
        const bob = await browser.newPage();

        await joinChat(alice, url, "alice");
        assert.deepEqual(await present(alice), ["alice"]);

        await joinChat(bob, url, "bob");
        // Presence reaches both pages.
        await alice.locator("#present li", { hasText: "bob" }).waitFor();
        assert.deepEqual(await present(alice), ["alice", "bob"]);
        assert.deepEqual(await present(bob), ["alice", "bob"]);

        await alice.fill("#message", "hello from alice");
        await alice.click("#send");
        await bob.locator("#messages li.message", { hasText: "hello from alice" }).waitFor();
        await bob.fill("#message", "hi alice, bob here ✓");
        await bob.press("#message", "Enter");
        await alice.locator("#messages li.message", { hasText: "bob here ✓" }).waitFor();
        const aliceSees = await said(alice);
        assert.deepEqual(aliceSees, [["alice", "hello from alice"], ["bob", "hi alice, bob here ✓"]]);
        // Each page tells its own messages apart; the log has the joins.
        assert.deepEqual(await alice.locator("#messages li.own .text").allTextContents(), ["hello from alice"]);
        assert.deepEqual(await bob.locator("#messages li.own .text").allTextContents(), ["hi alice, bob here ✓"]);
        assert.deepEqual(await logEvents(alice), ["you joined as alice", "bob joined"]);

        // Bob leaves: Alice sees it.
        await bob.close();
        await alice.locator("#present li", { hasText: "bob" }).waitFor({ state: "detached" });
        assert.deepEqual(await present(alice), ["alice"]);
        await alice.locator("#messages li.event", { hasText: "bob left" }).waitFor();

        // A page on another origin cannot open the chat's WebSocket.
        const stranger = await browser.newPage();
        await stranger.goto(`http://127.0.0.1:${elsewhere.port}/`);
        const outcome = await stranger.evaluate((target) =>
          new Promise<string>((resolve) => {
            const ws = new WebSocket(target);
            ws.onopen = () => resolve("open");
            ws.onclose = (e) => resolve(`closed ${e.code}`);
          }), `ws://127.0.0.1:${chat.port}/ws`);
        assert.equal(outcome, "closed 1006");
      });
    } finally {
      await chat.shutdown({ timeout: 2000 });
      await elsewhere.shutdown({ timeout: 2000 });
    }
  },
);
