// The demo's static server as a shop's CDN would serve the package (scripts/serve.mjs): brotli or
// gzip by Accept-Encoding, the same bytes once decoded, a strong ETag with `304` on If-None-Match,
// `Cache-Control: no-cache`, `application/wasm` for the module; and in Chromium, the core wasm goes
// over the wire compressed on a first visit and as a 304 on a reload.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { after, before, test } from "node:test";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { chooseEncoding } from "../scripts/serve.mjs";
import { startStorefront } from "./browser.mjs";

const WASM = "/pkg/shop_personalizer_bg.wasm";
const wasmBytes = readFileSync(new URL(`..${WASM}`, import.meta.url));
let storefront;

before(async () => {
  storefront = await startStorefront();
});

after(async () => {
  await storefront?.close();
});

/** One raw GET (no decoding): `{ status, headers, body }`. */
function get(path, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${storefront.url}${path}`, { headers }, (response) => {
      const chunks = [];
      response.on("data", (chunk) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end();
  });
}

test("Accept-Encoding picks brotli, then gzip, honouring q-values", () => {
  assert.equal(chooseEncoding("gzip, deflate, br, zstd"), "br");
  assert.equal(chooseEncoding("gzip"), "gzip");
  assert.equal(chooseEncoding("br;q=0, gzip"), "gzip");
  assert.equal(chooseEncoding("gzip;q=1, br;q=0.5"), "gzip");
  assert.equal(chooseEncoding("*"), "br");
  assert.equal(chooseEncoding(""), "identity");
  assert.equal(chooseEncoding(undefined), "identity");
  assert.equal(chooseEncoding("identity"), "identity");
});

test("the wasm is served compressed, decodes to the same bytes, and revalidates with a 304", async () => {
  const plain = await get(WASM);
  assert.equal(plain.status, 200);
  assert.equal(plain.headers["content-type"], "application/wasm", "instantiateStreaming needs it");
  assert.equal(plain.headers["content-encoding"], undefined);
  assert.deepEqual(plain.body, wasmBytes);
  assert.equal(plain.headers["cache-control"], "no-cache");
  assert.equal(plain.headers.vary, "Accept-Encoding");

  const br = await get(WASM, { "accept-encoding": "gzip, deflate, br" });
  assert.equal(br.headers["content-encoding"], "br");
  assert.equal(Number(br.headers["content-length"]), br.body.length);
  assert.deepEqual(brotliDecompressSync(br.body), wasmBytes);
  const gzip = await get(WASM, { "accept-encoding": "gzip" });
  assert.equal(gzip.headers["content-encoding"], "gzip");
  assert.deepEqual(gunzipSync(gzip.body), wasmBytes);
  assert.ok(br.body.length < gzip.body.length && gzip.body.length < wasmBytes.length / 2,
    `br ${br.body.length} < gzip ${gzip.body.length} < half of ${wasmBytes.length}`);
  const tags = new Set([plain, br, gzip].map((r) => r.headers.etag));
  assert.equal(tags.size, 3, "a strong ETag per encoding");

  for (const etag of tags) {
    const again = await get(WASM, { "accept-encoding": "br", "if-none-match": etag });
    assert.equal(again.status, 304, `If-None-Match ${etag}`);
    assert.equal(again.body.length, 0);
    assert.equal(again.headers["cache-control"], "no-cache");
  }
  assert.equal((await get(WASM, { "if-none-match": '"0000"' })).status, 200, "another ETag gets the file");
});

test("HTML, JS and JSON are compressed and revalidated; tiny files and other paths are not", async () => {
  for (const [path, type] of [["/www/", "text/html"], ["/www/app.js", "text/javascript"], ["/www/catalog.json", "application/json"]]) {
    const response = await get(path, { "accept-encoding": "br" });
    assert.equal(response.status, 200, path);
    assert.ok(response.headers["content-type"].startsWith(type), path);
    assert.equal(response.headers["content-encoding"], "br", path);
    assert.equal(response.headers["cache-control"], "no-cache", path);
    const again = await get(path, { "accept-encoding": "br", "if-none-match": response.headers.etag });
    assert.equal(again.status, 304, path);
  }
  const config = await get("/www/demo-config.json");
  assert.equal(config.headers["cache-control"], "no-store", "the configuration is never cached");
  assert.deepEqual(JSON.parse(config.body), {});
  assert.equal((await get("/www/../Cargo.toml")).status, 404);
  assert.equal((await get("/src/lib.rs")).status, 404);
  assert.equal((await get("/www/%E0%A4%A")).status, 404, "a bad escape is a 404, not a crash");
});

test("in Chromium the core wasm is fetched compressed once, then revalidated", async () => {
  const context = await storefront.browser.newContext();
  const page = await context.newPage();
  try {
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    const wire = new Map();
    const urls = new Map();
    cdp.on("Network.responseReceived", ({ requestId, response }) => urls.set(requestId, { url: response.url, status: response.status }));
    cdp.on("Network.loadingFinished", ({ requestId, encodedDataLength }) => {
      const seen = urls.get(requestId);
      if (seen?.url.endsWith(WASM)) wire.set(wire.size, { ...seen, bytes: encodedDataLength });
    });
    await page.goto(`${storefront.url}/www/?allow-automation`);
    await page.waitForSelector("body[data-ready=true]");
    await page.reload();
    await page.waitForSelector("body[data-ready=true]");
    await page.waitForTimeout(200);
    const [first, second] = [wire.get(0), wire.get(1)];
    console.log(`core wasm on the wire: ${wasmBytes.length} bytes raw; first visit ${first?.bytes} (status ${first?.status}), reload ${second?.bytes} (status ${second?.status})`);
    assert.equal(first?.status, 200);
    assert.ok(first.bytes < wasmBytes.length / 2, `compressed on the wire: ${first.bytes} of ${wasmBytes.length}`);
    // Chromium reports the cached response's 200 after a 304; the bytes tell: headers only.
    assert.ok(second && second.bytes < 1000, `a reload revalidates and moves headers only: ${second?.bytes}`);
  } finally {
    await context.close();
  }
});
