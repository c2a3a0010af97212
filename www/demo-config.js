// Where the demo's servers are, as the shop's own server says (scripts/serve.mjs serves
// demo-config.json; scripts/demo passes it the aggregator's and the answers service's URLs, and
// the secure aggregation task's device settings).
// No URL parameter of the page chooses a server: a link cannot point the page elsewhere.

/**
 * `{ aggregatorUrl?, answersUrl?, secureAggregation? }`; `{}` (no servers: the page answers itself)
 * when unavailable. `secureAggregation` is passed to configureSync as it is (the package checks it).
 */
export async function loadDemoConfig() {
  try {
    const response = await fetch(new URL("demo-config.json", import.meta.url), { cache: "no-store" });
    if (!response.ok) return {};
    const config = await response.json();
    const origin = (value) => (typeof value === "string" && URL.canParse(value) ? new URL(value).origin : undefined);
    const secure = config.secureAggregation;
    const secureAggregation = secure && typeof secure === "object" && !Array.isArray(secure) ? secure : undefined;
    return { aggregatorUrl: origin(config.aggregatorUrl), answersUrl: origin(config.answersUrl), secureAggregation };
  } catch {
    return {};
  }
}
