// "What this shop knows about you": the shopper's view of their on-device profile, with export,
// forget and per-interest removal.
import { el } from "./dom.js";

const CONSENT_LABELS = {
  none: "Off — nothing is collected",
  session: "This visit only — kept in memory, gone when you close the tab",
  full: "Remembered on this device",
};

const KIND_LABELS = { category: "Category", brand: "Brand", priceBand: "Price range", tag: "Interest" };

function interestList(panel, interests) {
  if (!interests.length) return el("p", { class: "empty" }, "No interests yet. Browse a few products.");
  const strongest = Math.max(...interests.map((interest) => Math.abs(interest.weight)), 1e-9);
  return el("ul", { class: "interests", "data-testid": "interests" }, interests.map((interest) =>
    el("li", { "data-kind": interest.key.kind, "data-value": String(interest.key.value) },
      el("span", { class: "label" }, el("small", {}, KIND_LABELS[interest.key.kind] ?? interest.key.kind), interest.label),
      el("span", { class: "weight" }, interest.weight.toFixed(2)),
      el("button", {
        type: "button", class: "remove", title: `Remove “${interest.label}” from your profile`,
        "aria-label": `Remove ${interest.label}`, onclick: () => panel.shop.personalization.removeInterest(interest.key),
      }, "×"),
      el("span", { class: "bar" }, el("span", { style: { width: `${Math.round((Math.abs(interest.weight) / strongest) * 100)}%` } })))));
}

function visitStats(visits) {
  const rows = [
    ["Visits", visits.visits],
    ["Orders", visits.orders],
    ["You are", visits.segment],
    ["First seen", visits.firstSeenMs ? new Date(visits.firstSeenMs).toLocaleDateString() : "—"],
    ["Last order", visits.lastOrderMs ? new Date(visits.lastOrderMs).toLocaleDateString() : "—"],
  ];
  return el("dl", { class: "stats", "data-testid": "visit-stats" }, rows.flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, String(value ?? "—"))]));
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
    if (!summary) {
      this.body.replaceChildren(el("p", { class: "empty" }, "The profile could not be read."));
      return;
    }
    this.body.replaceChildren(
      el("p", {}, "Privacy choice: ", el("span", { class: "consent-state", "data-testid": "consent" }, CONSENT_LABELS[summary.consent] ?? summary.consent)),
      el("h3", {}, "Your top interests"),
      interestList(this, summary.topInterests),
      el("h3", {}, "Your visits"),
      visitStats(summary.visits),
      el("h3", {}, "What is kept"),
      el("ul", { class: "kept", "data-testid": "kept" }, summary.kept.map((line) => el("li", {}, line))),
    );
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
