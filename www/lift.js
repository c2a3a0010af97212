// The merchant's lift page: reads GET /v1/lift from the aggregator the shop's server names
// (demo-config.json; scripts/demo: http://127.0.0.1:8787) and shows personalized vs holdout and recommended vs other items with
// confidence intervals — or, honestly, that there are not enough reports yet.
import { loadDemoConfig } from "./demo-config.js";
import { el } from "./dom.js";

const percent = (value) => `${value >= 0 ? "+" : ""}${(value * 100).toFixed(1)}%`;
const plain = (value) => (Math.abs(value) >= 100 ? value.toFixed(0) : value.toPrecision(3));

function metricRow({ metric, estimate, note }) {
  if (!estimate) return el("tr", {}, el("th", { scope: "row" }, metric), el("td", { colspan: 4 }, note ?? "no estimate"));
  return el("tr", {},
    el("th", { scope: "row" }, metric),
    el("td", {}, plain(estimate.treatment)),
    el("td", {}, plain(estimate.control)),
    el("td", { "data-testid": "lift" }, percent(estimate.lift)),
    el("td", {}, `${percent(estimate.ciLow)} … ${percent(estimate.ciHigh)}`));
}

function settingsList(settings) {
  const rows = [
    ["Release rule", settings.releaseRule],
    ["Reports needed per bucket", String(settings.minReportsPerBucket)],
    ["Privacy of one report", `ε ${settings.epsilonPerReport.toFixed(2)}, δ ${settings.delta}`],
    ["Placements broken out", settings.placements.length ? settings.placements.join(", ") : "none (all pooled)"],
  ];
  return el("dl", { class: "stats" }, rows.flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, value)]));
}

function render(answer) {
  const status = document.querySelector("[data-testid=lift-status]");
  const body = document.getElementById("lift-body");
  status.className = "";
  status.dataset.status = answer.status;
  if (answer.status === "notEnoughReports") {
    status.textContent = `Not enough reports yet: ${answer.personalizedReports} personalized and ${answer.holdoutReports} holdout ` +
      `reports so far; nothing is released before each bucket holds ${answer.settings.minReportsPerBucket}.`;
    body.replaceChildren(settingsList(answer.settings));
    return;
  }
  const { estimate } = answer;
  status.textContent = `${estimate.personalizedReports} personalized and ${estimate.holdoutReports} holdout reports; ` +
    `${Math.round(estimate.confidence * 100)}% confidence intervals.`;
  body.replaceChildren(
    el("table", { class: "lift-table" },
      el("thead", {}, el("tr", {}, ["metric", "personalized / recommended", "holdout / other", "lift", "interval"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, estimate.metrics.map(metricRow))),
    settingsList(answer.settings));
}

async function load() {
  const url = (await loadDemoConfig()).aggregatorUrl;
  try {
    if (!url) throw new Error("this storefront names no aggregator");
    const response = await fetch(`${url}/v1/lift`, { credentials: "omit", referrerPolicy: "no-referrer", cache: "no-store" });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.message ?? `status ${response.status}`);
    render(answer);
  } catch (error) {
    const status = document.querySelector("[data-testid=lift-status]");
    status.dataset.status = "unavailable";
    status.textContent = `The aggregator at ${url} did not answer (${error instanceof Error ? error.message : error}). Start it with scripts/demo.`;
  }
  document.body.dataset.ready = "true";
}

load();
