// Makes the generated DIR/shop_personalizer.d.ts the package's public types (scripts/build):
// - keeps only declarations the exports reach (the class, init, initSync, PersonalizerError):
//   tsify declares every Rust type that derives it, internal ones too (Environment, LiftReport ...);
// - types reached from an argument take an explicit `undefined` for every optional field
//   (`item?: ItemAttributes | undefined`), as the runtime does, so they fit projects with
//   `exactOptionalPropertyTypes`; results keep `?:` for fields that are really absent;
// - `[Symbol.dispose]` is declared only where the project's lib knows `Symbol.dispose`
//   (ESNext.Disposable), so `using` works there and `skipLibCheck: false` without it compiles;
// - `InitOutput` (what init() resolves to: the raw wasm exports, named after Rust internals)
//   shows only `memory`.
// Fails when a kept declaration still holds rustdoc link syntax (`[`Name`]`): the comment is then
// written for Rust readers; say it in the words of the JS API instead.
//
//   node scripts/tidy-dts.mjs DIR
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const path = join(process.argv[2], "shop_personalizer.d.ts");
const text = readFileSync(path, "utf8");

// Top-level declarations: each starts at an `export` in column 0, with the comment before it.
const lines = text.split("\n");
const blocks = [];
let pending = [];
for (const line of lines) {
  pending.push(line);
  const closes = /^(}|export (type|function|default function|declare function) .*;)\s*$/.test(line) || /^export interface .*\{\s*\}$/.test(line);
  if (closes && pending.some((l) => l.startsWith("export "))) {
    blocks.push(pending.join("\n"));
    pending = [];
  }
}
const tail = pending.join("\n");
const nameOf = (block) => block.match(/^export (?:interface|type|class|function|default function)\s+([A-Za-z0-9_$]+)/m)?.[1];
const codeOf = (block) => block.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
// A name declared twice (an interface the facade extends by hand, which TypeScript merges)
// reaches what both declarations name.
const byName = new Map();
for (const block of blocks) byName.set(nameOf(block), `${byName.get(nameOf(block)) ?? ""}${block}`);

function reach(roots) {
  const seen = new Set();
  const stack = [...roots];
  while (stack.length > 0) {
    const name = stack.pop();
    if (seen.has(name) || !byName.has(name)) continue;
    seen.add(name);
    for (const word of codeOf(byName.get(name)).match(/[A-Za-z_$][A-Za-z0-9_$]*/g) ?? []) {
      if (byName.has(word) && !seen.has(word)) stack.push(word);
    }
  }
  return seen;
}

const publicRoots = ["Personalizer", "__wbg_init", "initSync", "PersonalizerError", "InitInput", "SyncInitInput", "InitOutput"];
const kept = reach(publicRoots);
// What callers pass: the parameter lists of the class's methods and constructor.
const classCode = codeOf(byName.get("Personalizer") ?? "");
const parameterTypes = [...classCode.matchAll(/\(([^)]*)\)\s*[:;]/g)].flatMap((m) => m[1].match(/[A-Z][A-Za-z0-9_$]*/g) ?? []);
const inputs = reach(parameterTypes);

const undefinedAllowed = (block) =>
  block
    // interface members, one a line
    .replace(/^(\s+[A-Za-z0-9_$]+\?: )(.*);$/gm, (all, head, type) => (/\bundefined\b/.test(type) ? all : `${head}${type} | undefined;`))
    // members of object types written on one line (the variants of a tagged union)
    .replace(/^export type .*$/gm, (line) =>
      line.replace(/([A-Za-z0-9_$]+)\?: ([^;{}]+?)(?=;| \})/g, (all, key, type) => (/\bundefined\b/.test(type) ? all : `${key}?: ${type} | undefined`)),
    );

const DISPOSE = `
/**
 * \`using p = new Personalizer(...)\` frees the instance at the end of the scope, where the
 * project's TypeScript lib declares \`Symbol.dispose\` (\`ESNext.Disposable\`); elsewhere the type
 * has no such member and \`free()\` does the same.
 */
export interface Personalizer extends DisposableWhereSupported {}
export type DisposableWhereSupported = SymbolConstructor extends { readonly dispose: infer K extends symbol } ? { [P in K]: () => void } : {};`;

const out = [];
for (const block of blocks) {
  const name = nameOf(block);
  if (!kept.has(name)) continue;
  let tidy = inputs.has(name) ? undefinedAllowed(block) : block;
  if (name === "Personalizer") {
    tidy = tidy.replace(/^\s*\[Symbol\.dispose\]\(\): void;\n/m, "") + DISPOSE;
  }
  if (name === "InitOutput") {
    tidy = tidy.replace(/\{[\s\S]*\}/, "{\n    readonly memory: WebAssembly.Memory;\n}");
  }
  out.push(tidy);
}
const result = `${out.join("\n")}${tail}`;

const links = result.split("\n").filter((line) => /\[`[^`]+`\]/.test(line));
if (links.length > 0) {
  console.error(`${path}: rustdoc link syntax in the public types; reword these doc comments:\n${links.join("\n")}`);
  process.exit(1);
}
writeFileSync(path, result);
console.log(`${path}: ${out.length} declarations kept, ${blocks.length - out.length} internal ones dropped, ${inputs.size} argument types take undefined`);
