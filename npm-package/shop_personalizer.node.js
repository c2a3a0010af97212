// The package's entry for Node (package.json "exports" → "node"): the browser module, with
// `init()` and `initSync()` reading the core's .wasm from disk when given nothing, since Node's
// fetch() cannot load `file:` URLs. The on-demand module reads its own .wasm from disk already
// (src/wasm/core/parts_port.rs). Without localStorage the profile lives in memory and
// `warnings()` says so. (Copied into pkg/ by scripts/package-files.mjs.)
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import initFromInput, { initSync as initSyncFromInput } from "./shop_personalizer.js";

export * from "./shop_personalizer.js";

const CORE_WASM = new URL("./shop_personalizer_bg.wasm", import.meta.url);

const given = (options, field) =>
  options !== undefined && options !== null && !(typeof options === "object" && field in options && options[field] === undefined);

export default async function init(options) {
  return initFromInput(given(options, "module_or_path") ? options : { module_or_path: await readFile(CORE_WASM) });
}

export function initSync(options) {
  return initSyncFromInput(given(options, "module") ? options : { module: readFileSync(CORE_WASM) });
}
