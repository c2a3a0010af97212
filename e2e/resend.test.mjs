// A model update that reached the aggregator but whose answer the page never saw (the keepalive
// send of a closed page, or a connection lost on the way back) is resent with the same bytes by
// the next page. The aggregator answers that resend `200 {"status":"alreadyReceived"}` and counts
// it once; the device takes it as delivered, so the console shows no `409 Conflict` and nothing
// is sent again. The lost answer is made with a route that forwards the first update to the real
// aggregator and then drops the connection to the page.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { DEMO_SIGNING_KEY_FILE, clickRecommendation, openLoggedPage, pause, startAggregator, startStorefront, visitFirstProduct } from "./browser.mjs";

let storefront;
let aggregator;

before(async () => {
  storefront = await startStorefront();
  aggregator = await startAggregator(storefront.url, ["--min-updates-per-round", "20", "--signing-key-file", DEMO_SIGNING_KEY_FILE]);
  storefront.setDemoConfig({ aggregatorUrl: aggregator.url });
}, { timeout: 1_800_000 });

after(async () => {
  aggregator?.stop();
  await storefront?.close();
});

test("a resend of an update the aggregator already has is answered as received, once, without a 409", async () => {
  const context = await storefront.browser.newContext();
  const updatesUrl = `${aggregator.url}/v1/updates`;
  let forwarded = null;
  await context.route(updatesUrl, async (route) => {
    if (forwarded) return route.continue();
    forwarded = await route.fetch();
    await route.abort("connectionreset");
  });
  const lines = [];
  try {
    const page = await openLoggedPage(storefront, context, lines);
    await visitFirstProduct(page);
    const clicked = new Set();
    while (!forwarded) {
      await clickRecommendation(page, clicked, 400);
      assert.ok(clicked.size < 40, "the demo sends an update after five labelled impressions");
    }
    assert.equal(forwarded.status(), 202, "the first copy arrived and counted");
    await page.close({ runBeforeUnload: true });

    // The next page resends the booked bytes.
    const next = await openLoggedPage(storefront, context, lines);
    const resent = await next.waitForResponse((r) => r.url() === updatesUrl && r.request().method() === "POST", { timeout: 60_000 });
    assert.equal(resent.status(), 200, "a resend is a success");
    assert.deepEqual(await resent.json(), { status: "alreadyReceived" });
    await pause(next, 1_000);
    const round = await (await fetch(`${aggregator.url}/v1/rounds/current`)).json();
    assert.equal(round.updatesReceived, 1, "counted once");
    await next.click("#open-panel");
    await next.waitForSelector("[data-testid=sync-now]");
    await next.click("[data-testid=sync-now]");
    await next.waitForSelector("[data-testid=sync-outcome]");
    assert.notEqual(await next.getAttribute("[data-testid=sync-outcome]", "data-status"), "sent", "nothing is pending any more");
    assert.ok(!lines.some((line) => /409|Conflict|replayed/.test(line)), lines.join("\n"));
  } finally {
    await context.close();
  }
});
