// The browser benchmark: times the whole public JS call — a server answer as the storefront holds
// it in, the ranked list out — for 50, 200 and 1000 candidates with 32-d embeddings, next to a
// plain-JS twin of the scoring; then grows a returning shopper's stored profile (shopper.js) and
// times track() over it (track-bench.js). Results land in `window.benchResults` (read by run.mjs)
// and in the page's table.
import init, { Personalizer } from "../pkg/shop_personalizer.js";
import { DIM, serverAnswer } from "./storefront-data.js";
import { growStoredProfile } from "./shopper.js";
import { benchTrack } from "./track-bench.js";

const SIZES = [50, 200, 1000];
const SAMPLES = 200;
const TRACK_RUNS = 15;
const CONTEXT = { placement: "home", limit: 20, diversity: { strength: 0.3 } };

/** Times `call` in batches (the timer's resolution is coarse); returns per-call ms. */
function measure(call, batch) {
  for (let i = 0; i < 30; i++) call();
  const perCall = [];
  for (let s = 0; s < SAMPLES; s++) {
    const start = performance.now();
    for (let b = 0; b < batch; b++) call();
    perCall.push((performance.now() - start) / batch);
  }
  perCall.sort((a, b) => a - b);
  return { median: perCall[Math.floor(SAMPLES / 2)], p95: perCall[Math.floor(SAMPLES * 0.95)] };
}

/** The shopper the twin knows: the session's taste vector and category affinities. */
function twinShopper(sessionAnswers) {
  const taste = new Float32Array(DIM);
  for (const answer of sessionAnswers) for (let d = 0; d < DIM; d++) taste[d] += answer.aboutEmbedding[d];
  let norm = 0;
  for (let d = 0; d < DIM; d++) norm += taste[d] * taste[d];
  norm = Math.sqrt(norm) || 1;
  for (let d = 0; d < DIM; d++) taste[d] /= norm;
  const affinity = new Map(sessionAnswers.map((answer, k) => [answer.attributes[0].categoryPath.at(-1), 1 / (k + 1)]));
  return { taste, affinity };
}

const TWIN_WEIGHTS = { server: 1.2, rank: 1.1, similar: 3.0, affinity: 0.3, popularity: 0.1 };

/**
 * The plain-JS twin of the scoring: the same kinds of signal (server score and position, cosine
 * similarity of the 32-d embedding to the session, category affinity, popularity) in a careful
 * typed-array loop, a linear model, a top-k selection, and the same output shape. No
 * co-visitation, no interaction features, no MMR, no earlier answers joining: it is the bare
 * arithmetic, a lower bound for any JS ranker.
 */
function twinRank(answer, shopper, limit) {
  const n = answer.ids.length;
  const { scores: server, embeddings, popularity, attributes } = answer;
  const taste = shopper.taste;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const s = server[i];
    if (s < min) min = s;
    if (s > max) max = s;
  }
  const span = max > min ? max - min : 1;
  const w = TWIN_WEIGHTS;
  // The best `limit` rows so far, best first.
  const topRows = new Int32Array(limit);
  const topScores = new Float64Array(limit).fill(-Infinity);
  for (let i = 0; i < n; i++) {
    let dot = 0;
    let norm = 0;
    const base = i * DIM;
    for (let d = 0; d < DIM; d++) {
      const x = embeddings[base + d];
      dot += x * taste[d];
      norm += x * x;
    }
    const similar = norm > 0 ? dot / Math.sqrt(norm) : 0;
    const path = attributes[i].categoryPath;
    const affinity = shopper.affinity.get(path[path.length - 1]) ?? 0;
    const score = w.server * (server[i] - min) / span + w.rank / Math.log2(i + 2) + w.similar * similar
      + w.affinity * affinity + w.popularity * Math.log1p(popularity[i]);
    if (score <= topScores[limit - 1]) continue;
    let at = limit - 1;
    while (at > 0 && topScores[at - 1] < score) {
      topScores[at] = topScores[at - 1];
      topRows[at] = topRows[at - 1];
      at--;
    }
    topScores[at] = score;
    topRows[at] = i;
  }
  const items = [];
  for (let k = 0; k < Math.min(limit, n); k++) {
    items.push({ id: answer.ids[topRows[k]], score: topScores[k], reason: "recommended for you" });
  }
  return items;
}

