// Measures the shipped modules of the package as size-budgets.json lists them: raw, gzip -9 and
// brotli (quality 11) per file and per module, each file compressed on its own (a browser fetches
// each file separately). Used by scripts/size-check (the check in scripts/test) and by
// bench-page/run.mjs (the size rows of the benchmark table).
//
//   node scripts/module-sizes.mjs [--budgets FILE] [--json]   prints the table; exits 1 over a budget
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

export const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
export const BUDGETS_FILE = join(ROOT, "size-budgets.json");

/** Reads and checks the budget file; throws with what to fix. */
export function readBudgets(file = BUDGETS_FILE) {
  const budgets = JSON.parse(readFileSync(file, "utf8"));
  const problems = [];
  const names = new Set();
  for (const module of budgets.modules ?? []) {
    if (!module.name || names.has(module.name)) problems.push(`a module without a unique "name": ${JSON.stringify(module.name)}`);
    names.add(module.name);
    if (!Array.isArray(module.files) || module.files.length === 0) problems.push(`module ${module.name}: "files" lists nothing`);
    if (!Number.isInteger(module.budget?.gzip)) problems.push(`module ${module.name}: "budget.gzip" must be a whole number of bytes`);
  }
  if (!budgets.modules?.length) problems.push('"modules" lists nothing');
  for (const total of budgets.totals ?? []) {
    if (!total.name || !total.role) problems.push(`a total needs a "name" and the "role" of the modules it sums`);
  }
  if (problems.length) throw new Error(`${relative(process.cwd(), file)}: ${problems.join("; ")}`);
  return budgets;
}

/** The relative modules a JS file imports statically (`import … from "./x.js"`, `export … from`). */
function staticImports(source) {
  const found = [];
  const pattern = /(?:^|[;\n])\s*(?:import|export)\s*(?:[\w*${},\s]+?\s*from\s*)?["'](\.{1,2}\/[^"']+)["']/g;
  for (const match of source.matchAll(pattern)) found.push(match[1]);
  return found;
}

/** The listed files plus, for each JS file, what it imports statically, recursively (repo-relative). */
function moduleFiles(module, root) {
  const files = [];
  const seen = new Set();
  const visit = (path, importedBy) => {
    if (seen.has(path)) return;
    seen.add(path);
    files.push({ path, importedBy });
    if (!path.endsWith(".js") || module.followImports === false) return;
    const absolute = join(root, path);
    if (!existsSync(absolute)) return;
    for (const spec of staticImports(readFileSync(absolute, "utf8"))) {
      visit(relative(root, resolve(dirname(absolute), spec)), path);
    }
  };
  for (const path of module.files) visit(path, null);
  return files;
}

const compressed = new Map();

/**
 * gzip -9 as the `gzip` tool does it (what the issue and scripts/build measure; node's zlib, a
 * Chromium fork, compresses the .wasm 1% worse), node's zlib where no `gzip` is installed.
 */
function gzipSize(bytes) {
  try {
    return execFileSync("gzip", ["-9", "-n", "-c"], { input: bytes, maxBuffer: 1 << 30 }).length;
  } catch {
    return gzipSync(bytes, { level: 9 }).length;
  }
}

/** raw, gzip -9 and brotli q11 sizes of one file (memoized per path and content length). */
function fileSizes(absolute) {
  const bytes = readFileSync(absolute);
  const key = `${absolute}:${bytes.length}`;
  if (!compressed.has(key)) {
    const gzip = gzipSize(bytes);
    const brotli = brotliCompressSync(bytes, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: 11,
        [constants.BROTLI_PARAM_MODE]: absolute.endsWith(".js") ? constants.BROTLI_MODE_TEXT : constants.BROTLI_MODE_GENERIC,
        [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
      },
    }).length;
    compressed.set(key, { raw: bytes.length, gzip, brotli });
  }
  return compressed.get(key);
}

const sum = (rows) => rows.reduce((acc, row) => ({ raw: acc.raw + row.raw, gzip: acc.gzip + row.gzip, brotli: acc.brotli + row.brotli }), { raw: 0, gzip: 0, brotli: 0 });

/** Every .wasm and .js file under `dir` (repo-relative paths). */
function shippedFiles(dir, root) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.(wasm|js|mjs)$/.test(entry.name))
    .map((entry) => relative(root, join(entry.parentPath ?? entry.path, entry.name)));
}

/**
 * Measures every module of the budget file. Returns `{ modules, totals, total, problems }`: sizes
 * per file and per module, the over-budget verdicts, and `problems` (missing files, shipped files
 * that no module lists, budgets exceeded) — the check fails when it is not empty.
 */
