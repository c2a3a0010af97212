// Compiled by the packed-tarball test with lib ESNext.Disposable: `using` frees the instance at
// the end of the scope (consumer.ts compiles without that lib).
import { Personalizer } from "shop-personalizer";

export function scoped(): number {
  using p = new Personalizer({ shop: "scoped" });
  return p.forget();
}
