// The core module reads its arguments field by field (src/wasm/js_reading.rs) and writes its
// results as JSON text that the browser parses (src/wasm/core/json_results.rs). These pin what
// that reading and writing keep from the generic conversion it replaced: serde's wording of a
// wrong type, no trap on an array-like, getters of a class read, own fields only for an event,
// and f32 results that reach JS as the exact f32 value.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Personalizer } from "./load-package.mjs";

function fresh(shop) {
  const p = new Personalizer({ shop, noise: { botHeuristic: false, burstMaxEvents: 1e6, maxEventsPerMinute: 1e6 } });
  p.setConsent("session");
  return p;
}

/** [code, message] of what `call` threw. */
function thrown(call) {
  try {
    call();
  } catch (error) {
    assert.ok(error instanceof Error && !(error instanceof WebAssembly.RuntimeError), `a coded error: ${error}`);
    return [error.code, error.message];
  }
  assert.fail("expected a throw");
}

test("a wrong type is refused in serde's words, with the call's code", () => {
  const p = fresh("node-core-args-types");
  const events = [
    [{ type: "view", itemId: 7 }, "invalid event: invalid type: integer `7`, expected a string"],
    [{ type: "view", itemId: null }, "invalid event: invalid type: null, expected a string"],
    [{ type: "addToCart", itemId: "a", quantity: 1.5 }, "invalid type: floating point `1.5`, expected u32"],
    [{ type: "addToCart", itemId: "a", quantity: -1 }, "invalid value: integer `-1`, expected u32"],
    [{ type: "rating", itemId: "a", rating: 300 }, "invalid value: integer `300`, expected u8"],
    [{ type: "dwell", itemId: "a", ms: "long" }, 'invalid type: string "long", expected f64'],
    [{ type: "view", itemId: "a", item: { categoryPath: null } }, "invalid type: null, expected a sequence"],
    [{ type: "teleport" }, "unknown variant `teleport`, expected one of `view`, `click`"],
    [{ colour: "red", type: "view", itemId: "a" }, "unknown field `colour`, expected `itemId` or `item`"],
  ];
  for (const [event, message] of events) {
    const [code, got] = thrown(() => p.track(event));
    assert.equal(code, "invalidEvent", got);
    assert.ok(got.includes(message), `${JSON.stringify(event)}: ${got}`);
  }
  const [code, message] = thrown(() => new Personalizer({ shop: "ok", weights: { veiw: 1 } }));
  assert.equal(code, "invalidConfig");
  assert.match(message, /unknown field `weights\.veiw`/);
  assert.match(thrown(() => new Personalizer({ shop: "ok", storageBudgetBytes: -1 }))[1], /expected u32/);
  assert.match(thrown(() => p.removeInterest({ kind: "priceBand", value: "3" }))[1], /invalid interest key: .*expected u8/);
  assert.match(thrown(() => p.preferredHours({ minEvent: 3 }))[1], /unknown field `minEvent`/);
  assert.match(thrown(() => p.upsertItems([{ id: 7 }]))[1], /item 0 .*integer `7`, expected a string/);
  p.free();
});

test("an array-like where an array belongs is refused before any entry is read", () => {
  const p = fresh("node-core-args-array-like");
  const huge = { length: 1e7 };
  const calls = [
    [() => p.track({ type: "impression", placement: "home", itemIds: huge }), "invalidEvent"],
    [() => p.track({ type: "purchase", items: huge, value: 1 }), "invalidEvent"],
    [() => p.upsertItems([{ id: "a", tags: huge }]), "invalidItem"],
    [() => new Personalizer({ shop: "ok", sensitiveCategories: huge }), "invalidConfig"],
  ];
  for (const [call, code] of calls) {
    const [got, message] = thrown(call);
    assert.equal(got, code, message);
    assert.match(message, /expected a sequence/);
  }
  assert.equal(p.track({ type: "view", itemId: "still-works" }).status, "recorded");
  p.free();
});

test("getters of a class are read; an event's own fields only, as before", () => {
  const p = fresh("node-core-args-classes");
  class Product {
    get id() {
      return "sku-1";
    }
    get categoryPath() {
      return ["Shoes"];
    }
  }
  assert.equal(p.upsertItems([new Product()]), 1);
  assert.match(thrown(() => p.track(Object.create({ type: "view", itemId: "a" })))[1], /missing field `type`/);
  const line = { itemId: "a", price: 3, sku: "ignored" };
  assert.equal(p.track({ type: "purchase", items: [line], value: 3 }).status, "recorded", "extra line fields are ignored");
  p.free();
});

test("results keep their field order and f32 values reach JS exactly", () => {
  // A view weighs 0.1: no f32 is 0.1, so a weight written as its shortest f32 decimal would not be one.
  const p = new Personalizer({ shop: "node-core-args-results", noise: { botHeuristic: false }, weights: { view: 0.1 } });
  p.setConsent("session");
  for (let i = 0; i < 12; i++) p.track({ type: "view", itemId: `v${i}`, item: { categoryPath: ["Shoes", `S${i % 3}`], price: 7 + i } });
  const shopper = p.shopperState();
  assert.deepEqual(Object.keys(shopper).slice(0, 3), ["segment", "visits", "orders"]);
  assert.ok(shopper.topInterests.length > 0);
  for (const { weight } of shopper.topInterests) assert.equal(Math.fround(weight), weight, `${weight} is an f32 value`);
  assert.ok(shopper.hourOfWeekActivity.every((x) => Math.fround(x) === x));
  const summary = p.profileSummary();
  assert.deepEqual(Object.keys(summary.visits), ["firstSeenMs", "lastSeenMs", "visits", "sessions", "orders", "revenue"]);
  assert.equal("busiestHourOfWeek" in summary, true);
  p.free();
});
