// Where a cold start's time goes, in finer steps than scripts/bench-browser's table (opt-in, not
// part of it). For each package given (pkg/ unless --pkg DIR, repeatable: builds are compared in
// one sitting), a profile directory is warmed until the compiled module comes from Chromium's
// code cache (as cold-start.mjs does), then fresh browsers load cold.html in turn, one package
// after the other each round, so a busy machine slows all alike:
// - a plain load, timed as the bench times it, with `new Personalizer` and `setConsent` apart;
// - a split load (`?split`): the .wasm's fetch, `WebAssembly.compileStreaming` and the
//   instantiation apart;
// - with --profile, a load under Chromium's sampling CPU profiler, started before the cold start
//   (`?manual`); the samples of all loads are summed per function (self and inclusive time, ms a
//   load). Wasm functions have their Rust names in a build that keeps them
//   (`bash scripts/build --out-dir DIR --keep-names`).
// Prints medians with [min–max] per step, and each package's medians over the first one's.
// Asserts nothing about time.
//
//   node bench-page/cold-profile.mjs [--pkg DIR]... [--samples N] [--profile] [--interval µs] [--top N]
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { FORCE_CACHING, load, warmUntilCached } from "./cold-start.mjs";
import { openBenchPage, serve } from "./serve.mjs";

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const pkgDirs = args.flatMap((a, i) => (a === "--pkg" ? [resolve(args[i + 1])] : []));
if (pkgDirs.length === 0) pkgDirs.push(resolve("pkg"));
const samples = Number(option("--samples", 7));
const profiling = args.includes("--profile");
const interval = Number(option("--interval", 25));
const top = Number(option("--top", 30));
// --tree NAME (repeatable): also print the call tree under the frames named NAME, merged by path.
const treeRoots = args.flatMap((a, i) => (a === "--tree" ? [args[i + 1]] : []));
const TREE_MIN_US = 50;

const PLAIN = ["memoryBytes", "initMs", "newMs", "setConsentMs", "constructMs", "readyMs", "importMs"];
const SPLIT = ["fetchResponseMs", "compileMs", "instantiateMs", "initMs", "newMs", "setConsentMs"];

/** Starts the CPU profiler; the function it returns stops it and returns the profile. */
async function startProfiler(context, page) {
  const cdp = await context.newCDPSession(page);
  await cdp.send("Profiler.enable");
  await cdp.send("Profiler.setSamplingInterval", { interval });
  await cdp.send("Profiler.start");
  return async () => (await cdp.send("Profiler.stop")).profile;
}

/** Adds one profile's self and inclusive time (µs) per function name into `sums`. */
function addProfile(sums, profile) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const name = (node) => {
    const frame = node.callFrame;
    return frame.functionName || `(${frame.url.split("/").pop() || "program"})`;
  };
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i + 1] ?? 0;
    const self = name(byId.get(id));
    if (self === "(idle)" || self === "(program)") return;
    sums.self.set(self, (sums.self.get(self) ?? 0) + us);
    const stack = [];
    for (let at = id; at !== undefined; at = parent.get(at)) stack.push(name(byId.get(at)));
    stack.reverse();
    const rootAt = stack.findIndex((n) => treeRoots.includes(n));
    if (rootAt >= 0) {
      let node = sums.tree;
      for (const n of stack.slice(rootAt)) {
        if (!node.children.has(n)) node.children.set(n, { us: 0, children: new Map() });
        node = node.children.get(n);
        node.us += us;
      }
    }
    sums.total += us;
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const n = name(byId.get(at));
      if (seen.has(n)) continue;
      seen.add(n);
      sums.inclusive.set(n, (sums.inclusive.get(n) ?? 0) + us);
    }
  });
}

function stats(values) {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  return { median: sorted[Math.floor(sorted.length / 2)], min: sorted[0], max: sorted[sorted.length - 1] };
}

const ms = (v) => (v < 10 ? v.toFixed(2) : v.toFixed(1));

const { results, close } = await openBenchPage("?storedProfile");
await close();
const target = (origin) => ({ url: `${origin}/bench-page/cold.html`, origin, entries: results.storedProfile });

const runs = [];
try {
  for (const dir of pkgDirs) {
    const server = await serve(dir);
    const origin = `http://127.0.0.1:${server.address().port}`;
    let cachedDir = await mkdtemp(join(tmpdir(), "sp-cold-profile-"));
    let args = [];
    if ((await warmUntilCached(cachedDir, target(origin))) === null) {
      await rm(cachedDir, { recursive: true, force: true });
      cachedDir = await mkdtemp(join(tmpdir(), "sp-cold-profile-"));
      args = [FORCE_CACHING];
      if ((await warmUntilCached(cachedDir, { ...target(origin), args })) === null) {
        console.log(`${dir}: the module never came from the code cache`);
      }
    }
    runs.push({ dir, server, cachedDir, on: { ...target(origin), args }, plain: [], split: [], sums: { self: new Map(), inclusive: new Map(), total: 0, tree: { us: 0, children: new Map() } }, profiled: 0 });
  }
  for (let i = 0; i < samples; i++) {
    for (const run of runs) {
      run.plain.push(await load(run.cachedDir, run.on));
      run.split.push(await load(run.cachedDir, run.on, { query: "split" }));
      if (profiling) {
        const loaded = await load(run.cachedDir, run.on, { query: "manual", around: startProfiler });
        addProfile(run.sums, loaded.around);
        run.profiled += 1;
      }
    }
  }
} finally {
  for (const run of runs) {
    run.server.close();
    await rm(run.cachedDir, { recursive: true, force: true });
  }
}

const base = runs[0];
for (const run of runs) {
  console.log(`\n${run.dir}: ${samples} loads of each kind, compiled module cached${run.on.args.length ? ` (${run.on.args.join(" ")})` : ""}`);
  for (const [kind, measures] of [["plain", PLAIN], ["split", SPLIT]]) {
    const cells = measures.map((m) => {
      const s = stats(run[kind].map((l) => l[m]));
      if (!s) return null;
      const b = stats(base[kind].map((l) => l[m]));
      const ratio = run !== base && b ? ` ×${(s.median / b.median).toFixed(2)}` : "";
      return `${m.replace(/Ms$/, "")} ${ms(s.median)} [${ms(s.min)}–${ms(s.max)}]${ratio}`;
    });
    console.log(`  ${kind.padEnd(5)} ${cells.filter(Boolean).join(" | ")}`);
  }
  if (run.profiled) {
    const perLoad = (us) => `${(us / 1000 / run.profiled).toFixed(2).padStart(6)} ms`;
    console.log(`  CPU profile, ${run.profiled} loads, ${interval} µs sampling: ${perLoad(run.sums.total)} a load sampled busy`);
    for (const [title, map] of [["self", run.sums.self], ["inclusive", run.sums.inclusive]]) {
      console.log(`  top ${top} by ${title} time (a load):`);
      for (const [name, us] of [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) {
        console.log(`    ${perLoad(us)}  ${name.slice(0, 160)}`);
      }
    }
    const printTree = (node, depth) => {
      for (const [name, child] of [...node.children.entries()].sort((a, b) => b[1].us - a[1].us)) {
        if (child.us < TREE_MIN_US * run.profiled) continue;
        console.log(`    ${perLoad(child.us)}  ${"  ".repeat(depth)}${name.slice(0, 140)}`);
        printTree(child, depth + 1);
      }
    };
    if (treeRoots.length) {
      console.log(`  call trees under ${treeRoots.join(", ")} (a load, ≥ ${TREE_MIN_US} µs):`);
      printTree(run.sums.tree, 0);
    }
  }
}
