// Issue 14, finding 5: the demo pins its model key in code (www/sync.js), so even a page pointed at
// another aggregator cannot install that server's models; and no URL parameter points it
// anywhere (the shop's server names the aggregator in demo-config.json). Two real aggregators:
// the demo's (its signing key, scripts/demo-model-signing-key.hex) and a foreign one (a key of its
// own). The page installs the demo's model, then, with the storefront pointed at the foreign one,
// refuses its model with a `modelRejected` warning and keeps the stored model.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { DEMO_SIGNING_KEY_FILE, localStorageEntries, startAggregator, startStorefront } from "./browser.mjs";

let storefront;
let demo;
let foreign;

before(async () => {
  storefront = await startStorefront();
  demo = await startAggregator(storefront.url, ["--signing-key-file", DEMO_SIGNING_KEY_FILE]);
  foreign = await startAggregator(storefront.url);
}, { timeout: 1_800_000 });

after(async () => {
  demo?.stop();
  foreign?.stop();
  await storefront?.close();
});

/** The stored shared model (signed bytes as hex) of the page's sync state, if any. */
async function storedModel(page) {
  const entries = await localStorageEntries(page);
  const raw = Object.entries(entries).find(([key]) => key.endsWith(":sync"))?.[1];
  return raw?.match(/"sharedModel":"([0-9a-f]+)"/)?.[1] ?? null;
}

/** Opens the shop configured with `aggregatorUrl` and runs one sync from the panel; returns the console lines. */
async function syncThrough(context, aggregatorUrl, firstVisit) {
  storefront.setDemoConfig({ aggregatorUrl });
  const page = await context.newPage();
  const lines = [];
  page.on("console", (message) => lines.push(message.text()));
  await page.goto(`${storefront.url}/www/?allow-automation`);
  await page.waitForSelector("body[data-ready=true]");
  if (firstVisit) await page.getByRole("button", { name: "Remember me" }).click();
  await page.click("#open-panel");
  await page.waitForSelector("[data-testid=sync-now]");
  await page.click("[data-testid=sync-now]");
  await page.waitForSelector("[data-testid=sync-outcome]");
  return { page, lines };
}

test("a model signed with another key than the pinned one is refused and the previous model kept", async () => {
  const context = await storefront.browser.newContext();
  try {
    const { page: first, lines: firstLines } = await syncThrough(context, demo.url, true);
    const installed = await storedModel(first);
    assert.ok(installed, "the demo aggregator's model is installed and stored");
    assert.ok(!firstLines.some((line) => line.includes("modelRejected")), firstLines.join("\n"));
    await first.close();

    const { page, lines } = await syncThrough(context, foreign.url, false);
    const rejected = lines.find((line) => line.startsWith("shop-personalizer modelRejected:"));
    assert.ok(rejected, `a modelRejected warning: ${lines.join("\n")}`);
    assert.match(rejected, /signature/);
    assert.equal(await storedModel(page), installed, "the previous model stays stored");
    const outcome = await page.textContent("[data-testid=sync-outcome]");
    assert.doesNotMatch(outcome, /sent an update/, "nothing is sent against the foreign model");
  } finally {
    await context.close();
  }
});

test("no URL parameter chooses a server: ?aggregator= is ignored, the configured aggregator is used", async () => {
  storefront.setDemoConfig({ aggregatorUrl: demo.url });
  const context = await storefront.browser.newContext();
  try {
    const page = await context.newPage();
    const asked = [];
    page.on("request", (request) => asked.push(request.url()));
    await page.goto(`${storefront.url}/www/?allow-automation&aggregator=${encodeURIComponent(foreign.url)}`);
    await page.waitForSelector("body[data-ready=true]");
    await page.getByRole("button", { name: "Remember me" }).click();
    await page.click("#open-panel");
    await page.waitForSelector("[data-testid=sync-now]");
    assert.match(await page.textContent("[data-testid=privacy-ledger]"), new RegExp(`updates to ${demo.url}`));
    await page.click("[data-testid=sync-now]");
    await page.waitForSelector("[data-testid=sync-outcome]");
    assert.ok(asked.some((url) => url.startsWith(demo.url)), `the configured aggregator is asked: ${asked.join("\n")}`);
    assert.ok(!asked.some((url) => url.startsWith(foreign.url)), "the one in the URL is not");
  } finally {
    await context.close();
  }
});
