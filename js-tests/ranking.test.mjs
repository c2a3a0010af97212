// Ranking through the built npm package from Node: a server answer as a storefront holds it in,
// the ranked list out with the documented shape (any text in ids and titles), the session joining
// the ranking, and malformed answers rejected with typed errors while the instance keeps working.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { Personalizer } from "./load-package.mjs";

const DIM = 4;

function answer(prefix, n, about) {
  const ids = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  const result = {
    ids,
    scores: Float32Array.from(ids, (_, i) => 1 - i / n),
    titles: ids.map((_, i) => `Item ${i}`),
    attributes: ids.map((_, i) => ({ categoryPath: [i % 2 ? "Shoes" : "Coffee"], brand: `Brand ${i % 3}`, price: 10 + i })),
    popularity: Float32Array.from(ids, (_, i) => (i * 37) % 11),
    embeddings: Float32Array.from({ length: n * DIM }, (_, k) => ((k * 7919) % 13) / 13 - 0.5),
    neighbours: {
      offsets: Uint32Array.from({ length: n + 1 }, (_, i) => Math.min(i, n - 1)),
      ids: ids.slice(1),
      scores: Float32Array.from(ids.slice(1), () => 1),
    },
  };
  if (about) result.about = about;
  return result;
}

test("a registered answer ranks into the documented items, text intact", () => {
  const p = new Personalizer({ shop: "node-rank" });
  const handle = p.registerCandidates({ ids: ["café-1", "😀-2", 'plain "3"'], titles: ["Café ☕", "", "😀 smile"] });
  const ranked = p.rank(handle, { placement: "home", limit: 3 });
  assert.deepEqual(Object.keys(ranked).sort(), ["explored", "impression", "items", "propensity"]);
  assert.equal(ranked.propensity, 1);
  assert.equal(ranked.explored, false);
  assert.ok(ranked.impression >= 1);
  const shopPick = { code: "shopPick", text: "Picked by the shop" };
  assert.deepEqual(ranked.items.map(({ score, ...rest }) => rest), [
    { id: "café-1", reasons: ["serverPick"], reason: "Picked by the shop", explanation: shopPick, fromSession: false, title: "Café ☕" },
    { id: "😀-2", reasons: ["serverPick"], reason: "Picked by the shop", explanation: shopPick, fromSession: false },
    { id: 'plain "3"', reasons: ["serverPick"], reason: "Picked by the shop", explanation: shopPick, fromSession: false, title: "😀 smile" },
  ]);
  const scores = ranked.items.map((item) => item.score);
  assert.ok(scores.every(Number.isFinite) && scores[0] >= scores[1] && scores[1] >= scores[2], `${scores}`);
  assert.equal(p.releaseCandidates(handle), true);
  assert.equal(p.releaseCandidates(handle), false);
  p.free();
});

test("earlier answers of the session join a ranking and the reasons say why", () => {
  const p = new Personalizer({ shop: "node-rank-session", noise: { botHeuristic: false } });
  p.setConsent("session");
  for (const page of ["a-3", "a-5"]) {
    p.track({ type: "view", itemId: page, item: { categoryPath: ["Shoes"] } });
    p.registerCandidates(answer(`near-${page}`, 6, page));
  }
  const handle = p.registerCandidates(answer("a", 12));
  const { items } = p.rank(handle, { placement: "home", limit: 12 });
  assert.equal(items.length, 12);
  assert.ok(items.some((item) => item.fromSession), "items of earlier answers join");
  const codes = new Set(items.flatMap((item) => item.reasons));
  assert.ok(!codes.has("serverPick") || codes.size > 1, `a session changes the reasons: ${[...codes]}`);
  for (const item of items) assert.ok(item.reason.length > 0 && Array.isArray(item.reasons));
  p.free();
});

