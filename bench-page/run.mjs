// Drives the browser benchmark and prints one table: cold starts in fresh browsers (first load and
// with the compiled module cached; cold-start.mjs), the first registerCandidates + rank after
// init, track() amortized over 1,000 persisted events on a returning shopper's stored profile
// (track-bench.js), the module sizes (scripts/module-sizes.mjs, as scripts/size-check measures
// them), and per call for 50/200/1000 candidates (bench.js): registerCandidates(), rank() by
// handle with a session of five earlier answers and without one, a product page view (registering
// the answer about the page's item and ranking it once), and the plain-JS twin of the scoring.
// Prints numbers, asserts nothing about time.
//
//   node bench-page/run.mjs [--json] [--samples N]   (N cold starts of each kind, default 15)
//   BENCH_PKG_DIR=/path/to/other/pkg node bench-page/run.mjs   (compare another build of the package)
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { MAX_WARM_UPS as MAX_WARM_UPS_NOTE, coldStarts } from "./cold-start.mjs";
import { PKG_CACHE_CONTROL, openBenchPage } from "./serve.mjs";
import { ROOT, fmt, measureModules, readBudgets, versus } from "../scripts/module-sizes.mjs";

const args = process.argv.slice(2);
const samples = Number(args[args.indexOf("--samples") + 1] || 15);
const pkgDir = process.env.BENCH_PKG_DIR ? resolve(process.env.BENCH_PKG_DIR) : join(ROOT, "pkg");

/** size-budgets.json's modules, measured in `pkgDir` (pkg/ unless BENCH_PKG_DIR says otherwise). */
function moduleSizes() {
  const budgets = readBudgets();
  if (pkgDir === join(ROOT, "pkg")) return measureModules(budgets);
  const inPkg = (path) => (path.startsWith("pkg/") ? join(pkgDir, path.slice(4)) : join(ROOT, path));
  budgets.modules = budgets.modules.map((m) => ({ ...m, files: m.files.map(inPkg) }));
  budgets.shippedDirs = [pkgDir];
  return measureModules(budgets, "/");
}

const { results, close } = await openBenchPage();
await close();
const { storedProfile, ...pageResults } = results;
const cold = await coldStarts({ storedProfile, samples });
const sizes = moduleSizes();
const glue = readFileSync(join(pkgDir, "shop_personalizer.js"), "utf8");
const loadPath = {
  instantiateStreaming: glue.includes("instantiateStreaming"),
  wasmServedAs: `application/wasm, Cache-Control: ${PKG_CACHE_CONTROL}`,
  storedProfileChars: pageResults.track.storedChars,
};

