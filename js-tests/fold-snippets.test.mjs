// scripts/fold-snippets.mjs, which folds wasm-bindgen's snippets into the glue: a snippet the glue
// imports both by name and as a namespace is folded once, so the functions share its module state
// (two copies once made registerCandidates read a cut text: one copy kept it, the other said
// nothing was left), and what it cannot fold safely it refuses.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const script = fileURLToPath(new URL("../scripts/fold-snippets.mjs", import.meta.url));

function packageDir(glue, snippets) {
  const dir = mkdtempSync(join(tmpdir(), "fold-"));
  mkdirSync(join(dir, "snippets", "crate-1"), { recursive: true });
  for (const [name, code] of Object.entries(snippets)) writeFileSync(join(dir, "snippets", "crate-1", name), code);
  writeFileSync(join(dir, "glue.js"), glue);
  return dir;
}

function fold(dir) {
  return execFileSync(process.execPath, [script, dir, "glue.js"], { encoding: "utf8", stdio: "pipe" });
}

const counter = `let kept = "";
export function keep(text) { kept = text; return kept.length; }
export function left() { return kept.length; }
export const UNIT = 1;
`;

test("a snippet imported by name and as a namespace is folded once and its state is shared", async () => {
  const glue = `import { keep } from './snippets/crate-1/inline0.js';
import * as wasmSide from "./snippets/crate-1/inline0.js";
import * as again from "./snippets/crate-1/inline0.js";
export function run() { keep("abc"); return [wasmSide.left(), again.left(), wasmSide.UNIT]; }
`;
  const dir = packageDir(glue, { "inline0.js": counter });
  try {
    assert.match(fold(dir), /1 snippet\(s\) folded/);
    const out = readFileSync(join(dir, "glue.js"), "utf8");
    assert.equal(out.match(/let kept/g).length, 1, out);
    assert.equal(existsSync(join(dir, "snippets")), false);
    const { run } = await import(join(dir, "glue.js"));
    assert.deepEqual(run(), [3, 3, 1]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("two snippets stay apart and each keeps its own state", async () => {
  const glue = `import { keep } from './snippets/crate-1/inline0.js';
import * as other from "./snippets/crate-1/inline1.js";
export function run() { keep("abcd"); return other.left(); }
`;
  const dir = packageDir(glue, { "inline0.js": counter, "inline1.js": counter });
  try {
    assert.match(fold(dir), /2 snippet\(s\) folded/);
    const { run } = await import(join(dir, "glue.js"));
    assert.equal(run(), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an aliased import, a snippet that imports, or an export it cannot read is refused", () => {
  const cases = [
    [`import { keep as k } from './snippets/crate-1/inline0.js';\n`, counter, /cannot fold the import/],
    [`import { keep } from './snippets/crate-1/inline0.js';\n`, `import x from "y";\n${counter}`, /imports something itself/],
    [`import * as m from './snippets/crate-1/inline0.js';\n`, `export default 1;\n`, /does not fold/],
  ];
  for (const [glue, code, error] of cases) {
    const dir = packageDir(glue, { "inline0.js": code });
    try {
      assert.throws(() => fold(dir), (e) => error.test(String(e.stderr)));
      assert.equal(readFileSync(join(dir, "glue.js"), "utf8"), glue);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});