test("malformed answers throw typed errors and the instance keeps working", () => {
  const p = new Personalizer({ shop: "node-rank-errors" });
  const cases = [
    [{ ...answer("d", 3), ids: ["d-0", "d-1", "d-0"] }, /appears twice/],
    [{ ...answer("n", 3), scores: Float32Array.of(1, Number.NaN, 0.5) }, /is NaN/],
    [{ ...answer("s", 3), scores: Float32Array.of(1, 2) }, /scores has 2 entries for 3 candidates/],
    [{ ...answer("e", 3), embeddings: new Float32Array(7) }, /embeddings hold 7 numbers for 3 candidates/],
    [{ ...answer("x", 3), next: Float32Array.of(0.5, 1.5, 0) }, /next of candidate "x-1" is 1.5/],
    [{ ...answer("l", 3), next: [0.5] }, /next has 1 entries for 3 candidates/],
    [{ ...answer("o", 3), neighbours: { offsets: Uint32Array.of(0, 9, 1, 2), ids: ["x", "y"], scores: Float32Array.of(1, 1) } }, /neighbours.offsets\[1\] is 9/],
    [{ ids: ["a", 7] }, /invalid answer.ids/],
    [{ ids: ["a"], attributes: [{ price: "cheap" }] }, /invalid answer.attributes/],
    [{ ids: ["a"], embedding: new Float32Array(4) }, /unknown field `embedding`/],
    [{ ids: ["a"], titles: [1n] }, /must be plain JSON data/],
    [[], /expected an object/],
  ];
  for (const [bad, message] of cases) {
    assert.throws(() => p.registerCandidates(bad), (error) => error instanceof Error && message.test(error.message));
  }
  assert.throws(() => p.rank(12345), /call registerCandidates again/);
  const handle = p.registerCandidates(answer("ok", 4));
  assert.throws(() => p.rank(handle, { diversity: { strength: 2 } }), /between 0 and 1/);
  assert.equal(p.rank(handle, { limit: 2 }).items.length, 2);
  p.free();
});

test("an answer's next column is read (typed array or numbers), and an answer without it still ranks", () => {
  const p = new Personalizer({ shop: "node-rank-next" });
  p.setConsent("full");
  for (const next of [Float32Array.of(0, 0.75, 0.25, 0), [0, 0.75, 0.25, 0], undefined]) {
    const about = p.registerCandidates({ ...answer("q", 4, "viewed"), next });
    assert.equal(p.rank(about, { limit: 4 }).items.length, 4);
  }
  p.free();
});

test("the generated CandidateAnswer type has exactly the fields the engine accepts", () => {
  const p = new Personalizer({ shop: "node-answer-fields" });
  let message = "";
  try {
    p.registerCandidates({ ids: ["a"], notAField: 1 });
  } catch (error) {
    message = error.message;
  }
  p.free();
  // The list in the message is the core's ANSWER_FIELDS (src/personalizer/ranking/answer.rs).
  const accepted = message.split("the fields are ")[1]?.split(", ");
  assert.ok(accepted?.length > 0, message);
  const dts = readFileSync(new URL("../pkg/shop_personalizer.d.ts", import.meta.url), "utf8");
  const body = dts.split("export interface CandidateAnswer {")[1].split("\n}")[0];
  const typed = [...body.matchAll(/^ {4}(\w+)\??:/gm)].map((m) => m[1]);
  assert.deepEqual([...typed].sort(), [...accepted].sort());
});

test("an explanation names the interest that matched and the item viewed, as structured fields", () => {
  const p = new Personalizer({ shop: "node-explain", noise: { botHeuristic: false } });
  p.setConsent("session");
  const trail = { categoryPath: ["Shoes", "Trail"], brand: "Summit", price: 120 };
  for (const id of ["t1", "t2", "t3"]) p.track({ type: "view", itemId: id, item: trail });
  const handle = p.registerCandidates({
    ids: ["tent", "shoe"],
    attributes: [{ categoryPath: ["Camping", "Tents"], brand: "Acme", price: 300 }, { categoryPath: ["Shoes", "Trail"], brand: "Zed", price: 90 }],
  });
  const { items } = p.rank(handle, { placement: "home", limit: 2 });
  const shoe = items.find((item) => item.id === "shoe");
  assert.deepEqual(shoe.explanation, {
    code: "interest",
    interest: { kind: "category", value: "Shoes > Trail" },
    text: "Matches your interest in Trail",
  });
  assert.equal(shoe.reason, shoe.explanation.text);
  const tent = items.find((item) => item.id === "tent");
  assert.ok(!tent.reason.includes("Tents"), tent.reason);
  p.free();
});
