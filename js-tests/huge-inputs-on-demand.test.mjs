// Issue 14, finding 2, the on-demand module: `OnDemandParts` (what `configureAdaptation` and
// `configureSync` load) is a public class of its own module, so a page can call it directly.
// Its string parameters (the core's JSON of configs, events and shoppers; ids; consent modes)
// and weights are checked before they are copied into wasm, like every argument of
// `Personalizer`: an oversized one throws its code, and the instance and new ones keep working.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { Personalizer } from "./load-package.mjs";
import * as onDemand from "../pkg/shop_personalizer_on_demand.js";

onDemand.initSync({ module: readFileSync(new URL("../pkg/shop_personalizer_on_demand_bg.wasm", import.meta.url)) });
const { OnDemandParts } = onDemand;

/** Above the 32 MiB of JSON one module hands the other. */
const HUGE_JSON = 2 ** 25 + 1;
/** Above the 65,536 characters of one string. */
const LONG = 65_537;
/** Above the largest model (2^20 weights). */
const HUGE_WEIGHTS = 2 ** 20 + 1;

const DIM = 8;
const core = { sharedWeights: () => new Float32Array(DIM), setSharedWeights: () => true };
const config = (shop) => JSON.stringify({ shop });
const SECTIONS = [{ id: "a", kind: "deals", required: true }, { id: "b", kind: "newArrivals" }];

/** A shopper as the core hands it to the parts. */
function shopperJson() {
  const p = new Personalizer({ shop: "node-od-shopper" });
  const shopper = JSON.stringify(p.shopperState());
  p.free();
  return shopper;
}

function codeOf(call) {
  try {
    call();
  } catch (error) {
    assert.ok(error instanceof Error, `an Error, not ${error}`);
    assert.ok(!(error instanceof WebAssembly.RuntimeError), `a coded error, not a trap: ${error.message}`);
    assert.match(error.message, /at most|expected an array|the limit is/, "the message says what was refused");
    return error.code;
  }
  assert.fail("expected a throw");
}

function stillWorks(parts, shopper) {
  parts.observe(JSON.stringify({ type: "view", itemId: "sku-1" }), false, 0);
  parts.forgetItem("sku-0");
  assert.ok(parts.chooseLayout(SECTIONS, undefined, shopper, Date.now()).sections.length >= 1);
  assert.equal(typeof parts.chooseOffer([{ id: "o", audience: [] }], undefined, shopper, Date.now()).reason, "string");
  const copy = parts.chooseVariant({ id: "sku-1" }, [{ id: "v", text: "t", tags: ["x"] }], shopper, Date.now());
  assert.equal(copy.variantId, "v");
  parts.consentChanged("session", "session", new Float32Array(DIM));
}

test("every call of OnDemandParts checks sizes before copying and keeps working", () => {
  const shopper = shopperJson();
  const parts = new OnDemandParts(config("node-od-huge"), core);
  parts.configureAdaptation({ holdoutShare: 0 });
  stillWorks(parts, shopper);
  const json = "x".repeat(HUGE_JSON);
  const long = "x".repeat(LONG);
  const now = Date.now();
  const cases = [
    ["new OnDemandParts(huge config)", () => new OnDemandParts(json, core), "invalidConfig"],
    ["observe(huge event)", () => parts.observe(json, false, 0), "invalidEvent"],
    ["consentChanged(long mode)", () => parts.consentChanged(long, "full", new Float32Array(DIM)), "invalidArgument"],
    ["consentChanged(huge weights)", () => parts.consentChanged("session", "full", new Float32Array(HUGE_WEIGHTS)), "invalidArgument"],
    ["forgotten(huge weights)", () => parts.forgotten(new Float32Array(HUGE_WEIGHTS)), "invalidArgument"],
    ["forgetItem(long id)", () => parts.forgetItem(long), "invalidArgument"],
    ["configureAdaptation(huge)", () => parts.configureAdaptation({ sensitiveCategories: new Array(1e7) }), "invalidConfig"],
    ["chooseLayout({ length: 1e7 })", () => parts.chooseLayout({ length: 1e7 }, undefined, shopper, now), "invalidArgument"],
    ["chooseLayout(huge shopper)", () => parts.chooseLayout(SECTIONS, undefined, json, now), "invalidArgument"],
    ["chooseOffer(1e7 offers)", () => parts.chooseOffer(new Array(1e7), undefined, shopper, now), "invalidArgument"],
    ["chooseOffer(huge shopper)", () => parts.chooseOffer([{ id: "o", audience: [] }], undefined, json, now), "invalidArgument"],
    ["chooseVariant(long item id)", () => parts.chooseVariant({ id: long }, [{ id: "v", text: "t", tags: [] }], shopper, now), "invalidItem"],
    ["chooseVariant({ length: 1e7 })", () => parts.chooseVariant({ id: "a" }, { length: 1e7 }, shopper, now), "invalidArgument"],
    ["chooseVariant(huge shopper)", () => parts.chooseVariant({ id: "a" }, [{ id: "v", text: "t", tags: [] }], json, now), "invalidArgument"],
    ["recordDecisionOutcome(long id)", () => parts.recordDecisionOutcome({ kind: "offer", offerId: long, takenUp: true }), "invalidArgument"],
    ["configureSync(long url)", () => parts.configureSync({ aggregatorUrl: long, modelPublicKey: "00".repeat(32) }), "invalidConfig"],
  ];
  for (const [name, call, code] of cases) {
    assert.equal(codeOf(call), code, name);
    stillWorks(parts, shopper);
  }
  const after = new OnDemandParts(config("node-od-huge-after"), core);
  after.configureAdaptation({ holdoutShare: 0 });
  stillWorks(after, shopper);
  parts.free();
  after.free();
});
