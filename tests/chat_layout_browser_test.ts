/**
 * The chat demo's page (examples/chat/public) in Chromium, driven by
 * playwright-core, at a small window (900×560) and a phone-sized one
 * (390×844), after more messages than the log can show: the input and the
 * send button stay inside the viewport, the page itself does not scroll
 * (only the log does, and it followed the conversation to its end), one's own
 * messages are on the other side and in another colour than the others',
 * joins and leaves are in the log, and the emoji fonts are in the page's own
 * font stack, inputs included.
 *
 * It takes a screenshot at each size. With `HYBI_DEMO_SCREENSHOTS=<dir>`
 * (`npm run screenshots` sets `docs`) they are written there as
 * demo-900x560.png and demo-390x844.png, the README's pictures; without it
 * they are only checked to be PNGs, so the suite leaves the checkout as it
 * was. Skipped without /usr/bin/chromium (`.ci/run` installs it).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { resolve } from "node:path";
import process from "node:process";
import type { Page } from "playwright-core";
import { startChat } from "../examples/chat/chat_server.ts";
import { chromiumSkip, withChromium } from "./_helpers/chromium.ts";
import { joinChat, logEvents, said } from "./_helpers/chat_page.ts";
import { runtime } from "./_helpers/engine.ts";

const screenshotDir = process.env.HYBI_DEMO_SCREENSHOTS;

const WINDOW = { width: 900, height: 560 };
const PHONE = { width: 390, height: 844 };

// Enough lines to overflow the log at both sizes; emoji in several, a long word in one.
const CONVERSATION: ["alice" | "bob", string][] = [
  ["alice", "hi bob 👋"],
  ["bob", "hey! is this running on Deno?"],
  ["alice", "the same server runs on Deno, Bun and Node 🦕 🥟 🐢"],
  ["bob", "and the chat is one topic?"],
  ["alice", "yes: every message is framed once and copied to each member"],
  ["bob", "nice 🚀"],
  ["alice", "with REDIS_URL, two instances form one room"],
  ["bob", "presence too?"],
  ["alice", "presence too: joins and leaves go through the topic"],
  ["bob", "let me try from my phone 📱"],
  ["alice", "the input stays at the bottom, whatever the height"],
  ["bob", "it does ✅"],
  ["alice", "and a long word wraps: Donaudampfschifffahrtsgesellschaftskapitänsmütze"],
  ["bob", "🎉🎉🎉"],
  ["alice", "ok, back to work 🧑‍💻"],
  ["bob", "see you 👋"],
];

interface Box {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

interface Layout {
  viewport: { width: number; height: number };
  input: Box;
  send: Box;
  log: Box;
  /** The log holds more than it shows. */
  logOverflows: boolean;
  /** The log is scrolled to its end. */
  logAtEnd: boolean;
  /** The page itself is taller than the viewport. */
  pageScrolls: boolean;
  own: Box;
  other: Box;
  ownBackground: string;
  otherBackground: string;
  fonts: { body: string; text: string; input: string; button: string };
}

// Runs in the page; a string, as the test runners' type libraries do not all have the DOM's.
const MEASURE = `(() => {
  const box = (el) => {
    const r = el.getBoundingClientRect();
    return { top: r.top, bottom: r.bottom, left: r.left, right: r.right };
  };
  const $ = (selector) => document.querySelector(selector);
  const log = $("#messages");
  const font = (selector) => getComputedStyle($(selector)).fontFamily;
  return {
    viewport: { width: innerWidth, height: innerHeight },
    input: box($("#message")),
    send: box($("#send")),
    log: box(log),
    logOverflows: log.scrollHeight > log.clientHeight,
    logAtEnd: log.scrollHeight - log.scrollTop - log.clientHeight < 2,
    pageScrolls: document.documentElement.scrollHeight > innerHeight,
    own: box($("#messages li.message.own")),
    other: box($("#messages li.message:not(.own)")),
    ownBackground: getComputedStyle($("#messages li.message.own")).backgroundColor,
    otherBackground: getComputedStyle($("#messages li.message:not(.own)")).backgroundColor,
    fonts: { body: font("body"), text: font("#messages .text"), input: font("#message"), button: font("#send") },
  };
})()`;

function assertInside(box: Box, viewport: { width: number; height: number }, what: string): void {
  assert.ok(
    box.top >= 0 && box.left >= 0 && box.bottom <= viewport.height && box.right <= viewport.width,
    `${what} ${JSON.stringify(box)} is not inside the ${viewport.width}x${viewport.height} viewport`,
  );
}

