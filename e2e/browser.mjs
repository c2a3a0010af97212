// Shared setup for the end-to-end tests: the static server and a headless Chromium from the
// system (never a downloaded browser build).
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startServer } from "../scripts/serve.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** The demo aggregator's signing key (www/sync.js pins its public key). */
export const DEMO_SIGNING_KEY_FILE = join(ROOT, "scripts/demo-model-signing-key.hex");

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-dev-shm-usage",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
];

/**
 * Starts the demo server on a free 127.0.0.1 port and launches Chromium. `demoConfig` names the
 * servers the page uses (`{ aggregatorUrl?, answersUrl? }`, as scripts/demo does; none by
 * default: no sync, the page answers itself); `setDemoConfig` changes them for later page loads.
 */
export async function startStorefront(demoConfig = {}) {
  const server = await startServer({ port: 0, demoConfig });
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
  return {
    url: server.url,
    browser,
    setDemoConfig: server.setDemoConfig,
    async close() {
      await browser.close();
      await server.close();
    },
  };
}

/** Opens the storefront in a fresh context (its own localStorage) and waits until it is ready. */
export async function openShop(storefront, hash = "") {
  const context = await storefront.browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (error) => problems.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning") problems.push(message.text());
  });
  await page.goto(`${storefront.url}/www/?allow-automation${hash}`);
  await page.waitForSelector("body[data-ready=true]");
  return { context, page, problems };
}

/** A page of `context` on the storefront, ready, its console lines and failed responses (status ≥ 400, with their path) pushed to `lines`. */
export async function openLoggedPage(storefront, context, lines) {
  const page = await context.newPage();
  page.on("console", (message) => lines.push(`${message.type()}: ${message.text()}`));
  // The console says only "the server responded with a status of 409"; this names the request.
  page.on("response", (response) => {
    if (response.status() >= 400) {
      const { pathname } = new URL(response.url());
      lines.push(`response: ${response.status()} ${response.request().method()} ${pathname}`);
    }
  });
  await page.goto(`${storefront.url}/www/?allow-automation`);
  await page.waitForSelector("body[data-ready=true]");
  return page;
}

/** A shopper's first steps that keep a profile: "Remember me", the Shoes category, product sku-001. */
export async function visitFirstProduct(page) {
  await page.getByRole("button", { name: "Remember me" }).click();
  await page.click('#category-nav a[href="#/c/Shoes"]');
  await page.waitForSelector('[data-placement="category"]');
  await pause(page);
  await page.click('.tile[data-item-id="sku-001"] a');
  await page.waitForSelector('article.product[data-item-id="sku-001"]');
}

/**
 * Clicks a recommendation not in `clicked` (a repeat view inside the duplicate window is filtered
 * as noise and teaches nothing; the first one when all were clicked), adds it, waits for that
 * product's page and its recommendation row (the page before is a product page too: without the
 * wait the next click lands on the old, replaced row), then pauses `ms`. A labelled impression.
 */
