// Adds files to the `files` list of DIR/package.json (scripts/build: the on-demand module ships
// beside the core, which imports it the first time a page needs it).
//
//   node scripts/package-files.mjs DIR FILE...
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [dir, ...files] = process.argv.slice(2);
const path = join(dir, "package.json");
const manifest = JSON.parse(readFileSync(path, "utf8"));
// The snippets are folded into the glue (scripts/fold-snippets.mjs): nothing of snippets/ ships.
manifest.files = [...new Set([...(manifest.files ?? []), ...files])].filter((f) => !f.startsWith("snippets"));
if (Array.isArray(manifest.sideEffects)) {
  manifest.sideEffects = manifest.sideEffects.filter((f) => !f.includes("snippets/"));
  if (manifest.sideEffects.length === 0) delete manifest.sideEffects;
}
writeFileSync(path, `${JSON.stringify(manifest, null, 2)}\n`);
