// Folds wasm-bindgen's snippets/ files into the glue that imports them (scripts/build), so a
// module loads as one JS file: `import { f } from './snippets/<crate>/inline0.js';` becomes the
// snippet's own code with its `export` keywords dropped, and `import * as m from "…";` becomes
// `const m = (() => { …code…; return { f, … }; })();`. Refuses what it cannot fold safely (an
// aliased or default import, a snippet that imports something itself).
//
//   node scripts/fold-snippets.mjs DIR GLUE.js
import { readFileSync, writeFileSync, rmSync, existsSync } from "node:fs";
import { join } from "node:path";

const [dir, glueName] = process.argv.slice(2);
const gluePath = join(dir, glueName);
let glue = readFileSync(gluePath, "utf8");
const importLine = /^import \{([^}]*)\} from '(\.\/snippets\/[^']+)';\n/gm;
let folded = 0;
glue = glue.replace(importLine, (_, names, path) => {
  for (const name of names.split(",").map((n) => n.trim()).filter(Boolean)) {
    if (!/^[A-Za-z_$][\w$]*$/.test(name)) throw new Error(`fold-snippets: cannot fold the import "${name}" of ${path}`);
  }
  const code = readFileSync(join(dir, path), "utf8");
  if (/^\s*import\b/m.test(code)) throw new Error(`fold-snippets: ${path} imports something itself`);
  folded += 1;
  return `// Folded from ${path.replace(/snippets\/[^/]+\//, "snippets/")}\n${code.replace(/^export /gm, "")}\n`;
});
const namespaceLine = /^import \* as ([A-Za-z_$][\w$]*) from ["'](\.\/snippets\/[^"']+)["'];?\n/gm;
glue = glue.replace(namespaceLine, (_, name, path) => {
  const code = readFileSync(join(dir, path), "utf8");
  if (/^\s*import\b/m.test(code)) throw new Error(`fold-snippets: ${path} imports something itself`);
  const exported = [...code.matchAll(/^export (?:async )?(?:function\*?|const|let|class) ([A-Za-z_$][\w$]*)/gm)].map((m) => m[1]);
  if (/^export (?!(?:async )?(?:function|const|let|class) )/m.test(code)) {
    throw new Error(`fold-snippets: ${path} exports in a form this script does not fold`);
  }
  folded += 1;
  const body = code.replace(/^export /gm, "");
  return `// Folded from ${path.replace(/snippets\/[^/]+\//, "snippets/")}\nconst ${name} = (() => {\n${body}\nreturn { ${exported.join(", ")} };\n})();\n`;
});
if (/from ["']\.\/snippets\//.test(glue)) throw new Error("fold-snippets: an import of a snippet is left");
writeFileSync(gluePath, glue);
if (existsSync(join(dir, "snippets"))) rmSync(join(dir, "snippets"), { recursive: true });
console.log(`fold-snippets: ${folded} snippet(s) folded into ${glueName}`);
