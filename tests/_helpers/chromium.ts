/**
 * Chromium for the browser tests: the Debian package at /usr/bin/chromium
 * (`.ci/run` installs it), driven by playwright-core, headless, each launch
 * on a fresh profile that its close removes. A test without it is skipped
 * with `chromiumSkip`.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

/** Whether Chromium is installed. */
export const hasChromium: boolean = existsSync(CHROMIUM);

/** A browser test's `skip`: the reason when Chromium is absent, else false. */
export const chromiumSkip: string | false = hasChromium
  ? false
  : `Chromium is not installed at ${CHROMIUM} (.ci/run installs it with apt)`;

/** The flags every test runs Chromium with (no proxy: the servers are on loopback). */
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--no-proxy-server",
];

/** Options of {@linkcode launchChromium}. */
export interface ChromiumOptions {
  /** The pages' viewport. Default Playwright's (1280×720). */
  viewport?: { width: number; height: number };
}

/** A running Chromium; `close` closes it and removes its profile. */
export interface Chromium {
  readonly browser: BrowserContext;
  close(): Promise<void>;
}

/** Starts Chromium on a fresh profile. */
export async function launchChromium(options: ChromiumOptions = {}): Promise<Chromium> {
  const { chromium } = await import("playwright-core");
  const profile = await mkdtemp(join(tmpdir(), "hybi-chromium-"));
  const removeProfile = () => rm(profile, { recursive: true, force: true });
  let browser: BrowserContext;
  try {
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      ...options,
    });
  } catch (error) {
    await removeProfile();
    throw error;
  }
  return {
    browser,
    close: async () => {
      try {
        await browser.close();
      } finally {
        await removeProfile();
      }
    },
  };
}

/** Runs `body` with a Chromium from {@linkcode launchChromium}, closed after, whatever happens. */
export async function withChromium<T>(
  body: (browser: BrowserContext) => Promise<T>,
  options: ChromiumOptions = {},
): Promise<T> {
  const chromium = await launchChromium(options);
  try {
    return await body(chromium.browser);
  } finally {
    await chromium.close();
  }
}
