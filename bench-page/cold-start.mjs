// Cold starts of the package in headless Chromium, each in a fresh browser process (cold.js
// measures inside the page), alternating between two kinds so a busy machine slows both alike:
// - "first load": an empty profile directory, nothing cached;
// - "compiled module cached": a profile directory warmed until a traced load reports that
//   Chromium took the compiled module from its code cache (`v8.wasm.moduleCacheHit`). The
//   warm-up is a plain load, one that stays in use for a few seconds (cold.html?warm), then
//   traced loads. With default flags Chromium 156 rarely writes the code cache: V8 serializes a
//   module only 2 s after its last top-tier compile (--wasm-caching-timeout-ms=2000), and here
//   that callback did not come in 20 s of an idle page. When the default warm-up gets no hit, the
//   cached kind runs with --js-flags=--wasm-caching-timeout-ms=0 (V8 caches as soon as 1 KB of
//   top-tier code exists; what a long-lived shop page gets in the end) and says so.
// One more traced load of each kind (not timed) reports the verdict and the lazy compiles.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "../e2e/browser.mjs";
import { serve } from "./serve.mjs";

const WARM_SECONDS = 4;
export const MAX_WARM_UPS = 4;
export const FORCE_CACHING = "--js-flags=--wasm-caching-timeout-ms=0";
const MEASURES = ["importMs", "initMs", "constructMs", "newMs", "setConsentMs", "readyMs", "registerMs", "rankMs", "firstCallsMs"];

/** Runs before the page's scripts: the stored profile as the only data of the package. */
function seedStorage({ origin, entries }) {
  if (location.origin !== origin) return;
  for (const key of Object.keys(localStorage)) if (key.startsWith("shop-personalizer:")) localStorage.removeItem(key);
  for (const [key, value] of Object.entries(entries)) localStorage.setItem(key, value);
}

/** Records Chromium's wasm compile and code-cache trace events of one page load. */
async function startTracing(context, page) {
  const cdp = await context.newCDPSession(page);
  const events = [];
  cdp.on("Tracing.dataCollected", ({ value }) => events.push(...value));
  await cdp.send("Tracing.start", {
    traceConfig: { includedCategories: ["v8.wasm", "disabled-by-default-devtools.timeline", "devtools.timeline", "disabled-by-default-v8.wasm.detailed"] },
    transferMode: "ReportEvents",
  });
  return async () => {
    const complete = new Promise((done) => cdp.once("Tracing.tracingComplete", done));
    await cdp.send("Tracing.end");
    await complete;
    const names = new Map();
    for (const event of events) if (/wasm/i.test(event.name)) names.set(event.name, (names.get(event.name) ?? 0) + 1);
    return Object.fromEntries(names);
  };
}

/**
 * One load of cold.html in a fresh browser on `userDataDir`. `query` adds page parameters;
 * `around(context, page)`, when given, runs once the page is loaded (with `manual` in the query,
 * before the cold start begins) and returns a function that runs after it, whose result lands
 * in `around` of the load's result (cold-profile.mjs starts the CPU profiler so).
 */
export async function load(userDataDir, { url, origin, entries, args = [] }, { warmSeconds = 0, trace = false, query = "", around } = {}) {
  const context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, ...args], headless: true });
  const warnings = [];
  try {
    await context.addInitScript(seedStorage, { origin, entries });
    const page = context.pages()[0] ?? (await context.newPage());
    page.on("console", (message) => {
      if (message.type() === "warning" || message.type() === "error") warnings.push(message.text());
    });
    page.on("pageerror", (error) => warnings.push(error.message));
    const stopTracing = trace ? await startTracing(context, page) : null;
    const search = new URLSearchParams(query);
    if (warmSeconds) search.set("warm", String(warmSeconds));
    await page.goto(search.size ? `${url}?${search}` : url);
    let after;
    if (around) {
      await page.waitForFunction(() => window.startCold !== undefined || window.coldResults !== undefined);
      after = await around(context, page);
      await page.evaluate(() => window.startCold?.());
    }
    await page.waitForFunction(() => window.coldResults !== undefined, null, { timeout: 120_000 });
    const result = await page.evaluate(() => window.coldResults);
    if (result.error) throw new Error(`cold start failed: ${result.error}`);
    if (after) result.around = await after();
    if (warmSeconds) await page.waitForFunction(() => window.warmDone === true, null, { timeout: (warmSeconds + 60) * 1000 });
    const traceEvents = stopTracing ? await stopTracing() : undefined;
    return { ...result, warnings, traceEvents };
  } finally {
    await context.close();
  }
}

