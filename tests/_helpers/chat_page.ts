/**
 * The chat demo's page (examples/chat/public) as the browser tests drive and
 * read it through playwright-core.
 */
import type { Page } from "playwright-core";

/** Opens the page at `url` and joins as `name`: resolves once the room is shown. */
export async function joinChat(page: Page, url: string, name: string): Promise<void> {
  await page.goto(url);
  await page.fill("#name", name);
  await page.click("#join");
  await page.waitForSelector("#room:not([hidden])");
}

/** The names in the page's presence list. */
export function present(page: Page): Promise<string[]> {
  return page.locator("#present li").allTextContents();
}

/** [from, text] of each message in the page's log. */
export function said(page: Page): Promise<(string | null | undefined)[][]> {
  return page.locator("#messages li.message").evaluateAll((items) =>
    items.map((item) => [item.querySelector(".from")?.textContent, item.querySelector(".text")?.textContent])
  );
}

/** The log's lines about joins and leaves. */
export function logEvents(page: Page): Promise<string[]> {
  return page.locator("#messages li.event").allTextContents();
}
