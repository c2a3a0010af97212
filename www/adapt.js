// How the storefront adapts itself on the device with shop-personalizer: the home page's sections
// ordered by chooseLayout (within the shop's constraints), an offer banner from chooseOffer with
// its reason, and product copy from chooseVariant. Clicks, carts and orders are tracked with the
// section id as placement, so the package learns from them and counts the lift by itself.
import { cartLines } from "./cart.js";
import { el } from "./dom.js";

const SECTION_SIZE = 4;

// The shop's candidate sections for the home page and their constraints. Deals are pinned to the
// top; "for you" must appear within the first three; the rest are optional.
const HOME_SECTIONS = [
  { id: "deals", kind: "deals", title: "Deals of the week", required: true, minPosition: 0, maxPosition: 0 },
  { id: "for-you", kind: "recommendedForYou", title: "Recommended for you", required: true, maxPosition: 2 },
  { id: "continue", kind: "continueShopping", title: "Continue shopping" },
  { id: "new", kind: "newArrivals", title: "New arrivals" },
  { id: "top", kind: "topInCategory", title: "Top rated" },
];
const MAX_HOME_SECTIONS = 4;

// The offers the server allows for this visitor (prices and terms are the server's).
const OFFERS = [
  { id: "welcome-10", title: "Welcome! 10% off your first order", audience: [{ kind: "firstVisit" }] },
  {
    id: "cart-back", title: "Your cart is waiting: free shipping if you order today",
    audience: [{ kind: "cartAbandoned" }], limits: { frequencyCap: { maxShows: 12, windowHours: 24 } },
  },
  { id: "loyal-shipping", title: "Thanks for coming back: free shipping on every order", audience: [{ kind: "loyal", minOrders: 2 }] },
  { id: "trail-week", title: "Trail week: 15% off trail shoes", audience: [{ kind: "browsingCategory", category: "Shoes > Running > Trail" }] },
];

// Alternative copy the shop wrote, keyed by the use it speaks to.
const COPY_BY_TAG = {
  trail: (p) => `${p.name}: grip and protection for rough, muddy trails.`,
  road: (p) => `${p.name}: smooth, cushioned miles on tarmac.`,
  commute: (p) => `${p.name}: ready for the daily commute, rain or shine.`,
  camping: (p) => `${p.name}: set up in minutes, sleep well under the stars.`,
  hiking: (p) => `${p.name}: all-day comfort from trailhead to summit.`,
  travel: (p) => `${p.name}: packs small, goes everywhere.`,
  coffee: (p) => `${p.name}: a better cup every morning.`,
  cooking: (p) => `${p.name}: for cooks who care about the details.`,
  gift: (p) => `${p.name}: a gift they will actually use.`,
  family: (p) => `${p.name}: room for the whole family.`,
};

/** Calls the package; a refused call is logged and gives `fallback` (the page never breaks). */
function attempt(call, fallback) {
  try {
    return call();
  } catch (error) {
    console.warn("shop-personalizer:", error instanceof Error ? error.message : error);
    return fallback;
  }
}

/**
 * The lift holdout's share: 10% of shoppers get the shop's order and defaults everywhere (see
 * lift.html for the measured lift). `?holdoutShare=0.5` changes it; an automated browser (a test)
 * is never held out unless the URL asks, so tests of personalization are deterministic.
 */
function holdoutShare() {
  const given = Number.parseFloat(new URLSearchParams(location.search).get("holdoutShare") ?? "");
  if (Number.isFinite(given)) return given;
  return navigator.webdriver ? 0 : 0.1;
}

export class StorefrontAdaptation {
  /**
   * Configures adaptation (the package loads its on-demand module the first time) and resolves
   * to the page's adaptation; if that fails the page keeps the shop's own order and defaults.
   */
  static async start(personalizer, catalog) {
    try {
      await personalizer.configureAdaptation({ holdoutShare: holdoutShare() });
    } catch (error) {
      console.warn("shop-personalizer:", error instanceof Error ? error.message : error);
    }
    return new StorefrontAdaptation(personalizer, catalog);
  }

  constructor(personalizer, catalog) {
    this.personalizer = personalizer;
    this.catalog = catalog;
  }