export async function clickRecommendation(page, clicked, ms = 250) {
  await page.waitForSelector("[data-testid=recommendations] li a");
  const tiles = await page.$$("[data-testid=recommendations] li a");
  const hrefs = await Promise.all(tiles.map((tile) => tile.getAttribute("href")));
  const fresh = hrefs.findIndex((href) => !clicked.has(href));
  const index = fresh >= 0 ? fresh : 0;
  clicked.add(hrefs[index]);
  await tiles[index].click();
  const itemId = decodeURIComponent(hrefs[index].replace(/^#\/p\//, ""));
  await page.waitForSelector(`article.product[data-item-id="${itemId}"]`);
  await page.waitForSelector("[data-testid=recommendations] li a");
  await pause(page, ms);
}

/** Every localStorage entry of the page, as an object. */
export function localStorageEntries(page) {
  return page.evaluate(() => Object.fromEntries(Object.keys(localStorage).map((key) => [key, localStorage.getItem(key)])));
}

/** Lets the noise filter see a person's pace rather than a burst. */
export function pause(page, ms = 250) {
  return page.waitForTimeout(ms);
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts the real aggregator (the debug build, which the native layer has built already) on a
 * free 127.0.0.1 port with a temporary data folder, allowing `origin`; `args` are more flags.
 */
export async function startAggregator(origin, args = []) {
  const build = spawnSync("cargo", ["build", "-p", "aggregator"], { cwd: ROOT, stdio: "inherit" });
  if (build.status !== 0) throw new Error("the aggregator does not build");
  const dataDir = mkdtempSync(join(tmpdir(), "aggregator-e2e-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(join(ROOT, "target/debug/aggregator"), [
    "--listen", `127.0.0.1:${port}`, "--data-dir", dataDir, "--allowed-origin", origin, ...args,
  ], { stdio: ["ignore", "inherit", "inherit"] });
  for (let attempt = 0; attempt < 300; attempt++) {
    if (child.exitCode !== null) throw new Error(`the aggregator exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) {
        return { url, stop: () => { child.kill("SIGTERM"); rmSync(dataDir, { recursive: true, force: true }); } };
      }
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill("SIGTERM");
  throw new Error("the aggregator did not become healthy");
}

/**
 * A fresh DAP task for a helper on `helperUrl`, written by the debug aggregator's
 * `dap-task-pair` (with `extra` flags, e.g. `--lift-min-cohort 100` for a lift task) into a
 * temporary folder; resolves to `{ dir, leaderFile, helperFile, device, remove }`.
 */
export async function dapTaskPair(helperUrl, extra = []) {
  const build = spawnSync("cargo", ["build", "-p", "aggregator"], { cwd: ROOT, stdio: "inherit" });
  if (build.status !== 0) throw new Error("the aggregator does not build");
  const dir = mkdtempSync(join(tmpdir(), "dap-task-e2e-"));
  const made = spawnSync(join(ROOT, "target/debug/aggregator"), ["dap-task-pair", "--out-dir", dir, "--helper-url", helperUrl, ...extra], { stdio: "inherit" });
  if (made.status !== 0) throw new Error("dap-task-pair failed");
  const device = JSON.parse(readFileSync(join(dir, "device.json"), "utf8"));
  return { dir, leaderFile: join(dir, "leader.json"), helperFile: join(dir, "helper.json"), device, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Starts the debug aggregator as the DAP helper of `helperFile` on `port`; resolves once it answers. */
export async function startDapHelper(helperFile, port) {
  const dataDir = mkdtempSync(join(tmpdir(), "dap-helper-e2e-"));
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(join(ROOT, "target/debug/aggregator"), [
    "--listen", `127.0.0.1:${port}`, "--data-dir", dataDir, "--dap-role", "helper", "--dap-task", helperFile,
  ], { stdio: ["ignore", "inherit", "inherit"] });
  for (let attempt = 0; attempt < 300; attempt++) {
    if (child.exitCode !== null) throw new Error(`the helper exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) {
        return { url, stop: () => { child.kill("SIGTERM"); rmSync(dataDir, { recursive: true, force: true }); } };
      }
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill("SIGTERM");
  throw new Error("the helper did not become healthy");
}

/** Starts `answers serve` on a free port; resolves once /healthz answers (at most 30 s). */
export async function startAnswers(origin) {
  const build = spawnSync("cargo", ["build", "-p", "answers"], { cwd: ROOT, stdio: "inherit" });
  if (build.status !== 0) throw new Error("the answers service does not build");
  const child = spawn(join(ROOT, "target/debug/answers"), [
    "serve", "--listen", "127.0.0.1:0", "--catalogue", "www/catalog.json", "--catalogue-format", "storefront",
    "--synthetic-sessions", "3000", "--allowed-origin", origin,
  ], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the answers service did not start in 30 s")), 30_000);
    let text = "";
    child.stdout.on("data", (chunk) => {
      text += chunk;
      const match = text.match(/listening on (http:\/\/\S+)/);
      if (match) { clearTimeout(timer); resolve(match[1]); }
    });
    child.on("exit", (code) => { clearTimeout(timer); reject(new Error(`the answers service exited with ${code}`)); });
  });
  return { url, stop: () => child.kill("SIGTERM") };
}
