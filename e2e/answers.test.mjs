// The storefront fetches every answer from the real answers service (answers/, debug build, the
// demo catalogue and a seeded synthetic log), named by the shop's server (demo-config.json, as
// scripts/demo does): the home page's "Recommended for you" from GET /v1/answers/popular, product
// pages' rows from GET /v1/answers/item/{id}, search results from GET /v1/answers/search?q=. Each
// request names one item, one query or nothing, and nothing else about the shopper (no cookie,
// no referrer, no other item, category, brand or query). The walk-through fixes are checked too:
// one "Recommended for you" on the home page and no product twice in its sections, and a pharmacy
// page that recommends pharmacy items.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { openShop, pause, startAnswers, startStorefront } from "./browser.mjs";

const catalog = JSON.parse(readFileSync(new URL("../www/catalog.json", import.meta.url), "utf8"));
let storefront;
let answers;

before(async () => {
  storefront = await startStorefront();
  answers = await startAnswers(new URL(storefront.url).origin);
  storefront.setDemoConfig({ answersUrl: answers.url });
}, { timeout: 1_800_000 });

after(async () => {
  answers?.stop();
  await storefront?.close();
});

/** Asserts that `request` carries nothing but what `allowed` (an item id or a query) names. */
async function assertNamesOnly(request, allowed) {
  const headers = await request.allHeaders();
  assert.equal(headers.cookie, undefined, `no cookie: ${request.url()}`);
  assert.ok(!headers.referer, `no referrer: ${request.url()} ${JSON.stringify(headers)}`);
  assert.equal(request.method(), "GET");
  assert.equal(request.postData() ?? null, null, "no body");
  const sent = `${request.url()} ${JSON.stringify(headers)}`;
  const words = new Set(String(allowed ?? "").toLowerCase().split(/\s+/).filter(Boolean));
  for (const product of catalog.products) {
    if (product.id !== allowed) assert.ok(!sent.includes(product.id), `${product.id} in ${sent}`);
  }
  for (const label of new Set(catalog.products.flatMap((p) => [p.brand, ...p.categoryPath]))) {
    if (!words.has(label.toLowerCase())) assert.ok(!sent.includes(label), `${label} in ${sent}`);
  }
}

const rowCategories = (page) =>
  page.$$eval("[data-testid=recommendations] li", (tiles) => tiles.map((tile) => tile.dataset.category));

test("every page's answer comes from the service, and each request names one item, one query or nothing", async () => {
  const { context, page, problems } = await openShop(storefront);
  const requests = [];
  const responses = [];
  page.on("request", (request) => { if (request.url().startsWith(answers.url)) requests.push(request); });
  page.on("response", (response) => { if (response.url().startsWith(answers.url)) responses.push(response); });
  try {
    const visited = ["sku-001", "sku-002", "sku-056"];
    for (const id of visited) {
      await page.evaluate((hash) => { location.hash = hash; }, `#/p/${id}`);
      await page.waitForSelector(`article.product[data-item-id="${id}"]`);
      await page.waitForSelector("[data-testid=recommendations] li");
      await pause(page);
      const row = await rowCategories(page);
      const own = catalog.products.find((p) => p.id === id).categoryPath[0];
      assert.ok(row.length > 0 && row.filter((category) => category.startsWith(own)).length >= row.length / 2,
        `a ${own} page recommends mostly ${own}: ${row}`);
    }
    await page.fill("#search-input", "trail");
    await page.press("#search-input", "Enter");
    await page.waitForSelector('[data-placement="search"][data-personalized="true"]');
    await pause(page);
    const shown = await page.$$eval('[data-placement="search"] .tile', (tiles) => tiles.map((tile) => tile.dataset.itemId));
    await page.click('#category-nav a[href="#/"]');
    await page.waitForSelector('.adapted-section[data-section-id="for-you"] li');
    await pause(page);

    const paths = requests.map((request) => new URL(request.url()));
    assert.deepEqual(paths.map((url) => url.pathname),
      [...visited.map((id) => `/v1/answers/item/${id}`), "/v1/answers/search", "/v1/answers/popular"],
      "one answer request per page, of the page's kind");
    for (const [i, id] of visited.entries()) {
      assert.equal(paths[i].search, "", "no query string");
      await assertNamesOnly(requests[i], id);
    }
    assert.equal(paths.at(-2).search, "?q=trail", "the search request names the query only");
    await assertNamesOnly(requests.at(-2), "trail");
    assert.equal(paths.at(-1).search, "", "the home page's request names nothing");
    await assertNamesOnly(requests.at(-1), null);
    assert.ok(responses.every((response) => response.status() === 200), "the service answered");
    const answer = await responses.at(-2).json();
    assert.deepEqual([...shown].sort(), [...answer.ids].sort(), "the search page shows the service's results, none dropped");
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test("the home page has one \"Recommended for you\", and no product twice in its sections", async () => {
  const { context, page, problems } = await openShop(storefront);
  try {
    await page.getByRole("button", { name: "Remember me" }).click();
    await page.click('#category-nav a[href="#/c/Shoes"]');
    await page.waitForSelector('[data-placement="category"]');
    await pause(page);
    await page.click('.tile[data-item-id="sku-001"] a');
    await page.waitForSelector("[data-testid=recommendations] li");
    await pause(page);
    await page.click('#category-nav a[href="#/"]');
    await page.waitForSelector('.adapted-section[data-section-id="for-you"] li');
    await pause(page);
    const titles = await page.$$eval("#view h2", (nodes) => nodes.map((n) => n.textContent));
    assert.equal(titles.filter((t) => t === "Recommended for you").length, 1, `one "Recommended for you": ${titles}`);
    assert.equal(await page.locator("[data-testid=recommendations]").count(), 1);
    const ids = await page.$$eval(".adapted-section .tile", (tiles) => tiles.map((tile) => tile.dataset.itemId));
    assert.equal(new Set(ids).size, ids.length, `no product twice in the sections: ${ids}`);
    if (process.env.ANSWERS_SCREENSHOT) await page.screenshot({ path: process.env.ANSWERS_SCREENSHOT, fullPage: true });

    // A shopper who browsed trail shoes, on a pharmacy page: pharmacy items, not trail shoes.
    await page.evaluate(() => { location.hash = "#/p/sku-056"; });
    await page.waitForSelector('article.product[data-item-id="sku-056"]');
    await page.waitForSelector("[data-testid=recommendations] li");
    const row = await rowCategories(page);
    assert.ok(row.filter((category) => category.startsWith("Health")).length >= row.length / 2,
      `a pharmacy page recommends mostly pharmacy items: ${row}`);
    if (process.env.ANSWERS_SCREENSHOT) await page.screenshot({ path: process.env.ANSWERS_SCREENSHOT.replace(/\.png$/, "-pharmacy.png"), fullPage: true });
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});
