// Types of the Node entry: the browser module's, with init() and initSync() that read the
// package's .wasm from disk when given nothing.
export * from "./shop_personalizer.js";
import type { InitInput, InitOutput, SyncInitInput } from "./shop_personalizer.js";

/** Loads the core module; with no argument, from the package's own `shop_personalizer_bg.wasm`. */
export default function init(
  module_or_path?: { module_or_path: InitInput | Promise<InitInput> } | InitInput | Promise<InitInput>,
): Promise<InitOutput>;

/** Loads the core module synchronously; with no argument, from the package's own `.wasm`. */
export function initSync(module?: { module: SyncInitInput } | SyncInitInput): InitOutput;
