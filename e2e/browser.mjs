// Shared setup for the end-to-end tests: the static server and a headless Chromium from the
// system (never a downloaded browser build).
import { chromium } from "playwright-core";
import { startServer } from "../scripts/serve.mjs";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-dev-shm-usage",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
];

/** Starts the demo server on a free 127.0.0.1 port and launches Chromium. */
export async function startStorefront() {
  const server = await startServer({ port: 0 });
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
  return {
    url: server.url,
    browser,
    async close() {
      await browser.close();
      await server.close();
    },
  };
}

/** Opens the storefront in a fresh context (its own localStorage) and waits until it is ready. */
export async function openShop(storefront, hash = "") {
  const context = await storefront.browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (error) => problems.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning") problems.push(message.text());
  });
  await page.goto(`${storefront.url}/www/?allow-automation${hash}`);
  await page.waitForSelector("body[data-ready=true]");
  return { context, page, problems };
}

/** Every localStorage entry of the page, as an object. */
export function localStorageEntries(page) {
  return page.evaluate(() => Object.fromEntries(Object.keys(localStorage).map((key) => [key, localStorage.getItem(key)])));
}

/** Lets the noise filter see a person's pace rather than a burst. */
export function pause(page, ms = 250) {
  return page.waitForTimeout(ms);
}
