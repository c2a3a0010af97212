// The Node consumer of the packed-tarball test: plain `node node.mjs` in a folder that installed
// the tarball. init() with no argument must read the .wasm from disk (not fetch it).
import init, { Personalizer } from "shop-personalizer";

await init();
const p = new Personalizer({ shop: "node-app", noise: { botHeuristic: false } });
p.setConsent("session");
const tracked = p.track({ type: "view", itemId: "trail-1", item: { categoryPath: ["Shoes", "Trail"], brand: "Summit" } });
await p.configureAdaptation({ holdoutShare: 0 });
const handle = p.registerCandidates({ ids: ["road-1", "trail-2"], attributes: [{ categoryPath: ["Shoes", "Road"] }, { categoryPath: ["Shoes", "Trail"] }] });
const ranked = p.rank(handle, { placement: "home" }).items.map((item) => item.id);
const warnings = p.warnings().map((w) => w.code);
console.log(JSON.stringify({ tracked: tracked.status, ranked, bucket: p.liftBucket() ?? null, warnings }));
