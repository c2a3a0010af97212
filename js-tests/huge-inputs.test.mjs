// Issue 14, finding 2: a huge array-like (a 10 MB string, `{ length: 1e7 }`, a sparse array of
// 1e7) passed to any call used to trap the module in wasm-bindgen's glue ("RuntimeError:
// unreachable"), after which even `new Personalizer()` failed until reload. Every call now checks
// sizes before anything is copied into wasm and throws its usual code; the instance and new ones
// keep working. (The on-demand module's `OnDemandParts`: huge-inputs-on-demand.test.mjs.)
import assert from "node:assert/strict";
import { test } from "node:test";
import { Personalizer } from "./load-package.mjs";

const HUGE = 1e7;
const hugeLikes = () => [
  ["a 10 MB string", "x".repeat(HUGE)],
  ["{ length: 1e7 }", { length: HUGE }],
  ["a sparse array of 1e7", new Array(HUGE)],
  ["an array of 1e7 objects", new Array(HUGE).fill({ id: "a" })],
];

/** The `code` of what `call` threw; fails when it did not throw an Error. */
function codeOf(call) {
  try {
    call();
  } catch (error) {
    assert.ok(error instanceof Error, `an Error, not ${error}`);
    assert.ok(!(error instanceof WebAssembly.RuntimeError), `a coded error, not a trap: ${error.message}`);
    return error.code;
  }
  assert.fail("expected a throw");
}

/** The `code` a promise rejected with; fails when it resolved or rejected with no Error. */
async function rejectedCode(promise) {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof Error && !(error instanceof WebAssembly.RuntimeError), `a coded error: ${error}`);
    return error.code;
  }
  assert.fail("expected a rejection");
}

async function fresh(shop) {
  const noise = { botHeuristic: false, burstMaxEvents: 1e6, maxEventsPerMinute: 1e6 };
  const p = new Personalizer({ shop, noise });
  p.setConsent("session");
  await p.configureAdaptation({ holdoutShare: 0 });
  return p;
}

let viewed = 0;

/** The instance answers every kind of call normally. */
function stillWorks(p) {
  assert.equal(p.upsertItems([{ id: "sku-1", categoryPath: ["Shoes"] }]), 1);
  viewed += 1; // a repeated view of one item would be filtered as noise
  assert.equal(p.track({ type: "view", itemId: `seen-${viewed}` }).status, "recorded");
  const page = p.chooseLayout([{ id: "a", kind: "deals", required: true }, { id: "b", kind: "newArrivals" }]);
  assert.ok(page.sections.length >= 1);
  assert.equal(typeof p.chooseOffer([{ id: "o", audience: [] }]).reason, "string");
  const copy = p.chooseVariant({ id: "sku-1" }, [{ id: "v", text: "t", tags: ["x"] }]);
  assert.equal(copy.variantId, "v");
  assert.equal(p.rank(p.registerCandidates({ ids: ["a", "b"] })).items.length, 2);
}

const arrayCalls = [
  ["upsertItems", "invalidItem", (p, v) => p.upsertItems(v)],
  ["chooseLayout", "invalidArgument", (p, v) => p.chooseLayout(v)],
  ["chooseOffer", "invalidArgument", (p, v) => p.chooseOffer(v)],
  ["chooseVariant", "invalidArgument", (p, v) => p.chooseVariant({ id: "sku-1" }, v)],
];

test("a huge array-like in an array parameter throws its code and traps nothing", async () => {
  const p = await fresh("node-huge-arrays");
  for (const [name, code, call] of arrayCalls) {
    for (const [kind, value] of hugeLikes()) {
      assert.equal(codeOf(() => call(p, value)), code, `${name}(${kind})`);
      stillWorks(p);
    }
  }
  stillWorks(await fresh("node-huge-arrays-after"));
  p.free();
});

