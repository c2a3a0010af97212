// Drives bench-page/ in headless Chromium (the system's, nothing downloaded) and prints median and
// p95 per call for 50/200/1000 candidates: wasm rank() by handle, registerCandidates()+rank(), and
// the plain-JS twin of the scoring. The page is served cross-origin isolated, so performance.now()
// has its fine (5 µs) resolution; calls are timed in small batches on top of that.
//
//   node bench-page/run.mjs [--json]
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "../e2e/browser.mjs";

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
const SERVED = ["bench-page", "pkg"];
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };

function serve() {
  const server = createServer(async (request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url, "http://x").pathname)).replace(/^\/+/, "");
    const file = join(ROOT, path.endsWith("/") || path === "bench-page" ? join(path, "index.html") : path);
    if (!SERVED.includes(path.split("/")[0]) || !file.startsWith(ROOT)) {
      response.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(file);
      response.writeHead(200, {
        "content-type": TYPES[extname(file)] ?? "application/octet-stream",
        // Cross-origin isolation gives performance.now() its fine resolution.
        "cross-origin-opener-policy": "same-origin",
        "cross-origin-embedder-policy": "require-corp",
        "cache-control": "no-store",
      });
      response.end(body);
    } catch {
      response.writeHead(404).end(file.includes("/pkg/") ? "run scripts/build first\n" : "");
    }
  });
  return new Promise((done) => server.listen(0, "127.0.0.1", () => done(server)));
}

const server = await serve();
const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
try {
  const page = await browser.newPage();
  page.on("pageerror", (error) => console.error("page error:", error.message));
  await page.goto(`http://127.0.0.1:${server.address().port}/bench-page/`);
  await page.waitForFunction(() => window.benchResults !== undefined, null, { timeout: 300_000 });
  const results = await page.evaluate(() => window.benchResults);
  if (results.error) throw new Error(results.error);
  if (process.argv.includes("--json")) {
    console.log(JSON.stringify(results));
  } else {
    const us = (ms) => `${(ms * 1000).toFixed(1)}`.padStart(8);
    console.log(`Chromium headless, cross-origin isolated: ${results.crossOriginIsolated}; µs per call (median / p95)`);
    console.log("| candidates | wasm rank(handle) | wasm register+rank | rank, no session | plain-JS twin | twin ÷ rank |");
    console.log("|-----------:|------------------:|-------------------:|-----------------:|--------------:|------------:|");
    for (const row of results.rows) {
      const ratio = (row.twin.median / row.rank.median).toFixed(2);
      console.log(`| ${String(row.candidates).padStart(10)} | ${us(row.rank.median)} / ${us(row.rank.p95)} | ${us(row.registerAndRank.median)} / ${us(row.registerAndRank.p95)} | ${us(row.rankWithoutSession.median)} / ${us(row.rankWithoutSession.p95)} | ${us(row.twin.median)} / ${us(row.twin.p95)} | ${ratio.padStart(11)} |`);
    }
    const at200 = results.rows.find((row) => row.candidates === 200);
    if (at200) {
      const verdict = at200.rank.median <= 0.1 ? "meets" : "misses";
      console.log(`rank() at 200 candidates: median ${(at200.rank.median * 1000).toFixed(1)} µs ${verdict} the 100 µs target`);
    }
  }
} finally {
  await browser.close();
  server.close();
}
