// How the storefront uses the shop-personalizer package: one Personalizer for the page, the
// shopper's consent choice, and event tracking that never breaks the page.
import init, { Personalizer } from "../pkg/shop_personalizer.js";
import { itemOf } from "./catalog.js";
import { DemoSync } from "./sync.js";

// The shop's own record of the shopper's choice, so the banner is not shown on every page.
const CONSENT_KEY = "demo-shop.consent";
const CONSENT_MODES = ["none", "session", "full"];

export class ShopPersonalization {
  /**
   * Loads the wasm module and creates the page's Personalizer; syncs with `aggregatorUrl` if given,
   * its model updates as DAP reports when `secureAggregation` names the task.
   */
  static async start(catalog, aggregatorUrl, secureAggregation, liftReport) {
    await init();
    const params = new URLSearchParams(location.search);
    const personalizer = new Personalizer({
      shop: catalog.shop,
      sensitiveCategories: catalog.sensitiveCategories,
      // Automated browsers are treated as bots unless the page is opened with ?allow-automation.
      noise: { botHeuristic: !params.has("allow-automation") },
    });
    const shop = new ShopPersonalization(personalizer);
    shop.report(() => personalizer.upsertItems(catalog.products.map(itemOf)));
    const saved = localStorage.getItem(CONSENT_KEY);
    if (CONSENT_MODES.includes(saved)) shop.report(() => personalizer.setConsent(saved, { explicitOptIn: true }));
    shop.logWarnings();
    // Sync starts in the background; the shop does not wait for the aggregator.
    DemoSync.start(shop, aggregatorUrl, secureAggregation, liftReport).then((sync) => { shop.sync = sync; shop.changed(); });
    return shop;
  }

  constructor(personalizer) {
    this.personalizer = personalizer;
    this.listeners = new Set();
    this.sync = null;
    /** What the page showed lately and why ({ what, reason, code, detail }), for the privacy panel. */
    this.shown = [];
  }

  /** Remembers why things were shown (newest first, at most 12) for "Why am I seeing this". */
  noteShown(entries) {
    const fresh = entries.filter(Boolean);
    const whats = new Set(fresh.map((entry) => entry.what));
    this.shown = [...fresh, ...this.shown.filter((entry) => !whats.has(entry.what))].slice(0, 12);
  }

  /** True once the shopper answered the consent banner. */
  hasConsentChoice() {
    return CONSENT_MODES.includes(localStorage.getItem(CONSENT_KEY));
  }

  /** The shopper picked a mode in the banner: an explicit choice, so it overrides Global Privacy Control. */
  chooseConsent(mode) {
    const outcome = this.report(() => this.personalizer.setConsent(mode, { explicitOptIn: true }));
    localStorage.setItem(CONSENT_KEY, mode);
    this.logWarnings();
    this.changed();
    return outcome;
  }

  /** Records an event; a rejected event is logged, never thrown at the page. */
  track(event) {
    this.report(() => this.personalizer.track(event));
    this.changed();
  }

  consent() {
    return this.personalizer.consent;
  }

  summary() {
    return this.report(() => this.personalizer.profileSummary());
  }

  /** The export, after saving this page's latest state so that every stored part is current. */
  exportJson() {
    if (this.consent() === "full") this.report(() => this.personalizer.flush());
    return this.report(() => this.personalizer.exportProfile());
  }

  removeInterest(key) {
    this.report(() => this.personalizer.removeInterest(key));
    this.changed();
  }

  /** Erases the profile and the consent choice: the shopper starts over. */
  forget() {
    this.report(() => this.personalizer.setConsent("none", { explicitOptIn: false }));
    this.report(() => this.personalizer.forget());
    localStorage.removeItem(CONSENT_KEY);
    this.changed();
  }

  /** Storage problems the package survived (an unreadable stored profile, a full quota), logged once. */
  logWarnings() {
    for (const warning of this.report(() => this.personalizer.takeWarnings()) ?? []) {
      console.warn(`shop-personalizer ${warning.code}: ${warning.message}`);
    }
  }

  onChange(listener) {
    this.listeners.add(listener);
  }

  changed() {
    for (const listener of this.listeners) listener();
  }

  report(call) {
    try {
      return call();
    } catch (error) {
      console.warn("shop-personalizer:", error instanceof Error ? error.message : error);
      return undefined;
    }
  }
}
