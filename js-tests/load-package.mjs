// Loads the built package (pkg/) in Node: the `web` target's initSync with the .wasm bytes.
import { readFileSync } from "node:fs";
import * as personalizerPackage from "../pkg/shop_personalizer.js";

const wasmBytes = readFileSync(new URL("../pkg/shop_personalizer_bg.wasm", import.meta.url));
personalizerPackage.initSync({ module: wasmBytes });

export const { Personalizer } = personalizerPackage;
export const wasmSize = wasmBytes.length;
