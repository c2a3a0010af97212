// A tiny static server for the demo storefront: serves www/ and pkg/ from the repository root,
// bound to 127.0.0.1 only, with the MIME types browsers insist on (application/wasm for .wasm).
//
//   node scripts/serve.mjs [--port 8080]
//
// Also importable: `startServer({ port: 0 })` resolves to `{ url, close }` (used by the e2e tests).
import { createServer } from "node:http";
import { readFile, stat } from "node:fs/promises";
import { extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

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

/** Maps a URL path to a file under www/ or pkg/, or null when it is outside them. */
function fileForPath(urlPath) {
  const path = urlPath === "/" ? "/www/index.html" : urlPath.endsWith("/") ? `${urlPath}index.html` : urlPath;
  const relative = normalize(decodeURIComponent(path)).replace(/^[/\\]+/, "");
  const topDir = relative.split(sep)[0];
  if (!SERVED_DIRS.includes(topDir)) return null;
  const full = join(ROOT, relative);
  return full.startsWith(join(ROOT, topDir) + sep) ? full : null;
}

async function handle(request, response) {
  const url = new URL(request.url ?? "/", "http://127.0.0.1");
  if (url.pathname === "/") {
    response.writeHead(302, { location: "/www/" });
    response.end();
    return;
  }
  const file = fileForPath(url.pathname);
  if (!file || (request.method !== "GET" && request.method !== "HEAD")) {
    response.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
    response.end("not found\n");
    return;
  }
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new Error("not a file");
    const body = await readFile(file);
    response.writeHead(200, {
      "content-type": MIME_TYPES[extname(file)] ?? "application/octet-stream",
      "content-length": body.length,
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
    });
    response.end(request.method === "HEAD" ? undefined : body);
  } catch {
    const hint = file.includes(`${sep}pkg${sep}`) ? " (run scripts/build to create pkg/)" : "";
    response.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
    response.end(`not found${hint}\n`);
  }
}

/** Starts the server on 127.0.0.1; port 0 picks a free one. */
export function startServer({ port = 8080 } = {}) {
  return new Promise((resolvePromise, reject) => {
    const server = createServer((req, res) => {
      handle(req, res).catch(() => {
        res.writeHead(500);
        res.end();
      });
    });
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const address = server.address();
      resolvePromise({
        url: `http://127.0.0.1:${address.port}`,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const portFlag = process.argv.indexOf("--port");
  const port = portFlag > 0 ? Number(process.argv[portFlag + 1]) : 8080;
  const { url } = await startServer({ port });
  console.log(`demo storefront: ${url}/www/  (Ctrl-C to stop)`);
}
