// The package as a shop installs it from the registry: `npm pack` of the built pkg/, installed
// (`npm install --offline <tarball>`) into fresh apps in a temporary folder, then
// - Vite and webpack (devDependencies of this repository, run through their Node APIs) build the
//   app of tarball-tests/app/ with no configuration beyond entry and output, and headless
//   Chromium runs each build: init, track, rank, and the on-demand module (configureAdaptation);
// - plain Node imports the package (its "node" export) and calls init() with no argument;
// - tsc compiles a consumer against the installed package's types (bundler and nodenext, lib
//   ES2022 + DOM), and `using` where the lib has ESNext.Disposable.
// Nothing is downloaded: npm installs only the tarball, offline.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { build as viteBuild } from "vite";
import webpack from "webpack";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const APP = join(ROOT, "tarball-tests/app");
const TSC = join(ROOT, "node_modules/typescript/bin/tsc");
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-dev-shm-usage",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
];
const EXPECTED_FILES = [
  "LICENSE-APACHE",
  "LICENSE-MIT",
  "README.md",
  "package.json",
  "shop_personalizer.d.ts",
  "shop_personalizer.js",
  "shop_personalizer.node.d.ts",
  "shop_personalizer.node.js",
  "shop_personalizer_bg.wasm",
  "shop_personalizer_on_demand.js",
  "shop_personalizer_on_demand_bg.wasm",
];

let work;
let tarball;
let browser;

before(async () => {
  work = mkdtempSync(join(tmpdir(), "shop-personalizer-tarball-"));
  const [packed] = JSON.parse(execFileSync("npm", ["pack", "--json", "--pack-destination", work, join(ROOT, "pkg")], { encoding: "utf8" }));
  tarball = join(work, packed.filename);
  const files = packed.files.map((f) => f.path).sort();
  console.log(`packed ${packed.filename}: ${packed.size} bytes packed, ${packed.unpackedSize} unpacked, ${files.length} files: ${files.join(", ")}`);
  assert.deepEqual(files, EXPECTED_FILES);
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: CHROMIUM_ARGS, headless: true });
});

after(async () => {
  await browser?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A fresh app folder with the tarball installed and the files of tarball-tests/app/. */
function freshApp(name, files) {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, "package.json"), `${JSON.stringify({ name, private: true, type: "module" }, null, 2)}\n`);
  execFileSync("npm", ["install", "--offline", "--no-audit", "--no-fund", "--loglevel=error", tarball], { cwd: dir, stdio: "pipe" });
  for (const file of files) copyFileSync(join(APP, file), join(dir, file));
  const installed = JSON.parse(readFileSync(join(dir, "node_modules/shop-personalizer/package.json"), "utf8"));
  assert.equal(installed.name, "shop-personalizer");
  return dir;
}

const MIME = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm" };

