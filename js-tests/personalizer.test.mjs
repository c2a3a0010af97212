// The built npm package from Node: typed errors, outcomes, the memory-only fallback outside a
// browser, robustness against malformed calls, and the stored size after 1,000 events.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Personalizer } from "./load-package.mjs";

const shoe = { categoryPath: ["Shoes", "Running", "Trail"], brand: "Summit", price: 129.99, tags: ["trail"] };

test("outside a browser the profile lives in memory, and says so", () => {
  const p = new Personalizer({ shop: "node-memory" });
  const [warning] = p.warnings();
  assert.equal(warning.code, "storageUnavailable");
  assert.match(warning.message, /memory only/);
  assert.deepEqual(p.setConsent("full", { explicitOptIn: true }), {
    requested: "full",
    effective: "full",
    cappedByGlobalPrivacyControl: false,
  });
  assert.deepEqual(p.track({ type: "view", itemId: "sku-1", item: shoe }), { status: "recorded", newSession: true });
  const report = p.flush();
  assert.equal(report.written, true);
  assert.ok(report.storedBytes > 100, `stored ${report.storedBytes} bytes`);
  p.free();
});

test("consent starts at none and nothing is collected until setConsent", () => {
  const p = new Personalizer({ shop: "node-consent" });
  assert.equal(p.consent, "none");
  assert.deepEqual(p.track({ type: "view", itemId: "sku-1", item: shoe }), { status: "noConsent" });
  assert.deepEqual(p.profileSummary().topInterests, []);
  p.setConsent("session");
  assert.equal(p.consent, "session");
  p.track({ type: "view", itemId: "sku-1", item: shoe });
  const labels = p.profileSummary().topInterests.map((interest) => interest.label);
  assert.deepEqual(labels.sort(), ["100 to 250", "Running", "Shoes", "Summit", "Trail", "trail"]);
  p.free();
});

test("bad input throws an Error with a message saying what is wrong, and the instance keeps working", () => {
  const p = new Personalizer({ shop: "node-errors", noise: { botHeuristic: false } });
  p.setConsent("session");
  const cases = [
    [{ type: "view", itemId: "" }, /item id is empty/],
    [{ type: "view", itemId: "a", item: { price: Number.NaN } }, /price NaN/],
    [{ type: "view", itemId: "a", item: { price: -2 } }, /price -2/],
    [{ type: "fly", itemId: "a" }, /unknown variant `fly`/],
    [{ type: "rating", itemId: "a", rating: 0 }, /rating must be a finite number from 1 to 5/],
    [{ type: "search", query: "x".repeat(300) }, /query is 300 bytes long/],
    [{ type: "impression", placement: "home", itemIds: Array.from({ length: 1001 }, (_, i) => `i${i}`) }, /limit is 1000/],
    [null, /invalid event: expected an object, got null/],
    [undefined, /invalid event: expected an object, got undefined/],
    ["view", /invalid event: expected an object, got string/],
    [42, /invalid event: expected an object, got number/],
    [[{ type: "view", itemId: "a" }], /invalid event: expected an object, got an array/],
  ];
  for (const [event, message] of cases) {
    assert.throws(() => p.track(event), (error) => error instanceof Error && message.test(error.message), JSON.stringify(event));
  }
  assert.throws(() => p.setConsent("everything"), /"none", "session" or "full"/);
  assert.throws(() => p.removeInterest({ kind: "mood", value: "happy" }), /invalid interest key/);
  assert.throws(() => p.upsertItems([{ id: "ok" }, { id: "bad", price: "cheap" }]), /item 1/);
  assert.throws(() => p.upsertItems([{ id: "ok" }, null]), /item 1 .*expected an object, got null/);
  assert.throws(() => new Personalizer({ shop: "no spaces allowed" }), /shop/);
  assert.throws(() => new Personalizer(), /invalid config/);
  assert.deepEqual(p.profileSummary().topInterests, [], "nothing from a rejected call was learned");
  assert.deepEqual(p.track({ type: "view", itemId: "still-works", item: shoe }), { status: "recorded", newSession: true });
  p.free();
});

