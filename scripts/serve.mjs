// A tiny static server for the demo storefront: serves www/ and pkg/ from the repository root,
// bound to 127.0.0.1 only, as a shop's CDN would: the MIME types browsers insist on
// (application/wasm, so WebAssembly.instantiateStreaming works), brotli or gzip by
// Accept-Encoding (compressed once per file version and kept in memory), a strong ETag per file
// and encoding with `304 Not Modified` on If-None-Match, and `Cache-Control: no-cache` (keep,
// but revalidate on every use: the file names carry no version, so a reload after a rebuild
// must see the new build).
//
// It also serves the demo's configuration, /www/demo-config.json: which aggregator the page syncs
// with and which answers service it asks, as the shop's own server decides them (scripts/demo
// passes its servers' URLs; no URL parameter of the page chooses a server). Without them the
// page neither syncs nor asks a service: its DemoServer answers.
//
//   node scripts/serve.mjs [--port 8080] [--aggregator URL] [--answers URL] [--secure-aggregation FILE]
//
// `--secure-aggregation FILE` names the device settings of a DAP task (device.json from
// `aggregator dap-task-pair`): the page passes them to configureSync as `secureAggregation`.
//
// Also importable: `startServer({ port: 0, demoConfig })` resolves to
// `{ url, close, setDemoConfig }` (used by the e2e tests).
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import { readFile, stat } from "node:fs/promises";
import { extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants as zlib, gzipSync } from "node:zlib";

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
const SERVED_DIRS = ["www", "pkg"];
const MIME_TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".ts": "text/plain; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
};
// Types worth compressing, and the smallest body worth it (headers cost about as much).
const COMPRESSIBLE = new Set([".html", ".js", ".mjs", ".css", ".json", ".wasm", ".svg", ".ts", ".txt"]);
const MIN_COMPRESS_BYTES = 1024;
// Brotli's best quality takes ~15 s for the 1.4 MB wasm on a loaded core; quality 9 with a large
// window takes ~1 s and gives up a few percent. Smaller files get the best.
const BROTLI_MAX_QUALITY_BYTES = 256 * 1024;

/** Maps a URL path to a file under www/ or pkg/, or null when it is outside them. */
function fileForPath(urlPath) {
  const path = urlPath === "/" ? "/www/index.html" : urlPath.endsWith("/") ? `${urlPath}index.html` : urlPath;
  let decoded;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return null;
  }
  const relative = normalize(decoded).replace(/^[/\\]+/, "");
  const topDir = relative.split(sep)[0];
  if (!SERVED_DIRS.includes(topDir)) return null;
  const full = join(ROOT, relative);
  return full.startsWith(join(ROOT, topDir) + sep) ? full : null;
}

/**
 * The encoding to send for an Accept-Encoding header: "br", "gzip" or "identity". q-values
 * count (`br;q=0` refuses brotli); among equals the server prefers brotli, then gzip.
 */
export function chooseEncoding(header) {
  const accepted = new Map();
  for (const part of String(header ?? "").split(",")) {
    const [name, ...params] = part.trim().toLowerCase().split(";");
    if (!name) continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    const weight = q ? Number(q.slice(2)) : 1;
    accepted.set(name, Number.isFinite(weight) ? weight : 0);
  }
  const weight = (name) => accepted.get(name) ?? (accepted.has("*") ? accepted.get("*") : 0);
  const best = ["br", "gzip"].filter((name) => weight(name) > 0).sort((a, b) => weight(b) - weight(a))[0];
  return best ?? "identity";
}

// One entry per served file: its bytes in each encoding and its ETag, rebuilt when the file's
// size or modification time changes.
const cache = new Map();