test("huge strings and arrays inside object arguments throw their code before being copied", async () => {
  const p = await fresh("node-huge-fields");
  const big = "x".repeat(HUGE);
  const cases = [
    [() => new Personalizer({ shop: big }), "invalidConfig"],
    [() => p.setConsent(big), "invalidArgument"],
    [() => p.track({ type: "view", itemId: big }), "invalidEvent"],
    [() => p.track({ type: "impression", placement: "home", itemIds: new Array(HUGE).fill("a") }), "invalidEvent"],
    [() => p.track({ type: "view", itemId: "a", [big]: 1 }), "invalidEvent"],
    [() => p.upsertItems([{ id: "a", tags: new Array(HUGE) }]), "invalidItem"],
    [() => p.registerCandidates({ ids: new Array(HUGE).fill("a") }), "invalidAnswer"],
    [() => p.registerCandidates({ ids: ["a"], titles: new Array(4).fill(big) }), "invalidAnswer"],
    [() => p.registerCandidates({ ids: ["a"], embeddings: new Float32Array(2e7) }), "invalidAnswer"],
    [() => p.registerCandidates({ ids: ["a"], neighbours: { offsets: [0, 1], ids: new Array(HUGE), scores: [1] } }), "invalidAnswer"],
    [() => p.rank(p.registerCandidates({ ids: ["a"] }), { rules: { exclude: new Array(HUGE) } }), "invalidArgument"],
    [() => p.removeInterest({ kind: "brand", value: big }), "invalidArgument"],
    [() => p.setConsent("full", { [big]: true }), "invalidArgument"],
    [() => p.recordDecisionOutcome({ kind: "offer", offerId: big, takenUp: true }), "invalidArgument"],
    [() => p.chooseLayout([{ id: big, kind: "deals" }]), "invalidArgument"],
    [() => p.chooseLayout([{ id: "a", kind: "deals" }], { maxSections: big }), "invalidArgument"],
    [() => p.chooseOffer([{ id: "o", audience: new Array(HUGE) }]), "invalidArgument"],
    [() => p.chooseVariant({ id: big }, [{ id: "v", text: "t", tags: [] }]), "invalidItem"],
    [() => p.chooseVariant({ id: "a" }, [{ id: "v", text: big, tags: [] }]), "invalidArgument"],
    [() => p.preferredHours({ minEvents: big }), "invalidArgument"],
  ];
  for (const [call, code] of cases) {
    assert.equal(codeOf(call), code, call.toString());
    stillWorks(p);
  }
  const promised = [
    [() => p.configureAdaptation({ sensitiveCategories: new Array(HUGE) }), "invalidConfig"],
    [() => p.configureSync({ aggregatorUrl: big, modelPublicKey: "00".repeat(32) }), "invalidConfig"],
  ];
  for (const [call, code] of promised) {
    assert.equal(await rejectedCode(call()), code, call.toString());
    stillWorks(p);
  }
  p.free();
});

test("nesting, endless iterables and throwing getters are refused, not followed", async () => {
  const p = await fresh("node-odd-values");
  let deep = { id: "a" };
  for (let i = 0; i < 100; i++) deep = { id: "a", item: deep };
  function* endless() {
    for (;;) yield "a";
  }
  const throwing = { type: "view", get itemId() { throw new Error("no"); } };
  assert.equal(codeOf(() => p.track({ type: "view", itemId: "a", item: deep })), "invalidEvent");
  assert.equal(codeOf(() => p.track({ type: "impression", placement: "home", itemIds: endless() })), "invalidEvent");
  assert.equal(codeOf(() => p.track(throwing)), "invalidEvent");
  stillWorks(p);
  p.free();
});

test("array parameters over their call's limit name it", async () => {
  const p = await fresh("node-call-limits");
  const sections = Array.from({ length: 33 }, (_, i) => ({ id: `s${i}`, kind: "deals" }));
  assert.throws(() => p.chooseLayout(sections), /33 sections given; the limit is 32/);
  const offers = Array.from({ length: 65 }, (_, i) => ({ id: `o${i}`, audience: [] }));
  assert.throws(() => p.chooseOffer(offers), /65 offers given; the limit is 64/);
  const variants = Array.from({ length: 17 }, (_, i) => ({ id: `v${i}`, text: "t", tags: [] }));
  assert.throws(() => p.chooseVariant({ id: "a" }, variants), /17 variants given; the limit is 16/);
  const items = Array.from({ length: 1001 }, (_, i) => ({ id: `i${i}` }));
  assert.throws(() => p.upsertItems(items), /at most 1000/);
  assert.equal(codeOf(() => p.upsertItems({ id: "a" })), "invalidItem", "an object where an array belongs");
  stillWorks(p);
  p.free();
});