test("exportProfile is readable JSON of everything kept; forget clears it", () => {
  const p = new Personalizer({ shop: "node-export", noise: { botHeuristic: false } });
  p.setConsent("full", { explicitOptIn: true });
  p.upsertItems([{ id: "sku-9", ...shoe }]);
  p.track({ type: "addToCart", itemId: "sku-9", quantity: 2 });
  const exported = JSON.parse(p.exportProfile());
  assert.equal(typeof exported.explanation, "string");
  assert.ok(JSON.stringify(exported.profile).includes("sku-9"));
  assert.equal(exported.summary.kept.cartItems, 1);
  assert.equal(p.removeInterest({ kind: "brand", value: "Summit" }), true);
  assert.ok(!p.profileSummary().topInterests.some((i) => i.key.kind === "brand"));
  assert.equal(p.forget(), 1, "the profile key of the in-memory store");
  assert.deepEqual(p.profileSummary().topInterests, []);
  p.free();
});

test("with memory only, the export and forget() cover what the on-demand module keeps", async () => {
  // Both modules keep their state in one memory store of the page, as they would in localStorage.
  const p = new Personalizer({ shop: "node-memory-parts", noise: { botHeuristic: false } });
  p.setConsent("full", { explicitOptIn: true });
  await p.configureAdaptation({ holdoutShare: 0 });
  p.track({ type: "view", itemId: "sku-1", item: shoe });
  const page = p.chooseLayout([{ id: "a", kind: "deals", required: true }, { id: "b", kind: "newArrivals" }]);
  assert.ok(page.sections.length >= 1);
  p.flush();
  const { sections } = JSON.parse(p.exportProfile());
  const adaptation = sections.find((section) => section.name === "adaptation");
  assert.deepEqual(adaptation.keys, ["shop-personalizer:node-memory-parts:adapt"]);
  assert.equal(adaptation.stored.length, 1);
  assert.ok(JSON.stringify(adaptation.stored[0]).includes("deals"), "the adaptation state itself, as stored");
  const stored = sections.flatMap((section) => section.keys);
  assert.equal(p.forget(), stored.length, `forget() removes every key the export lists: ${stored}`);
  assert.deepEqual(JSON.parse(p.exportProfile()).sections.flatMap((section) => section.keys), []);
  p.free();
});

test("1,000 tracked events stay within the 64 KB budget (prints the stored size)", (t) => {
  const p = new Personalizer({
    shop: "node-size",
    noise: { botHeuristic: false, maxEventsPerMinute: 100000, burstMaxEvents: 100000 },
  });
  p.setConsent("full", { explicitOptIn: true });
  const categories = [["Shoes", "Running", "Trail"], ["Shoes", "Hiking"], ["Outdoor", "Tents"], ["Kitchen", "Coffee"], ["Books", "Travel"]];
  const brands = ["Summit", "Ridgeline", "Nomad", "Crema", "Wayfarer", "Forge"];
  p.upsertItems(Array.from({ length: 400 }, (_, i) => ({
    id: `sku-${i}`,
    categoryPath: categories[i % categories.length],
    brand: brands[i % brands.length],
    price: 5 + ((i * 37) % 400),
    tags: [`tag-${i % 23}`, `tag-${(i * 7) % 31}`],
  })));
  const kinds = ["view", "view", "view", "click", "addToCart", "dwell", "search", "impression", "rating", "wishlistAdd", "dismiss", "purchase"];
  let recorded = 0;
  for (let n = 0; n < 1000; n += 1) {
    const itemId = `sku-${(n * 53) % 400}`;
    const kind = kinds[n % kinds.length];
    const event = {
      view: { type: "view", itemId },
      click: { type: "click", itemId, placement: "home", position: n % 12 },
      addToCart: { type: "addToCart", itemId },
      dwell: { type: "dwell", itemId, ms: 4000 + (n % 9) * 1000 },
      search: { type: "search", query: `query ${n % 40}`, resultIds: [itemId, `sku-${(n + 1) % 400}`] },
      impression: { type: "impression", placement: "home", itemIds: [itemId, `sku-${(n + 2) % 400}`, `sku-${(n + 3) % 400}`] },
      rating: { type: "rating", itemId, rating: 1 + (n % 5) },
      wishlistAdd: { type: "wishlistAdd", itemId },
      dismiss: { type: "dismiss", itemId },
      purchase: { type: "purchase", items: [{ itemId, quantity: 1, price: 20 }], value: 20 },
    }[kind];
    if (p.track(event).status === "recorded") recorded += 1;
  }
  const { storedBytes } = p.flush();
  t.diagnostic(`stored profile after 1000 tracked events (${recorded} recorded): ${storedBytes} bytes`);
  assert.ok(recorded > 900, `most events are recorded: ${recorded}`);
  assert.ok(storedBytes > 1000 && storedBytes <= 65536, `${storedBytes} bytes`);
  p.free();
});
