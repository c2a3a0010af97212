// Where the demo's servers are, as the shop's own server says (scripts/serve.mjs serves
// demo-config.json; scripts/demo passes it the aggregator's and the answers service's URLs, and
// the secure aggregation tasks' device settings: `secureAggregation` for model updates, and
// `liftReport` with a lift task as its noise).
// No URL parameter of the page chooses a server: a link cannot point the page elsewhere.

/**
 * `{ aggregatorUrl?, answersUrl?, secureAggregation?, liftReport? }`; `{}` (no servers: the page
 * answers itself) when unavailable. `secureAggregation` and `liftReport` are passed to configureSync
 * as they are (the package checks them).
 */
export async function loadDemoConfig() {
  try {
    const response = await fetch(new URL("demo-config.json", import.meta.url), { cache: "no-store" });
    if (!response.ok) return {};
    const config = await response.json();
    const origin = (value) => (typeof value === "string" && URL.canParse(value) ? new URL(value).origin : undefined);
    const secure = config.secureAggregation;
    const object = (value) => (value && typeof value === "object" && !Array.isArray(value) ? value : undefined);
    const secureAggregation = object(secure);
    const liftReport = object(config.liftReport);
    return { aggregatorUrl: origin(config.aggregatorUrl), answersUrl: origin(config.answersUrl), secureAggregation, liftReport };
  } catch {
    return {};
  }
}
