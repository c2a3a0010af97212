// An optional field set to `undefined` is an absent field, in every argument of every call: what
// TypeScript's `exactOptionalPropertyTypes` lets callers write (`?: T | undefined` in the .d.ts).
// Before, `{ weights: undefined }` threw "invalid type: unit value, expected struct SignalWeights".
import assert from "node:assert/strict";
import { test } from "node:test";
import { Personalizer } from "./load-package.mjs";

const attributes = { categoryPath: ["Shoes", "Trail"], brand: undefined, price: undefined, tags: undefined };

function made() {
  const p = new Personalizer({
    shop: "undefined-fields",
    affinityHalfLifeDays: undefined,
    sessionHalfLifeMinutes: undefined,
    storageBudgetBytes: undefined,
    sensitiveCategories: undefined,
    noise: { botHeuristic: false, minDwellMs: undefined, duplicateViewWindowMs: undefined },
    weights: undefined,
  });
  p.setConsent("session", { explicitOptIn: undefined });
  return p;
}

test("new Personalizer, setConsent, track and upsertItems take undefined fields", () => {
  const p = made();
  const events = [
    { type: "view", itemId: "a", item: attributes },
    { type: "view", itemId: "b", item: undefined },
    { type: "click", itemId: "a", placement: undefined, position: undefined, item: undefined },
    { type: "impression", placement: "home", itemIds: ["a"], positions: undefined },
    { type: "addToCart", itemId: "a", quantity: undefined, item: undefined },
    { type: "removeFromCart", itemId: "a", quantity: undefined },
    { type: "purchase", items: [{ itemId: "a", quantity: undefined, price: undefined }], value: 3 },
    { type: "search", query: "trail", resultIds: undefined },
    { type: "scrollDepth", itemId: undefined, depth: 0.5 },
  ];
  for (const event of events) assert.equal(p.track(event).status, "recorded", JSON.stringify(event));
  assert.equal(p.upsertItems([{ id: "c", ...attributes }]), 1);
  assert.equal(p.shopperState().cartItems, 0);
  assert.deepEqual(p.profileSummary().visits.orders, 1);
});

test("registerCandidates, rank and preferredHours take undefined fields", () => {
  const p = made();
  p.track({ type: "view", itemId: "a", item: attributes });
  const handle = p.registerCandidates({
    ids: ["b", "a"],
    about: undefined,
    scores: undefined,
    titles: undefined,
    popularity: undefined,
    attributes: [{ categoryPath: ["Shoes", "Road"] }, attributes],
    embeddings: undefined,
    neighbours: undefined,
  });
  const context = {
    placement: "home",
    currentItem: undefined,
    query: undefined,
    limit: undefined,
    rules: { pins: undefined, exclude: undefined, boost: undefined, bury: undefined },
    diversity: { strength: undefined, maxPerCategory: undefined },
    explore: undefined,
  };
  assert.deepEqual(p.rank(handle, context).items.map((item) => item.id), p.rank(handle, { placement: "home" }).items.map((item) => item.id));
  assert.equal(p.rank(handle, undefined).items.length, 2);
  const hours = p.preferredHours({ minEvents: undefined, minActiveDays: undefined, dailyPooling: undefined, lift: undefined, maxHours: undefined });
  assert.equal(hours.status, "notEnoughData");
});

test("the on-demand calls take undefined fields", async () => {
  const p = made();
  await p.configureAdaptation({ bandit: { exploration: undefined }, holdoutShare: 0, layout: undefined, sensitiveCategories: undefined });
  const page = p.chooseLayout([{ id: "s", kind: "deals", required: undefined, minPosition: undefined, maxPosition: undefined }], {
    maxSections: undefined,
    defaultDensity: undefined,
    category: undefined,
  });
  assert.deepEqual(page.sections.map((section) => section.id), ["s"]);
  const offer = p.chooseOffer([{ id: "o", audience: [{ kind: "firstVisit", minOrders: undefined, category: undefined }], limits: { frequencyCap: undefined, cooldownHours: undefined } }], {
    allowNone: undefined,
    category: undefined,
  });
  assert.equal(offer.offerId, "o");
  const copy = p.chooseVariant({ id: "a", ...attributes }, [{ id: "v", text: "Grippy", tags: undefined }]);
  assert.equal(copy.variantId, "v");
  await p.configureSync({
    aggregatorUrl: "http://127.0.0.1:9",
    modelPublicKey: "00".repeat(32),
    maxJitterMs: undefined,
    privacy: { noiseMultiplier: undefined, clipBound: undefined, delta: undefined, periodSeconds: undefined },
    liftReport: { placements: undefined, caps: { sessions: undefined }, epsilon: undefined, noise: undefined },
    autoSync: false,
    checkIntervalMs: undefined,
    modelRefreshMs: undefined,
  });
  assert.equal(typeof p.privacyLedger().periodBudgetEpsilon, "number");
});

test("a misspelt field with a value is still refused", () => {
  assert.throws(() => new Personalizer({ shop: "typo", sensitiveCategory: ["Health"] }), { code: "invalidConfig", message: /sensitiveCategory/ });
});
