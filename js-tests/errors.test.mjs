// Errors from the built package: every throw is an Error with a stable `code` beside its message,
// warnings say whether storage or the network is at fault, and the test-only panic export is
// not in the package.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Personalizer } from "./load-package.mjs";

/** The `code` of what `call` threw; fails when it did not throw an Error. */
function codeOf(call) {
  try {
    call();
  } catch (error) {
    assert.ok(error instanceof Error, `an Error, not ${error}`);
    assert.equal(typeof error.message, "string");
    return error.code;
  }
  assert.fail("expected a throw");
}

test("each kind of bad call throws its own code", async () => {
  const p = new Personalizer({ shop: "node-codes", noise: { botHeuristic: false } });
  p.setConsent("session");
  const cases = [
    [() => new Personalizer({ shop: "" }), "invalidConfig"],
    [() => new Personalizer({ shop: "ok", sensitiveCategory: ["Health"] }), "invalidConfig"],
    [() => new Personalizer(), "invalidConfig"],
    [() => p.track({ type: "view", itemId: "" }), "invalidEvent"],
    [() => p.track({ type: "fly", itemId: "a" }), "invalidEvent"],
    [() => p.track(null), "invalidEvent"],
    [() => p.upsertItems([{ id: "ok" }, { id: "bad", price: "cheap" }]), "invalidItem"],
    [() => p.registerCandidates({ ids: ["a", "a"] }), "invalidAnswer"],
    [() => p.registerCandidates({ ids: ["a"], embedding: [1] }), "invalidAnswer"],
    [() => p.rank(987654), "unknownHandle"],
    [() => p.setConsent("everything"), "invalidArgument"],
    [() => p.removeInterest({ kind: "mood", value: "happy" }), "invalidArgument"],
  ];
  for (const [call, code] of cases) assert.equal(codeOf(call), code, call.toString());
  // Adaptation and sync load on demand: before, their calls say so; a bad setting rejects.
  assert.equal(codeOf(() => p.chooseOffer([{ id: "x", audience: [] }])), "notConfigured");
  assert.equal(codeOf(() => p.privacyLedger()), "notConfigured");
  const rejected = async (promise, code) => assert.rejects(promise, (e) => e instanceof Error && e.code === code);
  await rejected(p.configureSync({ aggregatorUrl: "ftp://x", modelPublicKey: "00".repeat(32) }), "invalidConfig");
  await rejected(p.configureAdaptation({ holdoutShare: 2 }), "invalidConfig");
  await p.configureAdaptation({ holdoutShare: 0 });
  const outcome = { kind: "offer", offerId: "never-shown", takenUp: true };
  assert.equal(codeOf(() => p.recordDecisionOutcome(outcome)), "unknownDecision");
  const handle = p.registerCandidates({ ids: ["a", "b"] });
  assert.equal(codeOf(() => p.rank(handle, { diversity: { strength: 3 } })), "invalidArgument");
  assert.equal(p.rank(handle).items.length, 2, "the instance keeps working");
  p.free();
});

test("warnings carry a kind beside their code", () => {
  const p = new Personalizer({ shop: "node-warning-kind" });
  const [warning] = p.warnings();
  assert.deepEqual([warning.code, warning.kind], ["storageUnavailable", "storage"]);
  p.free();
});

test("the package has no panic trigger", () => {
  assert.equal(Personalizer.prototype.__panicForTest, undefined);
});
