// One cold start of the package on a fresh page (cold-start.mjs opens each in a fresh browser and
// seeds the stored profile before the page runs): import of the JS glue, init() (fetch +
// instantiateStreaming), the first constructor + setConsent("full") that loads the stored
// profile, then the first registerCandidates and rank (200 candidates, still cold). The answer is
// made before the clock starts. Results land in `window.coldResults`; `?warm` then keeps calling
// for a while (a page in use, so the browser tiers up and caches the compiled module).
// Diagnostics (cold-profile.mjs): `?split` fetches and compiles the module first
// (`WebAssembly.compileStreaming`) and hands init() the compiled module, so init() is only the
// instantiation; `?manual` waits for `window.startCold()` (a profiler can start in between).
import { serverAnswer } from "./storefront-data.js";
import { CONFIG, catalog, events } from "./shopper.js";

const CONTEXT = { placement: "home", limit: 20, diversity: { strength: 0.3 } };
const GLUE = "../pkg/shop_personalizer.js";
const WASM = "../pkg/shop_personalizer_bg.wasm";
const params = new URLSearchParams(location.search);

/** init(): as a shop calls it, or (`?split`) fetch, compile and instantiate one after the other. */
async function init(glue) {
  if (!params.has("split")) return { exports: await glue.default() };
  const s0 = performance.now();
  const response = await fetch(new URL(WASM, import.meta.url));
  const s1 = performance.now();
  const module = await WebAssembly.compileStreaming(response);
  const s2 = performance.now();
  const exports = await glue.default({ module_or_path: module });
  const s3 = performance.now();
  return { exports, fetchResponseMs: s1 - s0, compileMs: s2 - s1, instantiateMs: s3 - s2 };
}

async function coldStart() {
  const answer = serverAnswer(null, 200, 200);
  performance.mark("cold:start");
  const t0 = performance.now();
  const glue = await import(GLUE);
  const t1 = performance.now();
  const { exports, ...split } = await init(glue);
  const t2 = performance.now();
  performance.mark("cold:init done");
  const p = new glue.Personalizer(CONFIG);
  const t2b = performance.now();
  performance.mark("cold:constructed");
  p.setConsent("full", { explicitOptIn: true });
  const t3 = performance.now();
  performance.mark("cold:ready");
  const memoryBytes = exports.memory.buffer.byteLength;
  const handle = p.registerCandidates(answer);
  const t4 = performance.now();
  const ranked = p.rank(handle, CONTEXT);
  const t5 = performance.now();
  if (ranked.items.length !== CONTEXT.limit) throw new Error(`rank returned ${ranked.items.length} items`);
  const summary = p.profileSummary();
  if (summary.topInterests.length === 0) throw new Error("the stored profile did not load (no interests)");
  const resource = (suffix) => {
    const entry = performance.getEntriesByType("resource").find((e) => new URL(e.name).pathname.endsWith(suffix));
    return entry && { transferSize: entry.transferSize, bodySize: entry.encodedBodySize, fetchMs: entry.responseEnd - entry.startTime };
  };
  return {
    result: {
      importMs: t1 - t0, initMs: t2 - t1, constructMs: t3 - t2, readyMs: t3 - t0,
      newMs: t2b - t2, setConsentMs: t3 - t2b, memoryBytes, ...split,
      registerMs: t4 - t3, rankMs: t5 - t4, firstCallsMs: t5 - t3,
      wasm: resource(".wasm"), glue: resource("shop_personalizer.js"), visits: summary.visits,
    },
    personalizer: p,
    handle,
  };
}

/** What a page in use does for a few seconds: ranking and tracking. */
async function keepBusy(p, handle, seconds) {
  const end = performance.now() + seconds * 1000;
  const items = catalog();
  p.upsertItems(items);
  let seed = 1;
  while (performance.now() < end) {
    for (let k = 0; k < 20; k++) p.rank(handle, CONTEXT);
    for (const event of events(50, seed++)) p.track(event);
    await new Promise((done) => setTimeout(done, 10));
  }
}

const started = params.has("manual") ? new Promise((go) => { window.startCold = go; }) : Promise.resolve();
started.then(coldStart).then(async ({ result, personalizer, handle }) => {
  window.coldResults = result;
  document.getElementById("status").textContent = `ready in ${result.readyMs.toFixed(1)} ms`;
  if (params.has("warm")) {
    await keepBusy(personalizer, handle, Number(params.get("warm")) || 3);
    window.warmDone = true;
  }
}, (error) => {
  window.coldResults = { error: error instanceof Error ? error.message : String(error) };
  document.getElementById("status").textContent = `failed: ${window.coldResults.error}`;
});
