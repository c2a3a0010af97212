// Compiled by the packed-tarball test against the installed package (its `exports` types), once
// as a bundler sees it and once as Node (nodenext) does.
import init, { Personalizer, type TrackOutcome } from "shop-personalizer";

export async function start(): Promise<TrackOutcome> {
  await init();
  const p = new Personalizer({ shop: "typed", noise: { botHeuristic: undefined } });
  p.setConsent("session");
  // @ts-expect-error: no event of type "veiw"
  p.track({ type: "veiw", itemId: "a" });
  return p.track({ type: "view", itemId: "a" });
}