async function variantsOf(file, info) {
  const stamp = `${info.size}:${info.mtimeMs}`;
  const cached = cache.get(file);
  if (cached?.stamp === stamp) return cached;
  const identity = await readFile(file);
  const tag = createHash("sha256").update(identity).digest("hex").slice(0, 24);
  const bodies = { identity };
  if (COMPRESSIBLE.has(extname(file)) && identity.length >= MIN_COMPRESS_BYTES) {
    bodies.gzip = gzipSync(identity, { level: 9 });
    bodies.br = brotliCompressSync(identity, {
      params: {
        [zlib.BROTLI_PARAM_QUALITY]: identity.length <= BROTLI_MAX_QUALITY_BYTES ? zlib.BROTLI_MAX_QUALITY : 9,
        [zlib.BROTLI_PARAM_LGWIN]: 24,
        [zlib.BROTLI_PARAM_SIZE_HINT]: identity.length,
        [zlib.BROTLI_PARAM_MODE]: extname(file) === ".wasm" ? zlib.BROTLI_MODE_GENERIC : zlib.BROTLI_MODE_TEXT,
      },
    });
  }
  const entry = { stamp, tag, bodies };
  cache.set(file, entry);
  return entry;
}

/** Whether If-None-Match names this file's current bytes (in any encoding: they are one file). */
function notModified(header, tag) {
  if (!header) return false;
  return header.split(",").map((value) => value.trim().replace(/^W\//, "").replace(/^"|"$/g, ""))
    .some((value) => value === "*" || value.split("-")[0] === tag);
}

const SECURE_FIELDS = ["leaderUrl", "helperUrl", "taskId", "leaderHpkeConfig", "helperHpkeConfig"];

/** A DAP task's device settings: the five strings (URLs http(s)), optional whole-number fields. */
function checkedSecure(secure) {
  if (!secure || typeof secure !== "object" || Array.isArray(secure)) throw new Error("secureAggregation must be an object");
  const checked = {};
  for (const key of SECURE_FIELDS) {
    const value = secure[key];
    if (typeof value !== "string" || value.length === 0 || value.length > 2048) throw new Error(`secureAggregation.${key} must be a string`);
    if (key.endsWith("Url") && !/^https?:\/\//.test(value)) throw new Error(`secureAggregation.${key} must be an http(s) URL`);
    checked[key] = value;
  }
  for (const key of ["minBatchSize", "timePrecisionSecs"]) {
    if (secure[key] === undefined) continue;
    if (!Number.isSafeInteger(secure[key]) || secure[key] < 1) throw new Error(`secureAggregation.${key} must be a positive whole number`);
    checked[key] = secure[key];
  }
  const unknown = Object.keys(secure).filter((key) => !(key in checked));
  if (unknown.length > 0) throw new Error(`secureAggregation has unknown fields: ${unknown.join(", ")}`);
  return checked;
}

/**
 * The page's configuration: `aggregatorUrl` and `answersUrl`, each an http(s) origin, and
 * `secureAggregation`, a DAP task's device settings.
 */
/** A `liftReport` whose noise is two lift tasks (one per bucket): the settings as they are, each task checked like `secureAggregation`. */
function checkedLiftReport(lift) {
  if (!lift || typeof lift !== "object" || Array.isArray(lift)) throw new Error("liftReport must be an object");
  const noise = lift.noise;
  if (!noise || noise.kind !== "secureAggregation" || !Number.isSafeInteger(noise.minCohort)) {
    throw new Error("liftReport.noise must be { kind: \"secureAggregation\", minCohort, tasks: { personalized, holdout } }");
  }
  const tasks = noise.tasks;
  if (!tasks || typeof tasks !== "object") throw new Error("liftReport.noise.tasks must be { personalized, holdout } (one DAP task per bucket)");
  const checkedTasks = { personalized: checkedSecure(tasks.personalized), holdout: checkedSecure(tasks.holdout) };
  return JSON.parse(JSON.stringify({ ...lift, noise: { kind: noise.kind, minCohort: noise.minCohort, tasks: checkedTasks } }));
}

function checkedConfig(config = {}) {
  const checked = {};
  if (config.secureAggregation !== undefined && config.secureAggregation !== null) {
    checked.secureAggregation = checkedSecure(config.secureAggregation);
  }
  if (config.liftReport !== undefined && config.liftReport !== null) {
    checked.liftReport = checkedLiftReport(config.liftReport);
  }
  for (const key of ["aggregatorUrl", "answersUrl"]) {
    if (config[key] === undefined || config[key] === null) continue;
    const url = URL.canParse(config[key]) ? new URL(config[key]) : null;
    if (!url || !["http:", "https:"].includes(url.protocol)) throw new Error(`${key} must be an http(s) URL, got ${config[key]}`);
    checked[key] = url.origin;
  }
  return checked;
}

async function handle(request, response, demoConfig) {
  const url = new URL(request.url ?? "/", "http://127.0.0.1");
  if (url.pathname === "/") {
    response.writeHead(302, { location: "/www/" });
    response.end();
    return;
  }
  if (url.pathname === "/www/demo-config.json" && (request.method === "GET" || request.method === "HEAD")) {
    const body = Buffer.from(JSON.stringify(demoConfig()));
    response.writeHead(200, {
      "content-type": MIME_TYPES[".json"], "content-length": body.length, "cache-control": "no-store",
      "x-content-type-options": "nosniff",
    });
    response.end(request.method === "HEAD" ? undefined : body);
    return;
  }
  const file = fileForPath(url.pathname);
  if (!file || (request.method !== "GET" && request.method !== "HEAD")) {
    response.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
    response.end("not found\n");
    return;
  }
  let entry;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new Error("not a file");
    entry = await variantsOf(file, info);
  } catch {
    const hint = file.includes(`${sep}pkg${sep}`) ? " (run scripts/build to create pkg/)" : "";
    response.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
    response.end(`not found${hint}\n`);
    return;
  }
  const chosen = chooseEncoding(request.headers["accept-encoding"]);
  const encoding = entry.bodies[chosen] ? chosen : "identity";
  const body = entry.bodies[encoding];
  const headers = {
    "cache-control": "no-cache",
    etag: `"${entry.tag}${encoding === "identity" ? "" : `-${encoding}`}"`,
    "x-content-type-options": "nosniff",
  };
  if (entry.bodies.gzip) headers.vary = "Accept-Encoding";
  if (notModified(request.headers["if-none-match"], entry.tag)) {
    response.writeHead(304, headers);
    response.end();
    return;
  }
  headers["content-type"] = MIME_TYPES[extname(file)] ?? "application/octet-stream";
  headers["content-length"] = body.length;
  if (encoding !== "identity") headers["content-encoding"] = encoding;
  response.writeHead(200, headers);
  response.end(request.method === "HEAD" ? undefined : body);
}

/**
 * Starts the server on 127.0.0.1; port 0 picks a free one. `demoConfig` is what
 * /www/demo-config.json says (`{ aggregatorUrl?, answersUrl?, secureAggregation?, liftReport? }`); `setDemoConfig`
 * changes it.
 */
export function startServer({ port = 8080, demoConfig = {} } = {}) {
  let config = checkedConfig(demoConfig);
  return new Promise((resolvePromise, reject) => {
    const server = createServer((req, res) => {
      handle(req, res, () => config).catch(() => {
        res.writeHead(500);
        res.end();
      });
    });
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const address = server.address();
      resolvePromise({
        url: `http://127.0.0.1:${address.port}`,
        close: () => new Promise((done) => { server.close(() => done()); server.closeAllConnections?.(); }),
        setDemoConfig: (next) => { config = checkedConfig(next); },
      });
    });
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const flag = (name) => {
    const at = process.argv.indexOf(name);
    return at > 0 ? process.argv[at + 1] : undefined;
  };
  const port = Number(flag("--port") ?? 8080);
  const secureFile = flag("--secure-aggregation");
  const secureAggregation = secureFile ? JSON.parse(await readFile(secureFile, "utf8")) : undefined;
  const demoConfig = { aggregatorUrl: flag("--aggregator"), answersUrl: flag("--answers"), secureAggregation };
  const { url } = await startServer({ port, demoConfig });
  console.log(`demo storefront: ${url}/www/  (Ctrl-C to stop)`);
}