/** Serves DIR on a free 127.0.0.1 port. */
async function serve(dir) {
  const server = createServer(async (request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url, "http://x").pathname)).replace(/^[/\\]+/, "") || "index.html";
    try {
      const body = await readFile(join(dir, path));
      response.writeHead(200, { "content-type": MIME[extname(path)] ?? "application/octet-stream" });
      response.end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${server.address().port}/`, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** Opens the built app in Chromium; resolves to what its main.js reports and the .wasm it fetched. */
async function runInChromium(dist) {
  const server = await serve(dist);
  const page = await browser.newPage();
  const wasm = [];
  page.on("response", (response) => {
    if (response.url().endsWith(".wasm")) wasm.push(`${response.status()} ${response.url().replace(server.url, "")}`);
  });
  try {
    await page.goto(server.url);
    await page.waitForFunction(() => window.__result !== undefined || window.__error !== undefined, null, { timeout: 30_000 });
    const error = await page.evaluate(() => window.__error);
    assert.equal(error, undefined, `the app failed in Chromium: ${error}`);
    return { result: await page.evaluate(() => window.__result), wasm };
  } finally {
    await page.close();
    await server.close();
  }
}

function checkStorefront({ result, wasm }) {
  assert.equal(result.tracked, "recorded");
  assert.deepEqual([...result.ranked].sort(), ["road-1", "tent-1", "trail-2"]);
  assert.equal(result.ranked[0], "trail-2", "the viewed Summit trail shoe's sibling ranks first");
  assert.equal(result.bucket, "personalized");
  assert.equal(wasm.length, 2, `both modules load: ${wasm.join(", ")}`);
  assert.ok(wasm.every((line) => line.startsWith("200 ")), wasm.join(", "));
}

test("a fresh Vite app builds the installed tarball and runs it in Chromium", async () => {
  const dir = freshApp("vite-app", ["index.html", "main.js"]);
  await viteBuild({ root: dir, configFile: false, logLevel: "warn", build: { outDir: join(dir, "dist") } });
  const run = await runInChromium(join(dir, "dist"));
  console.log(`vite: ${JSON.stringify(run.result)}; wasm fetched: ${run.wasm.join(", ")}`);
  checkStorefront(run);
});

test("a fresh webpack app builds the installed tarball and runs it in Chromium", async () => {
  const dir = freshApp("webpack-app", ["main.js"]);
  const dist = join(dir, "dist");
  const compiler = webpack({
    mode: "production",
    context: dir,
    entry: "./main.js",
    output: { path: dist, filename: "main.js" },
    performance: { hints: false },
  });
  const stats = await new Promise((resolve, reject) => compiler.run((error, result) => (error ? reject(error) : resolve(result))));
  await new Promise((resolve) => compiler.close(resolve));
  assert.ok(!stats.hasErrors(), stats.toString("errors-only"));
  writeFileSync(join(dist, "index.html"), '<!doctype html><meta charset="utf-8"><body><script src="main.js"></script>');
  const run = await runInChromium(dist);
  console.log(`webpack: ${JSON.stringify(run.result)}; wasm fetched: ${run.wasm.join(", ")}`);
  checkStorefront(run);
});

test("plain Node imports the installed tarball and init() reads the .wasm from disk", () => {
  const dir = freshApp("node-app", ["node.mjs"]);
  const output = execFileSync(process.execPath, ["node.mjs"], { cwd: dir, encoding: "utf8" }).trim();
  console.log(`node: ${output}`);
  const result = JSON.parse(output);
  assert.equal(result.tracked, "recorded");
  assert.deepEqual(result.ranked, ["trail-2", "road-1"]);
  assert.equal(result.bucket, "personalized");
  assert.ok(result.warnings.includes("storageUnavailable"), "without localStorage the profile lives in memory and says so");
});

/** Runs tsc; a type error fails with tsc's own output. */
function tsc(args, cwd) {
  try {
    execFileSync(process.execPath, args, { cwd, encoding: "utf8", stdio: "pipe" });
  } catch (error) {
    assert.fail(`tsc ${args.slice(1).join(" ")}\n${error.stdout}${error.stderr}`);
  }
}

test("tsc compiles a consumer against the installed package's types, as a bundler and as Node", () => {
  const dir = freshApp("typed-app", ["consumer.ts", "disposable.ts"]);
  const common = ["--noEmit", "--strict", "--exactOptionalPropertyTypes", "--skipLibCheck", "false", "--target", "ES2022", "--lib", "ES2022,DOM"];
  for (const [module, resolution] of [["ES2022", "bundler"], ["nodenext", "nodenext"]]) {
    const args = [TSC, ...common, "--module", module, "--moduleResolution", resolution, "consumer.ts"];
    tsc(args, dir);
    console.log(`tsc --moduleResolution ${resolution}: ok`);
  }
  const disposable = [TSC, ...common.slice(0, -1), "ES2022,DOM,ESNext.Disposable", "--module", "ES2022", "--moduleResolution", "bundler", "disposable.ts"];
  tsc(disposable, dir);
  console.log("tsc with ESNext.Disposable, `using p = new Personalizer(...)`: ok");
});
