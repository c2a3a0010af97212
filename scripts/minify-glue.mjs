// Minifies a module's JS glue in place (scripts/build), as shops ship their scripts: comments
// dropped, whitespace removed, local names shortened (terser, an npm dev dependency). The doc
// comments wasm-bindgen copies into the glue were about 40% of its gzip bytes; they stay in the
// .d.ts, where editors read them. Exported names, property names and the
// `new URL("…_bg.wasm", import.meta.url)` that bundlers look for are kept as they are, and so are
// the bundlers' own comments (`webpackIgnore`, `@vite-ignore` on the Node-only `import()`), which
// tell webpack and Vite not to bundle `node:fs/promises` (tarball-tests/ builds both).
//
//   node scripts/minify-glue.mjs FILE.js...
import { readFileSync, writeFileSync } from "node:fs";
import { minify } from "terser";

for (const path of process.argv.slice(2)) {
  const code = readFileSync(path, "utf8");
  const result = await minify(code, {
    module: true,
    ecma: 2020,
    compress: { passes: 2 },
    mangle: true,
    keep_classnames: true,
    format: { comments: /webpackIgnore|@vite-ignore/ },
  });
  if (typeof result.code !== "string") throw new Error(`minify-glue: terser gave no code for ${path}`);
  writeFileSync(path, result.code + "\n");
}
