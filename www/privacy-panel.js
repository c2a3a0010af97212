// "What this shop knows about you": the shopper's view of their on-device profile, with export,
// forget and per-interest removal.
import { el } from "./dom.js";
import { ledgerSection } from "./sync.js";

const CONSENT_LABELS = {
  none: "Off — nothing is collected",
  session: "This visit only — kept in memory, gone when you close the tab",
  full: "Remembered on this device",
};

const KIND_LABELS = { category: "Category", brand: "Brand", priceBand: "Price range", tag: "Interest" };

function interestList(panel, interests, testId) {
  if (!interests.length) return el("p", { class: "empty", "data-testid": testId }, "No interests yet. Browse a few products.");
  const strongest = Math.max(...interests.map((interest) => Math.abs(interest.weight)), 1e-9);
  return el("ul", { class: "interests", "data-testid": testId }, interests.map((interest) =>
    el("li", { "data-kind": interest.key.kind, "data-value": String(interest.key.value) },
      el("span", { class: "label" }, el("small", {}, KIND_LABELS[interest.key.kind] ?? interest.key.kind), interest.label),
      el("span", { class: "weight" }, interest.weight.toFixed(2)),
      el("button", {
        type: "button", class: "remove", title: `Remove “${interest.label}” from your profile`,
        "aria-label": `Remove ${interest.label}`, onclick: () => panel.shop.personalization.removeInterest(interest.key),
      }, "×"),
      el("span", { class: "bar" }, el("span", { style: { width: `${Math.round((Math.abs(interest.weight) / strongest) * 100)}%` } })))));
}

const SEGMENT_LABELS = { new: "New here", returning: "Returning shopper", loyal: "Loyal customer" };

function visitStats(summary, currency) {
  const { visits } = summary;
  const date = (ms) => (ms ? new Date(ms).toLocaleDateString() : "—");
  const rows = [
    ["You are", SEGMENT_LABELS[summary.segment] ?? summary.segment],
    ["Visits", visits.visits ?? 0],
    ["Sessions", visits.sessions ?? 0],
    ["Orders", visits.orders ?? 0],
    ["Spent", new Intl.NumberFormat("en-IE", { style: "currency", currency }).format(visits.revenue ?? 0)],
    ["First seen", date(visits.firstSeenMs)],
    ["Last order", date(visits.lastOrderMs)],
  ];
  return el("dl", { class: "stats", "data-testid": "visit-stats" }, rows.flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, String(value))]));
}

const KEPT_LABELS = [
  ["interests", "interests (categories, brands, price ranges, tags)"],
  ["viewed", "recently viewed products"],
  ["carted", "products you added to a cart"],
  ["purchased", "products you bought"],
  ["wishlist", "wishlisted products"],
  ["dismissed", "products you marked “not interested”"],
  ["sessionItems", "steps of this visit"],
  ["rememberedItems", "product descriptions"],
  ["eventsRecorded", "actions counted in total"],
];

function keptList(kept) {
  const lines = KEPT_LABELS.filter(([field]) => kept[field] > 0).map(([field, label]) => el("li", {}, `${kept[field]} ${label}`));
  if (!lines.length) return el("p", { class: "empty", "data-testid": "kept" }, "Nothing.");
  return el("ul", { class: "kept", "data-testid": "kept" }, lines);
}

/** "Why am I seeing this": what the page showed lately, each with the reason it was given. */
function whySection(shown) {
  if (!shown.length) return el("p", { class: "empty", "data-testid": "why-shown" }, "Nothing personalized shown yet.");
  return el("ul", { class: "why-shown", "data-testid": "why-shown" }, shown.map((entry) =>
    el("li", { "data-code": entry.code },
      el("strong", {}, entry.what), " — ", entry.reason,
      entry.detail ? el("small", {}, ` (${entry.detail})`) : null)));
}

/** Every part the export holds, with what it is for and how much of it is stored. */
function storedSection(json) {
  let sections = [];
  try {
    sections = JSON.parse(json ?? "{}").sections ?? [];
  } catch {
    return null;
  }
  return el("ul", { class: "stored-parts", "data-testid": "stored-parts" }, sections.map((section) => {
    const bytes = (section.stored ?? []).reduce((sum, value) => sum + JSON.stringify(value).length, 0);
    const size = section.keys.length === 0 ? "nothing stored" : section.name === "profile" ? "stored" : `${Math.ceil(bytes / 1024)} KB stored`;
    return el("li", { "data-section": section.name },
      el("strong", {}, section.name), ` (${size}): `, el("span", {}, section.explanation));
  }));
}

export class PrivacyPanel {
  constructor(shop, askConsent) {
    this.shop = shop;
    this.root = document.getElementById("privacy-panel");
    this.body = document.getElementById("panel-body");
    document.getElementById("open-panel").addEventListener("click", () => this.open());
    document.getElementById("close-panel").addEventListener("click", () => this.close());
    document.getElementById("export-profile").addEventListener("click", () => this.download());
    document.getElementById("forget-profile").addEventListener("click", () => {
      shop.personalization.forget();
      shop.toast("Forgotten: your profile was erased from this device");
      askConsent();
    });
    document.getElementById("change-consent").addEventListener("click", askConsent);
  }

  open() {
    this.root.hidden = false;
    this.refresh();
  }

  close() {
    this.root.hidden = true;
  }

  refresh() {
    if (this.root.hidden) return;
    const summary = this.shop.personalization.summary();
    const consent = this.shop.personalization.consent();
    if (!summary) {
      this.body.replaceChildren(el("p", { class: "empty" }, "The profile could not be read."));
      return;
    }
    const sections = [
      el("p", {}, "Privacy choice: ", el("span", { class: "consent-state", "data-testid": "consent" }, CONSENT_LABELS[consent] ?? consent)),
      el("h3", {}, "Your top interests"),
      interestList(this, summary.topInterests, "interests"),
      summary.avoided.length ? el("h3", {}, "Shown less") : null,
      summary.avoided.length ? interestList(this, summary.avoided, "avoided") : null,
      el("h3", {}, "Your visits"),
      visitStats(summary, this.shop.currency),
      el("h3", {}, "Why am I seeing this?"),
      whySection(this.shop.personalization.shown),
      el("h3", {}, "What is kept on this device"),
      keptList(summary.kept),
      el("h3", {}, "Everything stored, part by part"),
      storedSection(this.shop.personalization.exportJson()),
      el("p", { class: "fine-print" }, "All of this stays in this browser. Our servers never receive it."),
      ledgerSection(summary.privacyLedger, this.shop.personalization.sync),
    ];
    this.body.replaceChildren(...sections.filter(Boolean));
  }

  download() {
    const json = this.shop.personalization.exportJson();
    if (json === undefined) return;
    const url = URL.createObjectURL(new Blob([json], { type: "application/json" }));
    const link = el("a", { href: url, download: "my-shop-profile.json" });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }
}