if (args.includes("--json")) {
  console.log(JSON.stringify({ ...pageResults, cold, sizes, loadPath }));
} else {
  const ms = (v) => (Number.isFinite(v) ? `${v.toFixed(v < 10 ? 2 : 1)} ms` : "—");
  const us = (v) => `${(v * 1000).toFixed(1)} µs`;
  const rows = [];
  const row = (what, median, p95, target = "", notes = "") => rows.push([what, median, p95, target, notes]);

  const chars = fmt(pageResults.track.storedChars);
  for (const [kind, label] of [["first", "first load"], ["cached", "compiled module cached"]]) {
    const c = cold[kind];
    const check = cold.check[kind];
    const lazy = check.events?.["wasm.CompileLazy"] ?? 0;
    const { defaultFlagsWarmUps, flags } = cold.caching;
    const how = kind !== "cached" ? ""
      : defaultFlagsWarmUps ? ` (default flags, ${defaultFlagsWarmUps} warm-up loads)`
      : ` (with ${flags.join(" ")}; default flags: no hit in ${MAX_WARM_UPS_NOTE} loads)`;
    const from = `${c.samples} fresh browsers; .wasm from HTTP cache ${c.wasmFromHttpCache}/${c.samples}; traced load: module ${check.verdict}${how}, ${lazy} lazy compiles`;
    row(`cold start, ${label}: import of the JS glue`, ms(c.importMs.median), ms(c.importMs.p95));
    row(`cold start, ${label}: init() (fetch + instantiate)`, ms(c.initMs.median), ms(c.initMs.p95), "", `the .wasm's fetch ${ms(c.wasmFetchMs.median)} of it (median)`);
    row(`cold start, ${label}: new Personalizer + setConsent("full")`, ms(c.constructMs.median), ms(c.constructMs.p95), "", `loads the stored profile (${chars} chars)`);
    row(`**cold start, ${label}: ready** (the three above)`, ms(c.readyMs.median), ms(c.readyMs.p95), "≤ 10 ms", from);
  }
  for (const [kind, label] of [["first", "first load"], ["cached", "module cached"]]) {
    const c = cold[kind];
    row(`first registerCandidates (200) + rank after init, ${label}`, ms(c.firstCallsMs.median), ms(c.firstCallsMs.p95), "≤ 2 ms",
      `registerCandidates ${ms(c.registerMs.median)}, rank ${ms(c.rankMs.median)} (medians)`);
  }
  const t = pageResults.track;
  row(`track(), amortized over ${fmt(t.events)} events, consent "full", persisted`, us(t.perEvent.median), us(t.perEvent.p95), "≤ 20 µs",
    `${t.perEvent.runs} runs; ${t.recorded} recorded, ${t.writes} localStorage writes (${fmt(t.charsWritten)} chars) a run; slowest call ${ms(t.slowestCall.median)} (median of runs)`);
  const at200 = pageResults.rows.find((r) => r.candidates === 200);
  if (at200) row("page view at 200 candidates: register + first rank, with a session", us(at200.pageView.median), us(at200.pageView.p95), "≤ 250 µs");

  for (const entry of [...sizes.modules, ...sizes.totals]) {
    const target = entry.target?.gzip;
    const budget = entry.budget?.gzip;
    const size = entry.size.gzip;
    row(`size: ${entry.name} (${entry.role}), wasm + glue, gzip -9`, `${fmt(size)} B`, "exact", Number.isInteger(target) ? `≤ ${fmt(target)} B (${versus(size, target)})` : "",
      `raw ${fmt(entry.size.raw)}, brotli ${fmt(entry.size.brotli)}${Number.isInteger(budget) ? `; budget ${fmt(budget)} (${size <= budget ? "kept" : "EXCEEDED"})` : ""}`);
  }

  const names = { register: "registerCandidates", rankSession: "rank, session of 5", rankNoSession: "rank, no session", pageView: "page view: register + first rank", twin: "plain-JS twin" };
  for (const r of pageResults.rows) {
    for (const [op, name] of Object.entries(names)) {
      const notes = op === "twin" ? `twin ÷ rank: ${(r.twin.median / r.rankSession.median).toFixed(2)} (session) / ${(r.twin.median / r.rankNoSession.median).toFixed(2)} (none)` : "";
      row(`${name}, ${r.candidates} candidates`, us(r[op].median), us(r[op].p95), op === "rankSession" && r.candidates === 200 ? "≤ 100 µs" : "", notes);
    }
  }

  console.log(`Chromium headless, cross-origin isolated: ${pageResults.crossOriginIsolated}; ${pageResults.userAgent.match(/Chrome\/[\d.]+/)?.[0] ?? ""}`);
  console.log(`Load path: the glue ${loadPath.instantiateStreaming ? "calls" : "does NOT call"} WebAssembly.instantiateStreaming; the .wasm is served as ${loadPath.wasmServedAs}`);
  const warnings = [...cold.first.warnings, ...cold.cached.warnings];
  if (warnings.length) console.log(`Page warnings during cold starts: ${[...new Set(warnings)].join(" | ")}`);
  const head = ["what", "median", "p95", "target", "notes"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r) => `| ${r.map((cell, i) => (i === 1 || i === 2 ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join(" | ")} |`;
  console.log(line(head));
  console.log(`|${widths.map((w, i) => (i === 1 || i === 2 ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2))).join("|")}|`);
  for (const r of rows) console.log(line(r));
}
