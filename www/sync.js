// Federated learning in the demo storefront: the page configures sync with the model key pinned
// below, and the privacy panel shows the ledger. Only clipped, noised model updates and one
// noised lift report a day are ever sent (consent "Remember me" only); the shopper's profile
// never leaves.
//
// The aggregator is the one the shop's server names (demo-config.json: scripts/demo passes
// http://127.0.0.1:8787), in automated browsers too; no URL parameter chooses it. When the shop's
// server also names a secure aggregation task (scripts/demo runs a DAP leader at the aggregator and
// a helper beside it), model updates leave as DAP reports whose shares only the two servers
// together could read. Whichever it
// is, the page installs only models signed with DEMO_MODEL_KEY, pinned below.
// `?dev-model-key` (development only) takes the key from the aggregator instead, with a
// console warning.
import { el } from "./dom.js";

// The demo aggregator's model key, pinned in code as a shop's page must pin its own. scripts/demo
// runs the aggregator with the matching signing key, scripts/demo-model-signing-key.hex — a demo
// key: it is public, so never use it for a real shop.
export const DEMO_MODEL_KEY = "7d7f7000c9c7b3fb5fac0865b19570a2cbe87c22d60ae949b2be10d637ad0a49";
// A demo wants to show an update soon: five labelled impressions instead of the default twenty,
// a short random delay, a check every five seconds. The privacy settings are the defaults.
const DEMO_SETTINGS = { maxJitterMs: 2000, checkIntervalMs: 5000, privacy: { minLabelledImpressions: 5 } };

/** The model key: the pinned one, or (development only, `?dev-model-key`) the aggregator's own. */
async function modelKey(url) {
  if (!new URLSearchParams(location.search).has("dev-model-key")) return DEMO_MODEL_KEY;
  console.warn(`development only: the model key is taken from ${url}/v1/model-key, so that server can sign any model `
    + "this page installs; a shop pins its key in code (see README \"Pinned model key\")");
  const response = await fetch(`${url}/v1/model-key`, { credentials: "omit", referrerPolicy: "no-referrer", cache: "no-store" });
  return (await response.json()).publicKey;
}

export class DemoSync {
  /**
   * Configures sync with `url` (null: sync off), with `secureAggregation` and `liftReport` when
   * given; resolves to null (sync off) when that fails.
   */
  static async start(personalization, url, secureAggregation, liftReport) {
    if (!url) return null;
    try {
      const modelPublicKey = await modelKey(url);
      const secure = secureAggregation ? { secureAggregation } : {};
      const lift = liftReport ? { liftReport } : {};
      await personalization.personalizer.configureSync({ aggregatorUrl: url, modelPublicKey, ...DEMO_SETTINGS, ...secure, ...lift });
      return new DemoSync(personalization, url, secureAggregation);
    } catch (error) {
      console.info(`sync off: could not configure sync with ${url} (${error instanceof Error ? error.message : error})`);
      return null;
    }
  }

  constructor(personalization, url, secureAggregation) {
    this.personalization = personalization;
    this.url = url;
    this.secureAggregation = secureAggregation ?? null;
    this.lastOutcome = null;
  }

  /** Syncs now and remembers the outcome for the panel. */
  async syncNow() {
    this.lastOutcome = await this.personalization.personalizer.syncNow();
    this.personalization.logWarnings(); // a rejected model says why right away
    this.personalization.changed();
    return this.lastOutcome;
  }
}

const OUTCOME_TEXT = {
  sent: (o) => `sent an update (${o.bytes} bytes, against model version ${o.modelVersion})`,
  skipped: (o) => `nothing sent: ${o.message}`,
  refusedByLedger: (o) => `refused by the privacy ledger: ${o.message}`,
};

/** The panel's "Shared model updates" section: the ledger in plain numbers. */
export function ledgerSection(ledger, sync) {
  if (!ledger) return null;
  const number = (value) => value.toFixed(2);
  const renews = new Date(ledger.currentPeriodEndsUnixSeconds * 1000).toLocaleString();
  const rows = [
    ["Updates sent today", String(ledger.currentPeriodUpdates)],
    ["Lift reports sent today", String(ledger.currentPeriodLiftReports)],
    ["Privacy spent today", `ε ${number(ledger.currentPeriodEpsilon)} of ${number(ledger.periodBudgetEpsilon)}`],
    ["Each update costs", `ε ${number(ledger.epsilonPerUpdate)} (δ = ${ledger.delta})`],
    ["Each lift report costs", `ε ${number(ledger.epsilonPerLiftReport)} (at most one a day, composed with the updates)`],
    ["Budget renews", renews],
    ["Updates in total", String(ledger.lifetimeUpdates)],
    ["Lift reports in total", String(ledger.lifetimeLiftReports)],
  ];
  return el("section", { class: "ledger", "data-testid": "privacy-ledger" },
    el("h3", {}, "Shared model updates"),
    el("p", {}, sync
      ? `This device helps improve the shop's shared ranking model by sending clipped, noised updates to ${sync.secureAggregation
        ? `${sync.secureAggregation.leaderUrl} as secure aggregation reports (split between it and ${sync.secureAggregation.helperUrl}, so neither alone can read one; only sums of at least ${sync.secureAggregation.minBatchSize ?? 100} are ever released)`
        : sync.url}, and once a day a noised count of what personalization changed (for the shop's lift measurement) — never your history.`
      : "Sharing model updates is off on this page."),
    el("dl", { class: "stats" }, rows.flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, value)])),
    sync ? el("button", { type: "button", "data-testid": "sync-now", onclick: () => sync.syncNow() }, "Send an update now") : null,
    sync?.lastOutcome ? el("p", { class: "fine-print", "data-testid": "sync-outcome", "data-status": sync.lastOutcome.status },
      OUTCOME_TEXT[sync.lastOutcome.status]?.(sync.lastOutcome) ?? sync.lastOutcome.status) : null);
}