/** A personalizer with a short session: five product pages, each with the server's answer about it. */
function sessionPersonalizer() {
  const personalizer = new Personalizer({ shop: "bench", noise: { botHeuristic: false } });
  personalizer.setConsent("session");
  const sessionAnswers = [];
  for (let k = 0; k < 5; k++) {
    const itemId = `sku-${k * 97}`;
    const answer = serverAnswer(itemId, 50, 100 + k);
    personalizer.track({ type: "view", itemId, item: answer.attributes[0] });
    personalizer.registerCandidates(answer);
    sessionAnswers.push(answer);
  }
  return { personalizer, shopper: twinShopper(sessionAnswers) };
}

/** The timed calls for answers of `n` candidates: each a function of no arguments. */
function workload(n, session, anonymous) {
  const answer = serverAnswer(null, n, n);
  const handle = session.personalizer.registerCandidates(answer);
  const anonymousHandle = anonymous.registerCandidates(answer);
  for (const [p, h] of [[session.personalizer, handle], [anonymous, anonymousHandle]]) {
    const ranked = p.rank(h, CONTEXT);
    if (ranked.items.length !== CONTEXT.limit) throw new Error(`rank returned ${ranked.items.length} items`);
  }
  const twin = twinRank(answer, session.shopper, CONTEXT.limit);
  if (twin.length !== CONTEXT.limit || !(twin[0].score >= twin.at(-1).score)) throw new Error("the twin's top-k is wrong");
  // The answer about the page's item: registering it changes the session memory, so the first
  // ranking pools the earlier answers afresh (what a product page view costs).
  const aboutPage = serverAnswer("sku-0", n, n + 1);
  return {
    register: () => session.personalizer.releaseCandidates(session.personalizer.registerCandidates(answer)),
    pageView: () => {
      const h = session.personalizer.registerCandidates(aboutPage);
      session.personalizer.rank(h, CONTEXT);
      session.personalizer.releaseCandidates(h);
    },
    rankSession: () => session.personalizer.rank(handle, CONTEXT),
    rankNoSession: () => anonymous.rank(anonymousHandle, CONTEXT),
    twin: () => twinRank(answer, session.shopper, CONTEXT.limit),
  };
}

async function run() {
  await init();
  const session = sessionPersonalizer();
  // The same calls for a shopper without a session (no earlier answers join the ranking).
  const anonymous = new Personalizer({ shop: "bench-anonymous", noise: { botHeuristic: false } });
  if (new URLSearchParams(location.search).has("storedProfile")) {
    // cold-profile.mjs needs only the returning shopper's stored profile.
    return { storedProfile: growStoredProfile(Personalizer) };
  }
  if (new URLSearchParams(location.search).has("profile")) {
    // profile.mjs calls these in a loop under the CPU profiler.
    window.benchWorkload = workload(200, session, anonymous);
    return { profiling: true };
  }
  const rows = [];
  for (const n of SIZES) {
    const calls = workload(n, session, anonymous);
    const batch = n >= 1000 ? 2 : 10;
    const row = { candidates: n };
    for (const [name, call] of Object.entries(calls)) {
      row[name] = measure(call, name === "register" || name === "pageView" ? Math.max(1, batch / 2) : batch);
    }
    rows.push(row);
  }
  // A returning shopper's stored profile, for the track() runs here and the cold starts (cold.js).
  const storedProfile = growStoredProfile(Personalizer);
  const track = benchTrack(Personalizer, storedProfile, TRACK_RUNS);
  return { crossOriginIsolated: self.crossOriginIsolated, userAgent: navigator.userAgent, rows, track, storedProfile };
}

const OPERATIONS = ["register", "rankSession", "rankNoSession", "pageView", "twin"];

function show(results) {
  const table = document.getElementById("results");
  const us = (ms) => `${(ms * 1000).toFixed(1)} µs`;
  for (const row of results.rows ?? []) {
    const tr = document.createElement("tr");
    const cells = [row.candidates, ...OPERATIONS.flatMap((op) => [us(row[op].median), us(row[op].p95)])];
    for (const cell of cells) {
      const td = document.createElement("td");
      td.textContent = String(cell);
      tr.append(td);
    }
    table.append(tr);
  }
}

run().then((results) => {
  window.benchResults = results;
  show(results);
}, (error) => {
  window.benchResults = { error: error instanceof Error ? error.message : String(error) };
  document.getElementById("status").textContent = `failed: ${window.benchResults.error}`;
});
