// Recommendations in the www/ storefront, in headless Chromium: the demo's "shop server" answers
// about the current item or query, the Personalizer ranks on the device. Browsing a category fills
// the "Recommended for you" row with items of that category and a reason for each; search results
// are reordered by the profile, none dropped.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { openShop, pause, startStorefront } from "./browser.mjs";

const catalog = JSON.parse(readFileSync(new URL("../www/catalog.json", import.meta.url), "utf8"));
let storefront;

before(async () => {
  storefront = await startStorefront();
});

after(async () => {
  await storefront?.close();
});

async function rememberMe(page) {
  await page.getByRole("button", { name: "Remember me" }).click();
  await page.waitForSelector("#consent-banner", { state: "hidden" });
}

async function openProduct(page, itemId) {
  await page.click(`.tile[data-item-id="${itemId}"] a`);
  await page.waitForSelector(`article.product[data-item-id="${itemId}"]`);
  await pause(page);
}

function recommendationRow(page) {
  return page.$$eval("[data-testid=recommendations] li", (tiles) =>
    tiles.map((tile) => ({ id: tile.dataset.itemId, category: tile.dataset.category, reason: tile.querySelector(".reason")?.textContent ?? "",
      code: tile.querySelector(".reason")?.dataset.code ?? "" })));
}

/** The demo's search, as the catalog fixture answers it: every word in name, brand, categories or tags. */
function serverResults(query) {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  return catalog.products
    .filter((p) => words.every((w) => [p.name, p.brand, ...p.categoryPath, ...p.tags].join(" ").toLowerCase().includes(w)))
    .map((p) => p.id);
}

test("browsing a category fills the recommendation row with that category, each item with a reason", async () => {
  const { context, page, problems } = await openShop(storefront);
  try {
    await rememberMe(page);
    await page.click('#category-nav a[href="#/c/Shoes"]');
    await page.waitForSelector('[data-placement="category"]');
    await pause(page);
    await openProduct(page, "sku-001");
    await page.waitForSelector("[data-testid=recommendations] li");
    const row = await recommendationRow(page);
    assert.ok(row.length >= 3, `a row of recommendations: ${JSON.stringify(row)}`);
    assert.ok(row.every((item) => item.category.startsWith("Shoes")), `all from the browsed category: ${JSON.stringify(row)}`);
    assert.ok(row.every((item) => item.reason.trim().length > 0), `each with a reason: ${JSON.stringify(row)}`);
    assert.ok(!row.some((item) => item.id === "sku-001"), "the product is not recommended on its own page");

    // Clicking a recommendation opens it, and its own row follows.
    const next = row[0].id;
    await page.click(`[data-testid=recommendations] .tile[data-item-id="${next}"] a`);
    await page.waitForSelector(`article.product[data-item-id="${next}"]`);
    await pause(page);
    const nextRow = await recommendationRow(page);
    assert.ok(nextRow.length > 0 && !nextRow.some((item) => item.id === next));

    await page.click('#category-nav a[href="#/"]');
    await page.waitForSelector("[data-testid=recommendations] li");
    const home = await recommendationRow(page);
    assert.ok(home.length > 0 && home.every((item) => item.reason.trim().length > 0), `home row: ${JSON.stringify(home)}`);
    assert.ok(home.some((item) => item.category.startsWith("Shoes")), `the session shows on the home page: ${JSON.stringify(home)}`);
    assert.ok(home.every((item) => item.code.length > 0), `each reason has its code: ${JSON.stringify(home)}`);
    // Only Shoes were browsed: an interest named in a reason is one of theirs, never the tile's own other category.
    for (const item of home.filter((i) => i.code === "interest" && /interest in /.test(i.reason))) {
      assert.ok(!item.category.startsWith("Shoes") ? !item.reason.includes(item.category.split(" > ").pop()) : true,
        `an interest the shopper has: ${JSON.stringify(item)}`);
    }
    assert.deepEqual(problems, [], "no errors or warnings on the page");
  } finally {
    await context.close();
  }
});

test("search results are reordered by the profile and none is dropped", async () => {
  const { context, page, problems } = await openShop(storefront);
  try {
    await rememberMe(page);
    await page.click('#category-nav a[href="#/c/Outdoor"]');
    await page.waitForSelector('[data-placement="category"]');
    await pause(page);
    await openProduct(page, "sku-020");
    await page.goBack();
    await page.waitForSelector('[data-placement="category"]');
    await pause(page);
    await openProduct(page, "sku-022");

    // "lightweight" matches running shoes first in the server's order, then tents.
    const query = "lightweight";
    const expected = serverResults(query);
    const byId = new Map(catalog.products.map((p) => [p.id, p]));
    assert.equal(byId.get(expected[0]).categoryPath[0], "Shoes", "the server's order starts with shoes");
    await page.fill("#search-input", query);
    await page.press("#search-input", "Enter");
    await page.waitForSelector('[data-placement="search"][data-personalized="true"]');
    const shown = await page.$$eval('[data-placement="search"] .tile', (tiles) => tiles.map((tile) => tile.dataset.itemId));
    assert.ok(expected.length >= 3, "the query matches several products");
    assert.equal(shown.length, expected.length, "no result dropped or added");
    assert.deepEqual([...shown].sort(), [...expected].sort(), "the same results");
    assert.equal(byId.get(shown[0]).categoryPath[0], "Outdoor", `the browsed category leads: ${shown} (server order ${expected})`);
    assert.deepEqual(problems, [], "no errors or warnings on the page");
  } finally {
    await context.close();
  }
});
