// The storefront fetches product-page answers from the real answers service (answers/, debug
// build, the demo catalogue and a seeded synthetic log): the "Recommended for you" row comes from
// GET /v1/answers/item/{id}, and each such request names the current item and nothing else about
// the shopper (no cookie, no referrer, no other item, category, brand or query).
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { openShop, pause, startStorefront } from "./browser.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const catalog = JSON.parse(readFileSync(new URL("../www/catalog.json", import.meta.url), "utf8"));
let storefront;
let answers;

/** Starts `answers serve` on a free port; resolves once /healthz answers (at most 30 s). */
async function startAnswers(origin) {
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

before(async () => {
  storefront = await startStorefront();
  answers = await startAnswers(new URL(storefront.url).origin);
});

after(async () => {
  answers?.stop();
  await storefront?.close();
});

test("product pages rank the answer the service sends, and each request names only the current item", async () => {
  const { context, page, problems } = await openShop(storefront, `&answers=${encodeURIComponent(answers.url)}`);
  const requests = [];
  page.on("request", (request) => { if (request.url().startsWith(answers.url)) requests.push(request); });
  const responses = [];
  page.on("response", (response) => { if (response.url().startsWith(answers.url)) responses.push(response); });
  const visited = ["sku-001", "sku-002"];
  for (const id of visited) {
    await page.evaluate((hash) => { location.hash = hash; }, `#/p/${id}`);
    await page.waitForSelector(`article.product[data-item-id="${id}"]`);
    await page.waitForSelector("[data-testid=recommendations] li");
    await pause(page);
  }
  assert.equal(requests.length, visited.length, "one answer request per product page");
  for (const [index, request] of requests.entries()) {
    const url = new URL(request.url());
    assert.equal(url.pathname, `/v1/answers/item/${visited[index]}`);
    assert.equal(url.search, "", "no query string");
    const headers = await request.allHeaders();
    assert.equal(headers.cookie, undefined, "no cookie");
    assert.equal(headers.referer, undefined, "no referrer");
    const others = catalog.products.filter((p) => p.id !== visited[index]);
    const sent = `${request.url()} ${JSON.stringify(headers)} ${request.postData() ?? ""}`;
    for (const product of others) assert.ok(!sent.includes(product.id), `${product.id} in ${sent}`);
    for (const label of new Set(catalog.products.flatMap((p) => [p.brand, ...p.categoryPath]))) {
      assert.ok(!sent.includes(label), `${label} in ${sent}`);
    }
  }
  assert.ok(responses.every((response) => response.status() === 200), "the service answered");
  const row = await page.$$eval("[data-testid=recommendations] li", (tiles) => tiles.map((tile) => tile.dataset.category));
  assert.ok(row.length > 0 && row.filter((category) => category.startsWith("Shoes")).length >= row.length / 2,
    `a shoe page recommends mostly shoes: ${row}`);
  assert.deepEqual(problems, []);
  if (process.env.ANSWERS_SCREENSHOT) await page.screenshot({ path: process.env.ANSWERS_SCREENSHOT, fullPage: true });
  await context.close();
});