export async function withFreshProfile(call) {
  const dir = await mkdtemp(join(tmpdir(), "sp-cold-"));
  try {
    return await call(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function quantiles(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)], p95: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))] };
}

function summarize(loads) {
  const summary = { samples: loads.length };
  for (const measure of MEASURES) summary[measure] = quantiles(loads.map((l) => l[measure]));
  summary.wasmFromHttpCache = loads.filter((l) => l.wasm && l.wasm.transferSize === 0).length;
  summary.wasmFetchMs = quantiles(loads.map((l) => l.wasm?.fetchMs ?? NaN));
  summary.warnings = [...new Set(loads.flatMap((l) => l.warnings))];
  return summary;
}

const HIT = "taken from the code cache";

/** Did the traced load compile the module, or take it from Chromium's code cache? */
function cacheVerdict(events) {
  const names = Object.keys(events ?? {});
  if (names.some((n) => /moduleCacheHit|wasm\.Deserialize$/.test(n))) return HIT;
  if (names.length === 0) return "no wasm trace events seen";
  return "compiled";
}

/** Warms `dir` until a traced load takes the module from the code cache; the loads it took, or null. */
export async function warmUntilCached(dir, target) {
  await load(dir, target);
  await load(dir, target, { warmSeconds: WARM_SECONDS });
  for (let loads = 3; loads <= MAX_WARM_UPS; loads++) {
    if (cacheVerdict((await load(dir, target, { trace: true })).traceEvents) === HIT) return loads;
  }
  return null;
}

/**
 * `samples` cold starts of each kind with `storedProfile` (localStorage entries) seeded.
 * Returns `{ first, cached, caching, check }`: median / p95 per step, how the cache was warmed,
 * and the traced verdicts.
 */
export async function coldStarts({ storedProfile, samples }) {
  const server = await serve();
  const origin = `http://127.0.0.1:${server.address().port}`;
  const first = { url: `${origin}/bench-page/cold.html`, origin, entries: storedProfile };
  let cachedDir = await mkdtemp(join(tmpdir(), "sp-cached-"));
  try {
    const caching = { defaultFlagsWarmUps: await warmUntilCached(cachedDir, first), flags: [] };
    if (caching.defaultFlagsWarmUps === null) {
      await rm(cachedDir, { recursive: true, force: true });
      cachedDir = await mkdtemp(join(tmpdir(), "sp-cached-"));
      caching.flags = [FORCE_CACHING];
      caching.forcedWarmUps = await warmUntilCached(cachedDir, { ...first, args: caching.flags });
    }
    const cached = { ...first, args: caching.flags };
    const firstLoads = [];
    const cachedLoads = [];
    for (let i = 0; i < samples; i++) {
      firstLoads.push(await withFreshProfile((dir) => load(dir, first)));
      cachedLoads.push(await load(cachedDir, cached));
    }
    const firstTrace = await withFreshProfile((dir) => load(dir, first, { trace: true }));
    const cachedTrace = await load(cachedDir, cached, { trace: true });
    return {
      first: summarize(firstLoads),
      cached: summarize(cachedLoads),
      caching,
      check: {
        first: { verdict: cacheVerdict(firstTrace.traceEvents), events: firstTrace.traceEvents },
        cached: { verdict: cacheVerdict(cachedTrace.traceEvents), events: cachedTrace.traceEvents },
      },
    };
  } finally {
    await rm(cachedDir, { recursive: true, force: true });
    server.close();
  }
}
