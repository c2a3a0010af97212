// The privacy boundary on the wire: the real aggregator (debug build, temporary data folder,
// 127.0.0.1, rounds of 20), the real answers service and the demo storefront configured with both
// (as scripts/demo does), a browsing session in Chromium with every request the page makes
// recorded (page.on("request") and a catch-all route). It proves that the only bodies that leave
// go to the aggregator's update and lift-report endpoints, that every answer request is a GET
// naming one item, one query or nothing (no cookie, no referrer), that no other request URL,
// header or body carries an item id, category or query of the session (nor any of the
// catalog), that the update decodes with the expected header against the aggregator's current
// model, and that the lift report decodes as the documented layout (aggregator/README.md). The
// merchant's lift page then says, honestly, that there are not enough reports yet.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { DEMO_SIGNING_KEY_FILE, clickRecommendation, pause, startAggregator, startAnswers, startStorefront, visitFirstProduct } from "./browser.mjs";

const catalog = JSON.parse(readFileSync(new URL("../www/catalog.json", import.meta.url), "utf8"));
const QUERY = "lightweight";
let storefront;
let aggregator;
let aggregatorUrl;
let answers;

before(async () => {
  storefront = await startStorefront();
  // The demo's signing key: the page installs only models signed with the key it pins.
  aggregator = await startAggregator(storefront.url, ["--min-updates-per-round", "20", "--signing-key-file", DEMO_SIGNING_KEY_FILE]);
  aggregatorUrl = aggregator.url;
  answers = await startAnswers(storefront.url);
  storefront.setDemoConfig({ aggregatorUrl, answersUrl: answers.url });
}, { timeout: 1_800_000 });

after(async () => {
  aggregator?.stop();
  answers?.stop();
  await storefront?.close();
});

/** Every string of the catalog the session could leak: ids, category levels, brands, the query. */
function sensitiveStrings() {
  const strings = new Set([QUERY]);
  for (const product of catalog.products) {
    strings.add(product.id);
    strings.add(product.brand);
    for (const level of product.categoryPath) strings.add(level);
  }
  return [...strings].filter((s) => s.length >= 4);
}

/** Opens the shop with every request recorded from the first one on. */
async function openRecordedShop() {
  const context = await storefront.browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  const recorded = [];
  const routed = [];
  page.on("request", (request) => recorded.push(request));
  await context.route("**/*", async (route) => {
    const request = route.request();
    routed.push({ url: request.url(), method: request.method(), body: request.postDataBuffer() });
    await route.continue();
  });
  const problems = [];
  page.on("pageerror", (error) => problems.push(error.message));
  await page.goto(`${storefront.url}/www/?allow-automation`);
  await page.waitForSelector("body[data-ready=true]");
  return { context, page, recorded, routed, problems };
}

/** The documented lift report layout (aggregator/README.md): 36 header bytes, then D × f32. */
function decodeLiftReport(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dimension = view.getUint16(6, true);
  return {
    magic: bytes.subarray(0, 4).toString("latin1"),
    format: bytes[4],
    bucket: bytes[5],
    dimension,
    fingerprint: bytes.subarray(8, 16),
    noiseMultiplier: view.getFloat32(16, true),
    nonce: bytes.subarray(20, 36),
    values: Array.from({ length: dimension }, (_, i) => view.getFloat32(36 + 4 * i, true)),
  };
}

/** The documented update layout (aggregator/README.md): 45 header bytes, then d × i8. */
function decodeUpdate(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    magic: bytes.subarray(0, 4).toString("latin1"),
    format: bytes[4],
    modelVersion: Number(view.getBigUint64(5, true)),
    dimension: view.getUint32(13, true),
    clipBound: view.getFloat32(17, true),
    noiseMultiplier: view.getFloat32(21, true),
    scale: view.getFloat32(25, true),
    values: [...bytes.subarray(45)].map((b) => (b > 127 ? b - 256 : b)),
  };
}

