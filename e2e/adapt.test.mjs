// Drives the adapted parts of the www/ storefront in headless Chromium: the offer banner
// (welcome on a first visit, the cart offer when the shopper comes back to a cart left behind),
// the home sections chosen by chooseLayout within the shop's constraints, and product copy.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { localStorageEntries, openShop, pause, startStorefront } from "./browser.mjs";

const HOUR_MS = 3_600_000;
const ADAPT_KEY = "shop-personalizer:demo-shop:adapt";
let storefront;

before(async () => {
  storefront = await startStorefront();
});

after(async () => {
  await storefront?.close();
});

/** The home page's adapted sections, top to bottom. */
function sectionIds(page) {
  return page.$$eval(".adapted-section", (sections) => sections.map((s) => s.dataset.sectionId));
}

function offerId(page) {
  return page.getAttribute("[data-testid=offer]", "data-offer-id");
}

function assertSectionConstraints(ids) {
  assert.ok(ids.length >= 2 && ids.length <= 4, `at most maxSections (4), at least the required two: ${ids}`);
  assert.equal(ids[0], "deals", `deals are pinned to the top: ${ids}`);
  const forYou = ids.indexOf("for-you");
  assert.ok(forYou >= 0 && forYou <= 2, `"for you" is required within the first three: ${ids}`);
  assert.equal(new Set(ids).size, ids.length, `no section twice: ${ids}`);
}

test("a first visit shows the welcome offer and sections that respect the shop's constraints", async () => {
  const { context, page, problems } = await openShop(storefront);
  try {
    assert.equal(await offerId(page), "welcome-10");
    const firstWhy = await page.textContent("[data-testid=offer] .why");
    assert.equal(firstWhy, "Why you see this: The shop's current offer", "no choice yet: the shop's default");
    for (const text of await page.$$eval(".why", (nodes) => nodes.map((n) => n.textContent))) {
      assert.doesNotMatch(text, /consent|setConsent|holdout|%/, `no developer words for shoppers: ${text}`);
    }
    assertSectionConstraints(await sectionIds(page));
    for (const why of await page.$$eval(".adapted-section .why", (nodes) => nodes.map((n) => n.textContent))) {
      assert.match(why, /^Why here: \S/, "every section says why it is there");
    }
    assert.equal((await localStorageEntries(page))[ADAPT_KEY], undefined, "nothing stored before consent");

    await page.getByRole("button", { name: "Remember me" }).click();
    await page.click('#category-nav a[href="#/"]');
    await page.waitForSelector(".adapted-section");
    assertSectionConstraints(await sectionIds(page));
    assert.equal(await offerId(page), "welcome-10");
    assert.equal(await page.textContent("[data-testid=offer] .why"), "Why you see this: A welcome offer for your first visit");
    const stored = (await localStorageEntries(page))[ADAPT_KEY];
    assert.ok(stored?.startsWith('{"format":"shop-personalizer/adapt"'), "decisions are kept once consent allows");
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test("coming back to a cart left behind shows the cart offer; product copy comes from chooseVariant", async () => {
  const { context, page, problems } = await openShop(storefront);
  try {
    await page.getByRole("button", { name: "Remember me" }).click();
    await page.waitForSelector("#consent-banner", { state: "hidden" });
    await page.click('#category-nav a[href="#/c/Shoes"]');
    await page.waitForSelector('[data-placement="category"]');
    await pause(page);
    await page.click('.tile[data-item-id="sku-001"] a');
    await page.waitForSelector('article.product[data-item-id="sku-001"]');
    const copy = await page.getAttribute("article.product .copy", "data-variant-id");
    // sku-001 is tagged grip, trail, waterproof: the shop wrote copy for "trail" and "gift".
    assert.ok(["default", "trail", "gift"].includes(copy), `one of the shop's variants is shown: ${copy}`);
    assert.ok((await page.getAttribute("article.product .copy", "title")).length > 0, "the variant has a reason");
    await pause(page);
    await page.click("#add-to-cart");
    await pause(page);
    // Leaving the shop: pagehide writes what is not saved yet.
    await page.goto("about:blank");

    // A day later (the page's clock moved on), in a new tab of the same browser profile.
    await context.addInitScript((offset) => {
      const realNow = Date.now.bind(Date);
      Date.now = () => realNow() + offset;
    }, 26 * HOUR_MS);
    const later = await context.newPage();
    later.on("pageerror", (error) => problems.push(error.message));
    await later.goto(`${storefront.url}/www/?allow-automation`);
    await later.waitForSelector("body[data-ready=true]");
    assert.equal(await later.isVisible("#consent-banner"), false);
    assert.equal(await offerId(later), "cart-back", "the cart left in the earlier visit brings the cart offer");
    assert.match(await later.textContent("[data-testid=offer] .why"), /For the items you left in your cart/);
    assertSectionConstraints(await sectionIds(later));

    await later.click("[data-testid=offer] button");
    await pause(later);
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});
