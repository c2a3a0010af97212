// Serves bench-page/ and a built package (pkg/, or BENCH_PKG_DIR) cross-origin isolated, so
// performance.now() has its fine (5 µs) resolution, and opens the page in headless Chromium (the
// system's, nothing downloaded). Shared by run.mjs (the benchmark), cold-start.mjs and profile.mjs
// (the profiler). The package's files are served as a shop would: the .wasm as application/wasm
// and cacheable (so Chromium can cache the compiled module); bench-page/ itself is never cached.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "../e2e/browser.mjs";

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
const SERVED = ["bench-page", "pkg"];
const PKG_DIR = process.env.BENCH_PKG_DIR ? resolve(process.env.BENCH_PKG_DIR) : join(ROOT, "pkg");
export const PKG_CACHE_CONTROL = "public, max-age=86400";
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };

/**
 * Starts the server on a free 127.0.0.1 port (`server.address().port` tells which), serving the
 * package in `pkgDir` under pkg/.
 */
export function serve(pkgDir = PKG_DIR) {
  const server = createServer(async (request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url, "http://x").pathname)).replace(/^\/+/, "");
    const top = path.split("/")[0];
    const inside = path.endsWith("/") || path === "bench-page" ? join(path, "index.html") : path;
    const file = top === "pkg" ? join(pkgDir, inside.slice("pkg".length)) : join(ROOT, inside);
    if (!SERVED.includes(top) || !(file.startsWith(ROOT) || file.startsWith(pkgDir))) {
      response.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(file);
      response.writeHead(200, {
        "content-type": TYPES[extname(file)] ?? "application/octet-stream",
        "cross-origin-opener-policy": "same-origin",
        "cross-origin-embedder-policy": "require-corp",
        "cache-control": top === "pkg" ? PKG_CACHE_CONTROL : "no-store",
      });
      response.end(body);
    } catch {
      response.writeHead(404).end(file.includes("/pkg/") ? "run scripts/build first\n" : "");
    }
  });
  return new Promise((done) => server.listen(0, "127.0.0.1", () => done(server)));
}

/**
 * Opens bench-page/ (with `query`, e.g. "?profile") and waits until it sets `window.benchResults`.
 * Returns the page and a `close()`; throws what the page reported as its error.
 */
export async function openBenchPage(query = "") {
  const server = await serve();
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
  const close = async () => {
    await browser.close();
    server.close();
  };
  try {
    const page = await browser.newPage();
    page.on("pageerror", (error) => console.error("page error:", error.message));
    await page.goto(`http://127.0.0.1:${server.address().port}/bench-page/${query}`);
    await page.waitForFunction(() => window.benchResults !== undefined, null, { timeout: 300_000 });
    const results = await page.evaluate(() => window.benchResults);
    if (results.error) throw new Error(results.error);
    return { page, results, close };
  } catch (error) {
    await close();
    throw error;
  }
}