test("only clipped, noised updates and lift reports leave the page, and they carry nothing of the session", async () => {
  const { context, page, recorded, routed, problems } = await openRecordedShop();
  const updatesUrl = `${aggregatorUrl}/v1/updates`;
  const liftUrl = `${aggregatorUrl}/v1/lift-reports`;
  const liftAccepted = page.waitForResponse((response) => response.url() === liftUrl && response.request().method() === "POST", { timeout: 90_000 });
  try {
    await visitFirstProduct(page);
    await pause(page);
    const accepted = page.waitForResponse((response) => response.url() === updatesUrl && response.request().method() === "POST", { timeout: 60_000 });
    // Labelled impressions: clicks on ranked recommendations (the demo sends after five).
    const clicked = new Set();
    for (let i = 0; i < 12; i++) await clickRecommendation(page, clicked);
    await page.fill("#search-input", QUERY);
    await page.press("#search-input", "Enter");
    await page.waitForSelector('[data-placement="search"]');
    await pause(page);
    const response = await accepted;
    assert.equal(response.status(), 202, "the aggregator accepted the update");
    // The automatic loop (every 5 s in the demo) sends the day's lift report once something was counted.
    const liftResponse = await liftAccepted;
    assert.equal(liftResponse.status(), 202, `the aggregator accepted the lift report: ${await liftResponse.text()}`);
    // Enough new labelled impressions for another update: the ledger refuses it (one a day).
    await page.click('.tile a');
    await page.waitForSelector("article.product");
    for (let i = 0; i < 12; i++) await clickRecommendation(page, clicked);

    await page.click("#open-panel");
    await page.waitForSelector("[data-testid=privacy-ledger]");
    const ledger = await page.textContent("[data-testid=privacy-ledger]");
    // One update (ρ 0.5) and one lift report (ε 2, ρ 0.0676) compose to ε 6.17 of the day's 8.
    assert.match(ledger, /ε 6\.17 of 8\.00/, `the panel shows the spend and budget: ${ledger}`);
    assert.match(ledger, /Lift reports sent today\s*1/, `the panel shows the lift report: ${ledger}`);
    await page.click("[data-testid=sync-now]");
    // The panel shows the latest outcome, which may still be an earlier periodic check's
    // ("skipped: busy" or "too few impressions"): wait for the outcome of the sync asked for.
    const refused = await page
      .waitForFunction(() => document.querySelector("[data-testid=sync-outcome]")?.dataset.status === "refusedByLedger", null, { timeout: 15_000 })
      .then(() => true, () => false);
    const status = await page.textContent("[data-testid=sync-outcome]");
    assert.ok(refused, `one update a day: the second sync must be refused by the ledger, got ${status}`);
    await page.close({ runBeforeUnload: true });

    // Every request with a body is a POST of an update or a lift report to the aggregator.
    const withBody = recorded.filter((request) => (request.postDataBuffer()?.length ?? 0) > 0);
    const updates = withBody.filter((request) => request.url() === updatesUrl);
    const liftReports = withBody.filter((request) => request.url() === liftUrl);
    assert.ok(updates.length >= 1, "the update was recorded");
    assert.equal(liftReports.length, 1, "one lift report a day");
    for (const request of withBody) {
      assert.equal(request.method(), "POST");
      assert.ok([updatesUrl, liftUrl].includes(request.url()), `a body went elsewhere: ${request.url()}`);
    }
    assert.deepEqual(routed.filter((r) => r.body?.length).map((r) => r.url), withBody.map((r) => r.url()), "the route saw the same bodies");
    // The page talks to the aggregator only to read its model and to post updates (the key is pinned in code).
    const toAggregator = recorded.filter((request) => request.url().startsWith(aggregatorUrl));
    for (const request of toAggregator) {
      const path = new URL(request.url()).pathname;
      assert.ok(["/v1/model", "/v1/updates", "/v1/lift-reports"].includes(path), `unexpected aggregator request ${path}`);
    }
    const hosts = [aggregatorUrl, answers.url, storefront.url];
    const others = recorded.filter((request) => !hosts.some((host) => request.url().startsWith(host)));
    assert.deepEqual(others.map((r) => r.url()), [], "no request to any third host");

    // Answer requests: GETs, each naming one item, the query or nothing, without cookie or referrer.
    const toAnswers = recorded.filter((request) => request.url().startsWith(answers.url));
    const named = new Map();
    for (const request of toAnswers) {
      const url = new URL(request.url());
      const headers = await request.allHeaders().catch(() => request.headers());
      assert.equal(request.method(), "GET");
      assert.equal(headers.cookie, undefined, "no cookie on an answer request");
      assert.equal(headers.referer, undefined, "no referrer on an answer request");
      const item = url.pathname.match(/^\/v1\/answers\/item\/([^/]+)$/)?.[1];
      if (item) {
        assert.equal(url.search, "");
        named.set(request, new Set([decodeURIComponent(item)]));
      } else if (url.pathname === "/v1/answers/search") {
        assert.deepEqual([...url.searchParams.keys()], ["q"]);
        named.set(request, new Set([url.searchParams.get("q"), ...url.searchParams.get("q").split(/\s+/)]));
      } else {
        assert.deepEqual([url.pathname, url.search], ["/v1/answers/popular", ""], `unexpected answer request ${request.url()}`);
        named.set(request, new Set());
      }
    }
    const kinds = toAnswers.map((request) => new URL(request.url()).pathname.split("/")[3]);
    for (const kind of ["popular", "item", "search"]) assert.ok(kinds.includes(kind), `an answer request of kind ${kind}: ${kinds}`);

    // No id, category, brand or query of the catalog in any URL, header or body, but for the one
    // item or query an answer request names.
    const needles = sensitiveStrings();
    for (const request of recorded) {
      const headers = await request.allHeaders().catch(() => request.headers());
      const body = request.postDataBuffer() ?? Buffer.alloc(0);
      const haystacks = [request.url(), JSON.stringify(headers), body.toString("latin1"), body.toString("utf8")];
      const allowed = named.get(request) ?? new Set();
      for (const needle of needles) {
        if ([...allowed].some((word) => word.toLowerCase() === needle.toLowerCase())) continue;
        assert.ok(!haystacks.some((text) => text.includes(needle)), `${JSON.stringify(needle)} leaked in ${request.method()} ${request.url()}`);
      }
    }

    // The update: the documented header, the current model, nothing identifying.
    const round = await (await fetch(`${aggregatorUrl}/v1/rounds/current`)).json();
    const posted = updates[0];
    const headers = await posted.allHeaders().catch(() => posted.headers());
    assert.equal(headers.cookie, undefined, "no cookie");
    assert.equal(headers.referer, undefined, "no referrer");
    const update = decodeUpdate(posted.postDataBuffer());
    assert.equal(update.magic, "SPUP");
    assert.equal(update.format, 1);
    assert.equal(update.modelVersion, round.modelVersion, "computed against the published model");
    assert.equal(update.dimension, round.dimension);
    assert.equal(posted.postDataBuffer().length, 45 + round.dimension, "header and quantized vector only");
    assert.equal(update.clipBound, 1);
    assert.equal(update.noiseMultiplier, 1);
    assert.ok(update.scale > 0 && Number.isFinite(update.scale));
    assert.ok(update.values.every((v) => v >= -127 && v <= 127));
    assert.ok(update.values.some((v) => v !== 0), "noise makes the vector non-zero");
    assert.equal(round.updatesReceived, 1, "exactly one update reached the round");

    // The lift report: the documented layout, the default configuration, nothing identifying.
    const liftPosted = liftReports[0];
    const liftHeaders = await liftPosted.allHeaders().catch(() => liftPosted.headers());
    assert.equal(liftHeaders.cookie, undefined, "no cookie");
    assert.equal(liftHeaders.referer, undefined, "no referrer");
    const liftBody = liftPosted.postDataBuffer();
    const lift = decodeLiftReport(liftBody);
    assert.equal(lift.magic, "SPLR");
    assert.equal(lift.format, 1);
    assert.equal(lift.bucket, 0, "a test browser is never held out unless asked");
    assert.equal(lift.dimension, 11, "sessions + (no placement broken out + (other)) × 10 counts");
    assert.equal(liftBody.length, 36 + 4 * lift.dimension, "header and counts only");
    assert.ok(lift.noiseMultiplier > 1 && Number.isFinite(lift.noiseMultiplier), "noised at ε 2");
    assert.ok(lift.values.every(Number.isFinite));
    assert.ok(lift.nonce.some((b) => b !== 0), "a random nonce");
    const liftState = await (await fetch(`${aggregatorUrl}/v1/lift`)).json();
    assert.equal(liftState.status, "notEnoughReports", "one report releases nothing");
    assert.equal(liftState.personalizedReports, 1, "exactly one lift report reached the aggregator");
    assert.equal(liftState.estimate, undefined);
    assert.deepEqual(problems, [], "no page errors");
  } finally {
    await context.close();
  }
});

test("the merchant lift page says honestly that there are not enough reports yet", async () => {
  const context = await storefront.browser.newContext();
  const page = await context.newPage();
  try {
    await page.goto(`${storefront.url}/www/lift.html`);
    await page.waitForSelector("body[data-ready=true]");
    const status = page.locator("[data-testid=lift-status]");
    assert.equal(await status.getAttribute("data-status"), "notEnoughReports");
    assert.match(await status.textContent(), /Not enough reports yet: \d+ personalized and \d+ holdout reports so far; nothing is released before each bucket holds 100\./);
    assert.match(await page.textContent("[data-testid=lift-report]"), /k-anonymity/);
  } finally {
    await context.close();
  }
});