async function checkLayout(page: Page, size: { width: number; height: number }, name: string): Promise<void> {
  const layout = await page.evaluate(MEASURE) as Layout;
  assert.deepEqual(layout.viewport, size);
  assert.ok(layout.logOverflows, `${name}: the conversation should overflow the log at ${size.width}x${size.height}`);
  assertInside(layout.input, size, `${name}: the message input`);
  assertInside(layout.send, size, `${name}: the send button`);
  assert.ok(!layout.pageScrolls, `${name}: the page scrolls; only the log should`);
  assert.ok(layout.logAtEnd, `${name}: the log did not follow the conversation to its end`);
  assert.ok(layout.log.bottom <= layout.input.top, `${name}: the log runs under the input`);
  // Own messages on the right, the others' on the left, in other colours.
  assert.ok(
    layout.own.right > layout.other.right && layout.own.left > layout.other.left,
    `${name}: own ${JSON.stringify(layout.own)} is not right of other ${JSON.stringify(layout.other)}`,
  );
  assert.notEqual(layout.ownBackground, layout.otherBackground);
  // The page's own stack: the system font first, the colour emoji fonts after it; form controls use it too.
  const families = layout.fonts.body.split(",").map((family) => family.trim().replaceAll('"', ""));
  assert.equal(families[0], "system-ui");
  for (const emoji of ["Apple Color Emoji", "Segoe UI Emoji", "Noto Color Emoji"]) {
    assert.ok(families.indexOf(emoji) > 0, `${name}: ${emoji} missing from ${layout.fonts.body}`);
  }
  assert.equal(layout.fonts.text, layout.fonts.body);
  assert.equal(layout.fonts.input, layout.fonts.body);
  assert.equal(layout.fonts.button, layout.fonts.body);
}

async function enter(page: Page, url: string, name: string): Promise<void> {
  await joinChat(page, url, name);
  assert.equal(await page.locator("#join-form").isVisible(), false, "the join form is still shown after joining");
}

test(`chat demo layout in Chromium on ${runtime}: 900x560 and 390x844, input in view, own messages apart`, {
  skip: chromiumSkip,
  timeout: 60_000,
}, async () => {
  const chat = await startChat({ port: 0, hostname: "127.0.0.1" });
  try {
    await withChromium(async (browser) => {
      const url = `http://127.0.0.1:${chat.port}/`;
      const alice = await browser.newPage();
      await alice.setViewportSize(WINDOW);
      const bob = await browser.newPage();
      await bob.setViewportSize(PHONE);

      await enter(alice, url, "alice");
      await enter(bob, url, "bob");
      await alice.locator("#messages li.event", { hasText: "bob joined" }).waitFor();

      // Someone comes and goes: both logs say so.
      const carol = await browser.newPage();
      await enter(carol, url, "carol");
      await bob.locator("#messages li.event", { hasText: "carol joined" }).waitFor();
      await carol.close();
      await alice.locator("#messages li.event", { hasText: "carol left" }).waitFor();
      await bob.locator("#messages li.event", { hasText: "carol left" }).waitFor();
      assert.deepEqual(await logEvents(alice), ["you joined as alice", "bob joined", "carol joined", "carol left"]);
      assert.deepEqual(await logEvents(bob), ["you joined as bob", "carol joined", "carol left"]);

      const pages = { alice, bob };
      for (const [who, text] of CONVERSATION) {
        await pages[who].fill("#message", text);
        await pages[who].press("#message", "Enter");
        // In order: the next line waits until both pages have this one.
        for (const page of [alice, bob]) await page.locator("#messages li.message .text", { hasText: text }).waitFor();
      }
      for (const page of [alice, bob]) {
        assert.deepEqual(await said(page), CONVERSATION);
      }
      // Each page marks its own messages, and only them.
      assert.equal(
        await alice.locator("#messages li.message.own").count(),
        CONVERSATION.filter(([w]) => w === "alice").length,
      );
      assert.equal(await bob.locator("#messages li.message.own .from").first().textContent(), "bob");
      assert.deepEqual(await alice.locator("#present li.self").allTextContents(), ["alice"]);

      await checkLayout(alice, WINDOW, "900x560");
      await checkLayout(bob, PHONE, "390x844");

      for (const [page, size] of [[alice, WINDOW], [bob, PHONE]] as const) {
        const file = `demo-${size.width}x${size.height}.png`;
        const path = screenshotDir === undefined ? undefined : resolve(screenshotDir, file);
        const png = await page.screenshot({ path });
        assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], `${file} is not a PNG`);
      }
    }, { viewport: WINDOW });
  } finally {
    await chat.shutdown({ timeout: 2000 });
  }
});
