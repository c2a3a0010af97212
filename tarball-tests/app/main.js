// The storefront of the packed-tarball test (tarball-tests/consumers.test.mjs): Vite and webpack
// bundle this file as a fresh app that installed the package would; the page then runs it in
// Chromium. Loads both modules: the core with init(), the on-demand one with configureAdaptation().
import init, { Personalizer } from "shop-personalizer";

async function main() {
  await init();
  const p = new Personalizer({ shop: "tarball", noise: { botHeuristic: false } });
  p.setConsent("full", { explicitOptIn: true });
  await p.configureAdaptation({ holdoutShare: 0 });
  const tracked = p.track({ type: "view", itemId: "trail-1", item: { categoryPath: ["Shoes", "Trail"], brand: "Summit", price: 120 } });
  const handle = p.registerCandidates({
    ids: ["road-1", "trail-2", "tent-1"],
    attributes: [{ categoryPath: ["Shoes", "Road"] }, { categoryPath: ["Shoes", "Trail"], brand: "Summit" }, { categoryPath: ["Outdoor", "Tents"] }],
  });
  const ranked = p.rank(handle, { placement: "home", limit: 3 }).items.map((item) => item.id);
  const offer = p.chooseOffer([{ id: "welcome", audience: [{ kind: "firstVisit" }] }]);
  return { tracked: tracked.status, ranked, offer: offer.offerId ?? null, bucket: p.liftBucket() ?? null };
}

main().then(
  (result) => {
    window.__result = result;
    document.body.textContent = JSON.stringify(result);
  },
  (error) => {
    window.__error = String(error?.stack ?? error);
  },
);
