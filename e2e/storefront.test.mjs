// Drives the www/ storefront in headless Chromium: consent, browsing, the privacy panel,
// persistence across reloads, forgetting, and sensitive categories leaving no trace.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { localStorageEntries, openShop, pause, startStorefront } from "./browser.mjs";

const SCREENSHOT_DIR = new URL("../out/e2e/", import.meta.url);
let storefront;

before(async () => {
  storefront = await startStorefront();
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
});

after(async () => {
  await storefront?.close();
});

async function chooseConsent(page, label) {
  await page.getByRole("button", { name: label }).click();
  await page.waitForSelector("#consent-banner", { state: "hidden" });
}

async function openProduct(page, itemId) {
  await page.click(`.tile[data-item-id="${itemId}"] a`);
  await page.waitForSelector(`article.product[data-item-id="${itemId}"]`);
  await pause(page);
}

async function panelInterests(page) {
  await page.click("#open-panel");
  await page.waitForSelector("#privacy-panel:not([hidden])");
  return page.$$eval("[data-testid=interests] li", (rows) =>
    rows.map((row) => ({ kind: row.dataset.kind, value: row.dataset.value, weight: Number(row.querySelector(".weight").textContent) })));
}

test("browsing with full consent fills the panel, survives a reload, and forget empties localStorage", async () => {
  const { context, page, problems } = await openShop(storefront);
  try {
    assert.equal(await page.isVisible("#consent-banner"), true, "the banner asks before anything is collected");
    await chooseConsent(page, "Remember me");

    await page.click('#category-nav a[href="#/c/Shoes"]');
    await page.waitForSelector('[data-placement="category"]');
    await pause(page);
    await openProduct(page, "sku-001");
    await page.click("#add-to-cart");
    await pause(page);
    await page.goBack();
    await page.waitForSelector('[data-placement="category"]');
    await pause(page);
    await openProduct(page, "sku-003");
    await page.click("#add-to-cart");
    await pause(page);
    await page.click("#wishlist");
    assert.equal(await page.textContent("#cart-count"), "2");

    const interests = await panelInterests(page);
    const keys = interests.map((i) => `${i.kind}:${i.value}`);
    assert.ok(keys.includes("category:Shoes"), `Shoes is an interest: ${keys}`);
    assert.ok(keys.includes("category:Shoes > Running > Trail"), `Trail running is an interest: ${keys}`);
    assert.ok(interests.every((i) => i.weight > 0), "only positive signals were given");
    assert.equal(await page.textContent("[data-testid=consent]"), "Remembered on this device");
    const why = await page.$$eval("[data-testid=why-shown] li", (items) => items.map((li) => ({ code: li.dataset.code, text: li.textContent })));
    assert.ok(why.length > 0, "the panel says why things were shown");
    // The reason after the dash is the package's words; before it is the shop's own (an offer may be "10% off").
    const reasonOf = (w) => w.text.split(" — ").slice(1).join(" — ");
    assert.ok(why.every((w) => w.code && !/consent|setConsent|%/.test(reasonOf(w))), `shopper words with a code: ${JSON.stringify(why)}`);
    const parts = await page.$$eval("[data-testid=stored-parts] li", (items) => items.map((li) => li.dataset.section));
    assert.deepEqual(parts, ["profile", "adaptation", "rankingModel", "sync", "backups"], "every stored part, explained");
    await page.screenshot({ path: new URL("panel.png", SCREENSHOT_DIR).pathname, fullPage: false });

    await page.reload();
    await page.waitForSelector("body[data-ready=true]");
    assert.equal(await page.isVisible("#consent-banner"), false, "the choice is remembered");
    const afterReload = await panelInterests(page);
    assert.deepEqual(afterReload.map((i) => `${i.kind}:${i.value}`).sort(), [...keys].sort(), "the profile persisted");

    const stored = await localStorageEntries(page);
    assert.ok(Object.keys(stored).some((key) => key !== "demo-shop.consent"), "the profile is in localStorage");

    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#export-profile")]);
    assert.equal(download.suggestedFilename(), "my-shop-profile.json");
    const exported = JSON.parse(readFileSync(await download.path(), "utf8"));
    assert.ok(JSON.stringify(exported.profile).includes("sku-001"), "the export holds what is stored");
    assert.equal(typeof exported.explanation, "string");

    await page.click("#forget-profile");
    await pause(page);
    assert.deepEqual(await localStorageEntries(page), {}, "forget leaves nothing in localStorage");
    assert.equal(await page.isVisible("#consent-banner"), true, "after forgetting, the shopper is asked again");
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test("removing one interest from the panel deletes it from the profile", async () => {
  const { context, page } = await openShop(storefront, "#/c/Kitchen");
  try {
    await chooseConsent(page, "Remember me");
    await page.waitForSelector('[data-placement="category"]');
    await openProduct(page, "sku-032");
    await page.click("#add-to-cart");
    const before = await panelInterests(page);
    const target = before.find((i) => i.kind === "brand");
    assert.ok(target, "the viewed item's brand is an interest");
    await page.click(`[data-testid=interests] li[data-kind=brand][data-value="${target.value}"] button.remove`);
    await pause(page);
    const remaining = await page.$$eval("[data-testid=interests] li", (rows) => rows.map((r) => `${r.dataset.kind}:${r.dataset.value}`));
    assert.ok(!remaining.includes(`brand:${target.value}`), "the removed interest is gone");
    assert.equal(remaining.length, before.length - 1, "nothing else was removed");
  } finally {
    await context.close();
  }
});

test("a sensitive-category view leaves no trace in localStorage, while ordinary views are stored", async () => {
  const { context, page } = await openShop(storefront);
  try {
    await chooseConsent(page, "Remember me");
    const catalog = await page.evaluate(() => fetch("catalog.json").then((r) => r.json()));
    const sensitive = catalog.products.find((p) => p.categoryPath[0] === "Health");
    const ordinary = catalog.products.find((p) => p.categoryPath[0] === "Books");

    await page.click('#category-nav a[href="#/c/Books"]');
    await page.waitForSelector('[data-placement="category"]');
    await pause(page);
    await openProduct(page, ordinary.id);
    await page.click('#category-nav a[href="#/c/Health"]');
    await page.waitForSelector('[data-placement="category"]');
    await pause(page);
    await openProduct(page, sensitive.id);
    assert.equal(await page.isVisible(".notice"), true, "the page tells the shopper this category is never learned");
    await page.click("#add-to-cart");
    await pause(page);
    await page.click("#wishlist");
    await pause(page, 2500);
    await page.click('a[href="#/cart"]');
    await page.waitForSelector("#checkout");
    // Reloading fires pagehide, which flushes the profile to localStorage.
    await page.reload();
    await page.waitForSelector("body[data-ready=true]");

    const stored = JSON.stringify(await localStorageEntries(page));
    assert.ok(stored.includes("Books"), "the ordinary view was stored (so the check below can fail)");
    for (const trace of [sensitive.id, sensitive.name, sensitive.brand, "Health", "Pharmacy", ...sensitive.tags]) {
      assert.ok(!stored.includes(trace), `localStorage must not contain ${JSON.stringify(trace)}`);
    }
  } finally {
    await context.close();
  }
});

test("without a consent choice nothing is written to localStorage", async () => {
  const { context, page } = await openShop(storefront, "#/c/Outdoor");
  try {
    await page.waitForSelector('[data-placement="category"]');
    await pause(page);
    await openProduct(page, "sku-021");
    await page.click("#add-to-cart");
    await page.reload();
    await page.waitForSelector("body[data-ready=true]");
    assert.deepEqual(await localStorageEntries(page), {});
  } finally {
    await context.close();
  }
});

test("\"this visit only\" personalizes in memory and writes no profile to localStorage", async () => {
  const { context, page, problems } = await openShop(storefront, "#/c/Books");
  try {
    await chooseConsent(page, "This visit only");
    await page.waitForSelector('[data-placement="category"]');
    await pause(page);
    await openProduct(page, "sku-046");
    await page.click("#add-to-cart");
    const interests = await panelInterests(page);
    assert.ok(interests.some((i) => i.kind === "category" && i.value === "Books"), "the panel shows this visit's interests");
    assert.match(await page.textContent("[data-testid=consent]"), /This visit only/);
    await page.click("#close-panel");
    await page.click('a[href="#/cart"]');
    await page.waitForSelector("#checkout");
    await page.reload();
    await page.waitForSelector("body[data-ready=true]");
    assert.deepEqual(Object.keys(await localStorageEntries(page)), ["demo-shop.consent"], "only the shop's record of the choice");
    assert.deepEqual(await panelInterests(page), [], "a new page starts with nothing");
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});