export function measureModules(budgets = readBudgets(), root = ROOT) {
  const problems = [];
  const listed = new Set();
  const modules = budgets.modules.map((module) => {
    const files = moduleFiles(module, root).map(({ path, importedBy }) => {
      listed.add(path);
      const absolute = join(root, path);
      if (!existsSync(absolute)) {
        problems.push(`${path} (module ${module.name}) does not exist: run scripts/build, or fix size-budgets.json`);
        return { path, importedBy, missing: true, raw: 0, gzip: 0, brotli: 0 };
      }
      return { path, importedBy, ...fileSizes(absolute) };
    });
    const size = sum(files);
    const over = [];
    for (const measure of ["gzip", "raw", "brotli"]) {
      const limit = module.budget?.[measure];
      if (Number.isInteger(limit) && size[measure] > limit) over.push({ measure, size: size[measure], limit });
    }
    for (const { measure, size: value, limit } of over) {
      problems.push(`module ${module.name} is ${fmt(value)} B ${measure}, over its budget of ${fmt(limit)} by ${fmt(value - limit)}: `
        + `shrink it, or raise "budget.${measure}" in size-budgets.json and say why in the commit`);
    }
    return { name: module.name, role: module.role ?? "core", loads: module.loads, budget: module.budget, target: module.target, files, size, over };
  });
  for (const dir of budgets.shippedDirs ?? ["pkg"]) {
    for (const path of shippedFiles(join(root, dir), root)) {
      if (!listed.has(path)) problems.push(`${path} ships in ${dir}/ but no module of size-budgets.json lists it (or imports it): give it a module and a budget`);
    }
  }
  const totals = (budgets.totals ?? []).map((total) => {
    const members = modules.filter((module) => module.role === total.role);
    const size = sum(uniqueFiles(members));
    const limit = total.budget?.gzip;
    if (Number.isInteger(limit) && size.gzip > limit) problems.push(`${total.name}: ${fmt(size.gzip)} B gzip, over the budget of ${fmt(limit)}`);
    return { name: total.name, role: total.role, modules: members.map((m) => m.name), budget: total.budget, target: total.target, size };
  });
  return { modules, totals, total: sum(uniqueFiles(modules)), problems };
}

/** Each file once, however many modules list it. */
function uniqueFiles(modules) {
  const byPath = new Map();
  for (const module of modules) for (const file of module.files) byPath.set(file.path, file);
  return [...byPath.values()];
}

export const fmt = (n) => (n === undefined || n === null ? "—" : Math.round(n).toLocaleString("en-US"));

/** "5.46× over" / "within" for a size against a target. */
export function versus(size, limit) {
  if (!Number.isInteger(limit)) return "";
  return size <= limit ? "within" : `${(size / limit).toFixed(2)}× over`;
}

/** The markdown table of a measurement (module rows, their files indented, totals). */
export function sizeTable(report) {
  const head = ["module / file", "raw", "gzip -9", "brotli 11", "gzip budget", "gzip target"];
  const rows = [];
  for (const module of report.modules) {
    rows.push([`${module.name} (${module.role})`, module.size.raw, module.size.gzip, module.size.brotli, module.budget?.gzip, module.target?.gzip]);
    for (const file of module.files) {
      const note = file.missing ? " (missing)" : file.importedBy ? ` (imported by ${file.importedBy.split("/").pop()})` : "";
      rows.push([`  ${file.path}${note}`, file.raw, file.gzip, file.brotli, undefined, undefined]);
    }
  }
  for (const total of report.totals) {
    rows.push([`${total.name} (${total.modules.length} module${total.modules.length === 1 ? "" : "s"})`, total.size.raw, total.size.gzip, total.size.brotli, total.budget?.gzip, total.target?.gzip]);
  }
  rows.push(["every module", report.total.raw, report.total.gzip, report.total.brotli, undefined, undefined]);
  const cells = rows.map((row) => row.map((cell, i) => (i === 0 ? cell : fmt(cell))));
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i].length)));
  const line = (row) => `| ${row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join(" | ")} |`;
  return [line(head), `|${widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : `${"-".repeat(w + 1)}:`)).join("|")}|`, ...cells.map(line)].join("\n");
}

/** One line per module for logs: `size: NAME G B gzip (raw R, brotli B); budget …, target …`. */
export function summaryLines(report) {
  return [...report.modules, ...report.totals].map((entry) => {
    const budget = entry.budget?.gzip;
    const target = entry.target?.gzip;
    const parts = [`size: ${entry.name} ${fmt(entry.size.gzip)} B gzip (raw ${fmt(entry.size.raw)}, brotli ${fmt(entry.size.brotli)})`];
    if (Number.isInteger(budget)) parts.push(`budget ${fmt(budget)} ${entry.size.gzip <= budget ? "kept" : "EXCEEDED"}`);
    const raw = entry.budget?.raw;
    if (Number.isInteger(raw)) parts.push(`raw budget ${fmt(raw)} ${entry.size.raw <= raw ? "kept" : "EXCEEDED"}`);
    if (Number.isInteger(target)) {
      const aim = Number.isInteger(entry.target.aim) ? `, aim ${fmt(entry.target.aim)}` : "";
      parts.push(`target ${fmt(target)}${aim} ${versus(entry.size.gzip, target)} (not enforced)`);
    }
    return parts.join("; ");
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const at = args.indexOf("--budgets");
  const budgets = readBudgets(at >= 0 ? resolve(args[at + 1]) : BUDGETS_FILE);
  const report = measureModules(budgets);
  if (args.includes("--json")) {
    console.log(JSON.stringify(report));
  } else {
    console.log(`Shipped modules (${relative(ROOT, at >= 0 ? resolve(args[at + 1]) : BUDGETS_FILE)}), bytes; each file compressed on its own, summed per module:`);
    console.log(sizeTable(report));
    for (const line of summaryLines(report)) console.log(line);
    for (const problem of report.problems) console.log(`FAIL: ${problem}`);
    console.log(report.problems.length ? `size check failed: ${report.problems.length} problem(s)` : `size check passed: ${report.modules.length} module(s) within budget`);
  }
  process.exitCode = report.problems.length ? 1 : 0;
}
