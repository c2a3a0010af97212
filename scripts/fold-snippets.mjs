// Folds wasm-bindgen's snippets/ files into the glue that imports them (scripts/build), so a
// module loads as one JS file: each snippet becomes, once, `const __foldedSnippetN = (() => {
// …code…; return { f, … }; })();`; `import { f } from './snippets/<crate>/inline0.js';` becomes
// `const { f } = __foldedSnippetN;` and `import * as m from "…";` becomes `const m = …N;`.
// Refuses what it cannot fold safely (an aliased or default import, a snippet that imports
// something itself).
//
//   node scripts/fold-snippets.mjs DIR GLUE.js
import { readFileSync, writeFileSync, rmSync, existsSync } from "node:fs";
import { join } from "node:path";

const [dir, glueName] = process.argv.slice(2);
const gluePath = join(dir, glueName);
let glue = readFileSync(gluePath, "utf8");
// Each snippet is folded once, whichever ways the glue imports it: wasm-bindgen imports a snippet
// by name where it calls it from JS and as a namespace where wasm imports it directly, and two
// copies would each hold their own module state (what one function sets, another would not see).
const snippetImport =
  /^import (?:\{([^}]*)\}|\* as ([A-Za-z_$][\w$]*)) from ["'](\.\/snippets\/[^"']+)["'];?\n/gm;
const moduleNames = new Map();
function foldOnce(path) {
  if (moduleNames.has(path)) return { name: moduleNames.get(path), code: "" };
  const code = readFileSync(join(dir, path), "utf8");
  if (/^\s*import\b/m.test(code)) throw new Error(`fold-snippets: ${path} imports something itself`);
  const exported = [...code.matchAll(/^export (?:async )?(?:function\*?|const|let|class) ([A-Za-z_$][\w$]*)/gm)].map((m) => m[1]);
  if (/^export (?!(?:async )?(?:function|const|let|class) )/m.test(code)) {
    throw new Error(`fold-snippets: ${path} exports in a form this script does not fold`);
  }
  const name = `__foldedSnippet${moduleNames.size}`;
  moduleNames.set(path, name);
  const body = code.replace(/^export /gm, "");
  const from = path.replace(/snippets\/[^/]+\//, "snippets/");
  return { name, code: `// Folded from ${from}\nconst ${name} = (() => {\n${body}\nreturn { ${exported.join(", ")} };\n})();\n` };
}
glue = glue.replace(snippetImport, (_, names, namespace, path) => {
  const { name, code } = foldOnce(path);
  if (namespace !== undefined) return `${code}const ${namespace} = ${name};\n`;
  const imported = names.split(",").map((n) => n.trim()).filter(Boolean);
  for (const one of imported) {
    if (!/^[A-Za-z_$][\w$]*$/.test(one)) throw new Error(`fold-snippets: cannot fold the import "${one}" of ${path}`);
  }
  return `${code}const { ${imported.join(", ")} } = ${name};\n`;
});
if (/from ["']\.\/snippets\//.test(glue)) throw new Error("fold-snippets: an import of a snippet is left");
writeFileSync(gluePath, glue);
if (existsSync(join(dir, "snippets"))) rmSync(join(dir, "snippets"), { recursive: true });
console.log(`fold-snippets: ${moduleNames.size} snippet(s) folded into ${glueName}`);
