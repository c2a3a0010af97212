// Where the demo's servers are, as the shop's own server says (scripts/serve.mjs serves
// demo-config.json; scripts/demo passes it the aggregator's and the answers service's URLs).
// No URL parameter of the page chooses a server: a link cannot point the page elsewhere.

/** `{ aggregatorUrl?, answersUrl? }`; `{}` (no servers: the page answers itself) when unavailable. */
export async function loadDemoConfig() {
  try {
    const response = await fetch(new URL("demo-config.json", import.meta.url), { cache: "no-store" });
    if (!response.ok) return {};
    const config = await response.json();
    const origin = (value) => (typeof value === "string" && URL.canParse(value) ? new URL(value).origin : undefined);
    return { aggregatorUrl: origin(config.aggregatorUrl), answersUrl: origin(config.answersUrl) };
  } catch {
    return {};
  }
}
