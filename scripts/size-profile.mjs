// Where the bytes of each shipped .wasm go (scripts/size-profile builds the copy with names):
// twiggy's top items by shallow size (with retained), the code per crate and per module path of
// this crate, twiggy's biggest monomorphized generics, and the source paths (panic locations) in
// the data segments.
//
//   node scripts/size-profile.mjs NAMED_PKG_DIR [--top N]
import { execFileSync } from "node:child_process";
import { readFileSync, existsSync } from "node:fs";
import { homedir } from "node:os";
import { join, relative } from "node:path";
import { ROOT, fmt, readBudgets } from "./module-sizes.mjs";
import { dataSegments, sections } from "./wasm-sections.mjs";

const args = process.argv.slice(2);
const namedDir = args[0];
const TOP = args.includes("--top") ? Number(args[args.indexOf("--top") + 1]) : 40;
if (!namedDir) throw new Error("usage: node scripts/size-profile.mjs NAMED_PKG_DIR [--top N]");

/** Module paths of the standard library shown one level deeper (the sort and drop glue families). */
const DEEPER = ["core::slice::sort", "core::ptr::drop_in_place", "core::fmt::float", "core::num::flt2dec", "alloc::collections::btree"];
const STD = new Set(["core", "alloc", "std"]);
const THIS_CRATE = "shop_personalizer";

/** The leading `a::b::c` path of a symbol, without generics, hash or closure suffix. */
function leadingPath(text) {
  return text.replace(/^(?:&mut |&|\*const |\*mut |dyn )+/, "").match(/^[A-Za-z_]\w*(?:::[A-Za-z_]\w*)*/)?.[0] ?? "";
}

/**
 * The path a function's code is booked under: the implementing type's path for `<X as Trait>::f`,
 * the trait's when X is a primitive, slice or tuple, or a standard type implementing a serde trait
 * (`<PhantomData<T> as DeserializeSeed>` is serde's code); else the function's own path.
 */
export function ownerPath(name) {
  // Without the hash, and without v0 mangling's crate disambiguators (`core[c5930c85a12de822]`).
  const symbol = name.replace(/::h[0-9a-f]{16}(?:\.\d+)?$/, "").replace(/\[[0-9a-f]{8,}\]/g, "");
  if (!symbol.startsWith("<")) return leadingPath(symbol);
  const inner = symbol.slice(1);
  const own = leadingPath(inner);
  const trait = inner.match(/ as ((?:[A-Za-z_]\w*::)+[A-Za-z_]\w*)/)?.[1];
  if (trait && (!own.includes("::") || (STD.has(own.split("::")[0]) && trait.startsWith("serde")))) return trait;
  return own;
}

/** "code", "data", "custom" (name section, producers) or "structure" (types, imports, exports, tables). */
function kindOf(name) {
  if (/^data\[\d+\]$|^data segment /.test(name)) return "data";
  if (/^"[\w ]+" subsection$|^custom section /.test(name)) return "custom";
  if (/^(elem|table|type|global|memory)\[|^export "|^import |section headers$|^wasm magic bytes$/.test(name)) return "structure";
  return "code";
}

/** wasm-bindgen's export functions, with the facade and core code the optimizer inlined into them. */
const EXPORT_WRAPPERS = "(export wrappers: each #[wasm_bindgen] export with the Rust code inlined into it)";

/** The group of an item: a crate (`by: "crate"`) or a module path (`by: "module"`), or a kind of non-code item. */
function groupOf(item, by, exports) {
  const name = item.name;
  const kind = kindOf(name);
  if (kind === "data") return "(data segments)";
  if (kind === "custom") return "(custom sections: names, producers)";
  if (kind === "structure") return "(wasm structure: types, imports, exports, tables)";
  if (exports.has(name.replace(/( externref shim| multivalue shim)+$/, ""))) return EXPORT_WRAPPERS;
  if (/^code\[\d+\]$/.test(name)) return "(unnamed code: wasm-bindgen adapters)";
  const path = ownerPath(name);
  if (!path.includes("::")) return "(unmangled: allocator, libm, compiler builtins, wasm-bindgen runtime)";
  const parts = path.split("::");
  if (by === "crate") return parts[0];
  const deeper = DEEPER.find((prefix) => path === prefix || path.startsWith(`${prefix}::`));
  if (deeper) return deeper;
  const depth = parts[0] === THIS_CRATE || STD.has(parts[0]) ? 2 : 1;
  return parts.slice(0, depth).join("::");
}

function twiggyItems(wasm) {
  const json = execFileSync("twiggy", ["top", "--retained", "-f", "json", wasm], { maxBuffer: 1 << 28 }).toString();
  return JSON.parse(json);
}

function table(head, rows) {
  const cells = rows.map((row) => row.map(String));
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i].length)));
  const line = (row) => `| ${row.map((cell, i) => (i === head.length - 1 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join(" | ")} |`;
  return [line(head), `|${widths.map((w, i) => (i === head.length - 1 ? "-".repeat(w + 2) : `${"-".repeat(w + 1)}:`)).join("|")}|`, ...cells.map(line)].join("\n");
}