  /** Products for one section of the home page, leaving out those in `shown` (earlier sections). */
  productsFor(sectionId, shopper, shown = new Set()) {
    const products = this.catalog.products
      .filter((p) => !p.categoryPath.some((level) => this.catalog.sensitiveCategories.includes(level)))
      .filter((p) => !shown.has(p.id));
    const byRating = [...products].sort((a, b) => b.rating - a.rating);
    switch (sectionId) {
      case "deals":
        return [...products].sort((a, b) => a.price - b.price).slice(0, SECTION_SIZE);
      case "continue":
        return cartLines().map((line) => this.catalog.byId.get(line.itemId)).filter(Boolean).slice(0, SECTION_SIZE);
      case "new":
        return products.slice(-SECTION_SIZE).reverse();
      case "top": {
        const category = shopper?.currentCategory?.split(" > ")[0];
        const pool = category ? byRating.filter((p) => p.categoryPath[0] === category) : byRating;
        return pool.slice(0, SECTION_SIZE);
      }
      default:
        return [];
    }
  }

  /** The home page's adapted part: the offer banner, then the sections in the order chosen. */
  home(shop, renderList) {
    const shopper = attempt(() => this.personalizer.shopperState(), null);
    const candidates = HOME_SECTIONS.filter((s) => s.id !== "continue" || cartLines().length > 0);
    const specs = candidates.map(({ title, ...spec }) => spec);
    const layout = attempt(() => this.personalizer.chooseLayout(specs, { maxSections: MAX_HOME_SECTIONS }), null);
    const placed = layout ? layout.sections : specs.map((s, position) => ({ ...s, position, reason: "Arranged by the shop" }));
    shop.personalization.noteShown(placed.map((section) => ({
      what: `Section: ${HOME_SECTIONS.find((s) => s.id === section.id)?.title ?? section.id}`,
      reason: section.reason, code: section.code ?? "shopDefault", detail: "" })));
    // No product twice on the page's sections. "Recommended for you" is ranked on the device from
    // the shop's answer: recommendations.js fills its list, leaving out what the others show.
    const shown = new Set();
    const sections = placed.map((section) => {
      const title = HOME_SECTIONS.find((s) => s.id === section.id)?.title ?? section.id;
      const products = this.productsFor(section.id, shopper, shown);
      const list = section.id === "for-you" ? el("ul", { class: "grid", "data-placement": "for-you", "data-pending": "true" })
        : renderList(shop, products, section.id);
      if (section.id !== "for-you") for (const product of products) shown.add(product.id);
      list.classList.toggle("list", layout?.density === "list");
      return el("section", { class: "adapted-section", "data-section-id": section.id, "data-position": section.position },
        el("h2", {}, title),
        el("p", { class: "why" }, `Why here: ${section.reason}`),
        list);
    });
    return [this.offerBanner(shop), el("div", { class: "adapted-sections", "data-density": layout?.density ?? "grid" }, sections)];
  }

  /** The offer chosen for this visit, with its reason; "Use offer" reports it as taken up. */
  offerBanner(shop) {
    const specs = OFFERS.map(({ title, ...spec }) => spec);
    const decision = attempt(() => this.personalizer.chooseOffer(specs), null);
    const offer = OFFERS.find((o) => o.id === decision?.offerId);
    if (!offer) return null;
    shop.personalization.noteShown([{ what: `Offer: ${offer.title}`, reason: decision.reason, code: decision.code, detail: "" }]);
    return el("aside", { class: "offer", "data-testid": "offer", "data-offer-id": offer.id },
      el("strong", {}, offer.title),
      el("span", { class: "why" }, `Why you see this: ${decision.reason}`),
      el("button", {
        type: "button", class: "secondary",
        onclick: () => {
          attempt(() => this.personalizer.recordDecisionOutcome({ kind: "offer", offerId: offer.id, takenUp: true }));
          shop.toast("Offer applied at checkout");
        },
      }, "Use offer"));
  }

  /** The product text that speaks to this shopper, with its reason. */
  productCopy(product) {
    const variants = [
      { id: "default", text: product.description, tags: [] },
      ...[...product.tags, "gift"].filter((tag, i, all) => COPY_BY_TAG[tag] && all.indexOf(tag) === i)
        .map((tag) => ({ id: tag, text: COPY_BY_TAG[tag](product), tags: [tag] })),
    ];
    const item = { id: product.id, categoryPath: product.categoryPath, brand: product.brand, price: product.price, tags: product.tags };
    const choice = attempt(() => this.personalizer.chooseVariant(item, variants), null);
    const variant = variants.find((v) => v.id === choice?.variantId) ?? variants[0];
    return el("p", { class: "copy", "data-variant-id": variant.id, title: choice?.reason ?? "" }, variant.text);
  }
}
