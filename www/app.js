// The demo storefront: hash routing, the consent banner and the privacy panel, wired to the
// shop-personalizer package through personalization.js.
import { categoryTree, loadCatalog } from "./catalog.js";
import { cartCount } from "./cart.js";
import { loadDemoConfig } from "./demo-config.js";
import { el } from "./dom.js";
import { StorefrontAdaptation } from "./adapt.js";
import { ShopPersonalization } from "./personalization.js";
import { PrivacyPanel } from "./privacy-panel.js";
import { Recommendations } from "./recommendations.js";
import { cartView, categoryView, homeView, productView, searchView } from "./views.js";

const view = document.getElementById("view");

function renderCategoryNav(shop) {
  const nav = document.getElementById("category-nav");
  nav.replaceChildren(
    el("a", { href: "#/" }, "All"),
    ...[...categoryTree(shop.products).keys()].map((top) => el("a", { href: `#/c/${encodeURIComponent(top)}` }, top)),
  );
}

function route(shop) {
  const [, page, ...rest] = location.hash.replace(/^#/, "").split("/");
  const argument = rest.map(decodeURIComponent).join("/");
  if (page === "p" && shop.byId.has(argument)) return productView(shop, shop.byId.get(argument));
  if (page === "c" && argument) return categoryView(shop, argument.split(" › "));
  if (page === "search") return searchView(shop, argument);
  if (page === "cart") return cartView(shop);
  return homeView(shop);
}

function showConsentBanner(shop, visible) {
  const banner = document.getElementById("consent-banner");
  banner.hidden = !visible;
  for (const button of banner.querySelectorAll("button[data-consent]")) {
    button.onclick = () => {
      shop.personalization.chooseConsent(button.dataset.consent);
      banner.hidden = true;
      shop.toast(`Privacy choice saved: ${button.textContent}`);
    };
  }
}

async function main() {
  const [catalog, config] = await Promise.all([loadCatalog(), loadDemoConfig()]);
  const personalization = await ShopPersonalization.start(catalog, config.aggregatorUrl, config.secureAggregation, config.liftReport);
  let dwell = null;
  let toastTimer = 0;

  const shop = {
    ...catalog,
    personalization,
    adaptation: await StorefrontAdaptation.start(personalization.personalizer, catalog),
    track: (event) => personalization.track(event),
    startDwell(itemId) {
      dwell = { itemId, since: performance.now() };
    },
    endDwell() {
      if (dwell) personalization.track({ type: "dwell", itemId: dwell.itemId, ms: Math.round(performance.now() - dwell.since) });
      dwell = null;
    },
    toast(message) {
      const toast = document.getElementById("toast");
      toast.textContent = message;
      toast.classList.add("show");
      clearTimeout(toastTimer);
      toastTimer = setTimeout(() => toast.classList.remove("show"), 2200);
    },
    render() {
      shop.endDwell();
      view.replaceChildren(...[route(shop)].flat().filter(Boolean));
      shop.recommendations?.afterRender(view, location.hash);
      document.getElementById("cart-count").textContent = String(cartCount());
      for (const link of document.querySelectorAll("#category-nav a")) {
        link.classList.toggle("active", link.getAttribute("href") === location.hash || (!location.hash && link.getAttribute("href") === "#/"));
      }
    },
  };

  shop.recommendations = new Recommendations(shop, config.answersUrl);
  renderCategoryNav(shop);
  const panel = new PrivacyPanel(shop, () => showConsentBanner(shop, true));
  personalization.onChange(() => {
    document.getElementById("cart-count").textContent = String(cartCount());
    panel.refresh();
  });
  document.getElementById("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const query = document.getElementById("search-input").value.trim();
    if (query) location.hash = `#/search/${encodeURIComponent(query)}`;
  });
  addEventListener("hashchange", () => shop.render());
  addEventListener("pagehide", () => shop.endDwell());
  showConsentBanner(shop, !personalization.hasConsentChoice());
  shop.render();
  document.body.dataset.ready = "true";
}

main().catch((error) => {
  view.replaceChildren(el("p", { class: "notice" }, `The shop could not start: ${error.message}`));
  console.error(error);
});