const pct = (part, whole) => `${((100 * part) / whole).toFixed(1)}%`;
/** Without the symbol hash; long names keep their start and end (where the type and method are). */
function shorten(name, max = 130) {
  const text = name.replace(/::h[0-9a-f]{16}(?=$|\.)/, "").replace(/\[[0-9a-f]{8,}\]/g, "");
  return text.length > max ? `${text.slice(0, 60)}…${text.slice(text.length - (max - 61))}` : text;
}

/** Sums items per group; `serde` is the part whose symbol names serde (derived visitors, impls). */
function breakdown(items, by, exports, codeTotal) {
  const groups = new Map();
  for (const item of items) {
    const key = groupOf(item, by, exports);
    const group = groups.get(key) ?? { key, bytes: 0, count: 0, serde: 0 };
    group.bytes += item.shallow_size;
    group.count += 1;
    if (/serde/.test(item.name)) group.serde += item.shallow_size;
    groups.set(key, group);
  }
  const isCodeGroup = (key) => !/^\((data|custom|wasm structure)/.test(key);
  return [...groups.values()].sort((a, b) => b.bytes - a.bytes).map((g) => [fmt(g.bytes), isCodeGroup(g.key) ? pct(g.bytes, codeTotal) : "", g.count, g.serde ? fmt(g.serde) : "", g.key]);
}

/** Source paths in the data segments: cargo registry (machine-specific), Rust's std, this crate. */
function sourcePaths(wasm) {
  const cargoHome = process.env.CARGO_HOME ?? join(homedir(), ".cargo");
  const registry = `${cargoHome}/registry/src/`;
  const kinds = {
    registry: { label: `cargo registry (${registry}<index>/<crate>/…)`, paths: 0, bytes: 0, prefix: 0, crates: new Map() },
    rustc: { label: "Rust std (/rustc/<commit>/library/…)", paths: 0, bytes: 0, prefix: 0 },
    local: { label: "this crate (src/…)", paths: 0, bytes: 0, prefix: 0 },
  };
  const segments = dataSegments(readFileSync(wasm));
  const holding = [];
  for (const segment of segments) {
    const text = segment.bytes.toString("latin1");
    const taken = [];
    let found = false;
    for (const match of text.matchAll(/\/[\w.+-]+(?:\/[\w.+-]+)*?\/registry\/src\/([\w.-]+)\/([\w.+-]+)\/[\w\/.+-]*?\.rs/g)) {
      const start = text.indexOf(registry, match.index);
      const path = start >= 0 && start < match.index + match[0].length ? text.slice(start, match.index + match[0].length) : match[0];
      const k = kinds.registry;
      k.paths += 1;
      k.bytes += path.length;
      k.prefix += path.indexOf(match[2]);
      const crate = match[2].replace(/-\d+\.\d+\.\d+.*$/, "");
      k.crates.set(crate, (k.crates.get(crate) ?? 0) + path.length);
      taken.push([match.index, match.index + match[0].length]);
      found = true;
    }
    for (const match of text.matchAll(/\/rustc\/[0-9a-f]{40}\/library\/[\w\/.-]*?\.rs/g)) {
      kinds.rustc.paths += 1;
      kinds.rustc.bytes += match[0].length;
      kinds.rustc.prefix += "/rustc/".length + 41;
      taken.push([match.index, match.index + match[0].length]);
    }
    for (const match of text.matchAll(/src\/[\w\/-]*?\.rs/g)) {
      if (taken.some(([from, to]) => match.index >= from && match.index < to)) continue;
      kinds.local.paths += 1;
      kinds.local.bytes += match[0].length;
    }
    if (found) holding.push(`data[${segment.index}] ${fmt(segment.bytes.length)} B`);
  }
  const dataBytes = segments.reduce((n, s) => n + s.bytes.length, 0);
  return { kinds, holding, segments: segments.length, dataBytes, registry };
}

function profileWasm(shipped, named) {
  const shippedSections = sections(readFileSync(shipped));
  const namedSections = sections(readFileSync(named));
  const code = (list) => list.find((s) => s.kind === "code")?.size ?? 0;
  const nameSection = namedSections.filter((s) => s.kind === "custom").reduce((n, s) => n + s.size, 0);
  console.log(`\n## ${relative(ROOT, shipped)}`);
  console.log(`shipped: ${fmt(readFileSync(shipped).length)} B; names-kept copy ${relative(ROOT, named)}: ${fmt(readFileSync(named).length)} B `
    + `(custom sections ${fmt(nameSection)} B); code section ${fmt(code(namedSections))} B vs shipped ${fmt(code(shippedSections))} B`
    + (code(namedSections) === code(shippedSections) ? " (same code)" : ` (differs by ${fmt(code(namedSections) - code(shippedSections))})`));
  console.log(`sections (shipped): ${shippedSections.map((s) => `${s.name ? `custom '${s.name}'` : s.kind} ${fmt(s.size)}`).join(", ")}`);

  const items = twiggyItems(named);
  const exports = new Set(items.filter((i) => i.name.startsWith('export "')).map((i) => i.name.slice(8, -1)));
  const isCode = (item) => kindOf(item.name) === "code";
  const codeTotal = items.filter(isCode).reduce((n, i) => n + i.shallow_size, 0);
  const shippedLike = items.filter((i) => kindOf(i.name) !== "custom");
  console.log(`code (functions): ${fmt(codeTotal)} B; percentages below are of the code`);

  console.log(`\n### Top ${TOP} items by shallow size (twiggy top; retained = what is only reachable through the item)`);
  const top = [...shippedLike].sort((a, b) => b.shallow_size - a.shallow_size).slice(0, TOP);
  console.log(table(["shallow", "%", "retained", "item"], top.map((i) => [fmt(i.shallow_size), pct(i.shallow_size, codeTotal), fmt(i.retained_size), shorten(i.name)])));

  console.log(`\n### Top 15 by retained size, not counting the table and element roots`);
  const retained = shippedLike.filter((i) => !/^(table|elem)\[/.test(i.name)).sort((a, b) => b.retained_size - a.retained_size).slice(0, 15);
  console.log(table(["retained", "%", "shallow", "item"], retained.map((i) => [fmt(i.retained_size), pct(i.retained_size, codeTotal), fmt(i.shallow_size), shorten(i.name)])));

  console.log("\n### Per crate (serde = bytes of symbols that name serde: derived visitors and impls)");
  console.log(table(["bytes", "% code", "items", "serde", "crate"], breakdown(shippedLike, "crate", exports, codeTotal)));
  const serdeAll = items.filter((i) => isCode(i) && /serde/.test(i.name)).reduce((n, i) => n + i.shallow_size, 0);
  console.log(`serde machinery in all (every function whose symbol names serde): ${fmt(serdeAll)} B, ${pct(serdeAll, codeTotal)} of the code`);

  const wrappers = shippedLike.filter((i) => groupOf(i, "crate", exports) === EXPORT_WRAPPERS && !i.name.startsWith("__")).sort((a, b) => b.shallow_size - a.shallow_size);
  console.log(`export wrappers, shallow (retained): ${wrappers.map((i) => `${i.name.split(" ")[0]} ${fmt(i.shallow_size)} (${fmt(i.retained_size)})`).join(", ")}`);

  console.log(`\n### Per module path (${THIS_CRATE}::<module>, core/alloc/std::<module>, other crates whole)`);
  console.log(table(["bytes", "% code", "items", "serde", "module"], breakdown(shippedLike, "module", exports, codeTotal).slice(0, 45)));

  console.log("\n### Biggest generic functions by monomorphization bloat (twiggy monos -g)");
  console.log(execFileSync("twiggy", ["monos", "-g", "-m", "15", named], { maxBuffer: 1 << 26 }).toString().trimEnd());

  const paths = sourcePaths(shipped);
  console.log(`\n### Source paths in the data segments (panic locations), shipped .wasm: ${paths.segments} segment(s), ${fmt(paths.dataBytes)} B of data`);
  const rows = Object.values(paths.kinds).map((k) => [k.paths, fmt(k.bytes), k.prefix ? fmt(k.prefix) : "", k.label]);
  const all = Object.values(paths.kinds).reduce((acc, k) => ({ paths: acc.paths + k.paths, bytes: acc.bytes + k.bytes, prefix: acc.prefix + k.prefix }), { paths: 0, bytes: 0, prefix: 0 });
  rows.push([all.paths, fmt(all.bytes), fmt(all.prefix), "every source path"]);
  console.log(table(["paths", "bytes", "prefix bytes", "kind"], rows));
  const crates = [...paths.kinds.registry.crates.entries()].sort((a, b) => b[1] - a[1]);
  console.log(`registry path bytes per crate: ${crates.map(([crate, bytes]) => `${crate} ${fmt(bytes)}`).join(", ") || "none"}`);
  console.log(`segments holding registry paths: ${paths.holding.join(", ") || "none"}`);
  console.log("(prefix bytes: the machine-specific part before <crate>/, what --remap-path-prefix shortens)");
}

const budgets = readBudgets();
for (const module of budgets.modules) {
  for (const file of module.files.filter((f) => f.endsWith(".wasm"))) {
    const named = join(namedDir, relative("pkg", file));
    if (!file.startsWith("pkg/") || !existsSync(named)) {
      console.log(`\n## ${file}: no names-kept copy at ${named}; skipped`);
      continue;
    }
    console.log(`\n# module ${module.name} (${module.role ?? "core"})`);
    profileWasm(join(ROOT, file), named);
  }
}
