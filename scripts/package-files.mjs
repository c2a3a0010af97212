// Makes DIR (scripts/build's pkg/) the npm package: adds FILE... (the on-demand module, which
// ships beside the core and is imported the first time a page needs it) to `files`, copies the
// Node entry, the npm README and the license files from npm-package/ and the repository root,
// and writes the `exports` map:
//   browsers and bundlers  shop_personalizer.js       init() fetches the .wasm by URL
//   Node                   shop_personalizer.node.js  init() reads the .wasm from disk
// wasm-pack wrote name, version, description, license, repository, homepage and keywords from
// Cargo.toml.
//
//   node scripts/package-files.mjs DIR FILE...
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const [dir, ...files] = process.argv.slice(2);

const copied = {
  "npm-package/README.md": "README.md",
  "npm-package/shop_personalizer.node.js": "shop_personalizer.node.js",
  "npm-package/shop_personalizer.node.d.ts": "shop_personalizer.node.d.ts",
  "LICENSE-MIT": "LICENSE-MIT",
  "LICENSE-APACHE": "LICENSE-APACHE",
};
for (const [from, to] of Object.entries(copied)) copyFileSync(join(ROOT, from), join(dir, to));

const path = join(dir, "package.json");
const generated = JSON.parse(readFileSync(path, "utf8"));
// The snippets are folded into the glue (scripts/fold-snippets.mjs): nothing of snippets/ ships.
const shipped = [...new Set([...(generated.files ?? []), ...files, ...Object.values(copied)])].filter(
  (f) => !f.startsWith("snippets") && f !== "README.md",
);
const { sideEffects, files: _files, main: _main, types: _types, ...about } = generated;
const manifest = {
  ...about,
  files: shipped.sort(),
  main: "shop_personalizer.js",
  module: "shop_personalizer.js",
  types: "shop_personalizer.d.ts",
  exports: {
    ".": {
      node: { types: "./shop_personalizer.node.d.ts", default: "./shop_personalizer.node.js" },
      types: "./shop_personalizer.d.ts",
      default: "./shop_personalizer.js",
    },
    // For a page that passes init() the core's URL itself (`import url from "…?url"` in Vite).
    "./shop_personalizer_bg.wasm": "./shop_personalizer_bg.wasm",
    "./package.json": "./package.json",
  },
  engines: { node: ">=20" },
};
const keptSideEffects = Array.isArray(sideEffects) ? sideEffects.filter((f) => !f.includes("snippets/")) : sideEffects;
if (keptSideEffects !== undefined && !(Array.isArray(keptSideEffects) && keptSideEffects.length === 0)) {
  manifest.sideEffects = keptSideEffects;
}
writeFileSync(path, `${JSON.stringify(manifest, null, 2)}\n`);
