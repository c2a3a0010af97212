// Federated learning in the demo storefront: the page asks the aggregator for the key its models
// are signed with, configures sync, and the privacy panel shows the ledger. Only clipped, noised
// model updates and one noised lift report a day are ever sent (consent "Remember me" only); the
// shopper's profile never leaves.
//
// The aggregator is http://127.0.0.1:8787 (scripts/demo starts it) or `?aggregator=URL`. An
// automated browser (a test) syncs only when given `?aggregator=`, so other tests stay offline.
import { el } from "./dom.js";

const DEFAULT_AGGREGATOR = "http://127.0.0.1:8787";
// A demo wants to show an update soon: five labelled impressions instead of the default twenty,
// a short random delay, a check every five seconds. The privacy settings are the defaults.
const DEMO_SETTINGS = { maxJitterMs: 2000, checkIntervalMs: 5000, privacy: { minLabelledImpressions: 5 } };

function aggregatorUrl() {
  const given = new URLSearchParams(location.search).get("aggregator");
  if (given) return given.replace(/\/+$/, "");
  return navigator.webdriver ? null : DEFAULT_AGGREGATOR;
}

export class DemoSync {
  /** Configures sync when the aggregator answers; resolves to null (sync off) otherwise. */
  static async start(personalization) {
    const url = aggregatorUrl();
    if (!url) return null;
    try {
      const response = await fetch(`${url}/v1/model-key`, { credentials: "omit", referrerPolicy: "no-referrer", cache: "no-store" });
      const { publicKey } = await response.json();
      await personalization.personalizer.configureSync({ aggregatorUrl: url, modelPublicKey: publicKey, ...DEMO_SETTINGS });
      return new DemoSync(personalization, url);
    } catch (error) {
      console.info(`sync off: the aggregator at ${url} did not answer (${error instanceof Error ? error.message : error})`);
      return null;
    }
  }

  constructor(personalization, url) {
    this.personalization = personalization;
    this.url = url;
    this.lastOutcome = null;
  }

  /** Syncs now and remembers the outcome for the panel. */
  async syncNow() {
    this.lastOutcome = await this.personalization.personalizer.syncNow();
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
      ? `This device helps improve the shop's shared ranking model by sending clipped, noised updates to ${sync.url}, and once a day a noised count of what personalization changed (for the shop's lift measurement) — never your history.`
      : "Sharing model updates is off on this page."),
    el("dl", { class: "stats" }, rows.flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, value)])),
    sync ? el("button", { type: "button", "data-testid": "sync-now", onclick: () => sync.syncNow() }, "Send an update now") : null,
    sync?.lastOutcome ? el("p", { class: "fine-print", "data-testid": "sync-outcome", "data-status": sync.lastOutcome.status },
      OUTCOME_TEXT[sync.lastOutcome.status]?.(sync.lastOutcome) ?? sync.lastOutcome.status) : null);
}
