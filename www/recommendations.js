// "Recommended for you" and personalized search for the demo storefront.
//
// DemoServer plays the shop's server: per page view it answers about the current item or query
// only (never the session or the profile) with candidates, server scores, attributes, small
// embeddings and co-visitation-like neighbours, computed from the catalog fixture. The page
// registers each answer with the Personalizer and ranks it on the device, where the profile lives.
import { formatPrice, inCategory, itemOf, search } from "./catalog.js";
import { el } from "./dom.js";
import { productList, swatch } from "./views.js";

const DIM = 16;
// The answers service (answers/, started by scripts/demo, named by demo-config.json) answers
// every page: GET /v1/answers/item/{id} on product pages, /v1/answers/search?q= on search pages,
// /v1/answers/popular on the home page. Each request names one item, one query or nothing, with
// no cookie and no referrer. Without the service the page's DemoServer answers.

const floats = (values) => (values === undefined ? undefined : Float32Array.from(values));

/** The service's JSON answer with its numeric columns as typed arrays (README "Server protocol"). */
function typedAnswer(json) {
  const answer = { ...json, scores: floats(json.scores), popularity: floats(json.popularity), embeddings: floats(json.embeddings) };
  if (json.aboutEmbedding) answer.aboutEmbedding = floats(json.aboutEmbedding);
  else delete answer.aboutEmbedding;
  for (const key of ["scores", "popularity", "embeddings"]) if (answer[key] === undefined) delete answer[key];
  if (json.neighbours) {
    answer.neighbours = { offsets: Uint32Array.from(json.neighbours.offsets), ids: json.neighbours.ids, scores: floats(json.neighbours.scores) };
  }
  return answer;
}
const ROW_SIZE = 6;
// The home page's "Recommended for you" section is as long as its other sections (adapt.js).
const HOME_ROW_SIZE = 4;
const CANDIDATES = 24;
const NEIGHBOURS = 4;

function slot(text) {
  let hash = 2166136261;
  for (const char of text) hash = Math.imul(hash ^ char.charCodeAt(0), 16777619) >>> 0;
  return hash % DIM;
}

/** A small item embedding from the catalog: category levels, brand and tags hashed into 16 dimensions. */
function embed(product) {
  const vector = new Float32Array(DIM);
  product.categoryPath.forEach((level, depth) => { vector[slot(`c${depth}:${level}`)] += 1 / (depth + 1); });
  vector[slot(`b:${product.brand}`)] += 0.3;
  for (const tag of product.tags) vector[slot(`t:${tag}`)] += 0.4;
  return vector;
}

/** How alike two products are, the way a shop's co-visitation counts would roughly say. */
function likeness(a, b) {
  let shared = 0;
  while (shared < Math.min(a.categoryPath.length, b.categoryPath.length) && a.categoryPath[shared] === b.categoryPath[shared]) shared++;
  const tags = a.tags.filter((tag) => b.tags.includes(tag)).length;
  return 2 * shared + tags + (a.brand === b.brand ? 0.5 : 0);
}

export class DemoServer {
  constructor(products) {
    this.products = products;
    this.embeddings = new Map(products.map((product) => [product.id, embed(product)]));
    this.neighbours = new Map(products.map((product) => [product.id, this.mostAlike(product, NEIGHBOURS)]));
  }

  mostAlike(product, count, pool = this.products) {
    return pool
      .filter((other) => other.id !== product.id)
      .map((other) => ({ id: other.id, score: likeness(product, other) + other.rating / 10 }))
      .filter((other) => other.score > 0.5)
      .sort((a, b) => b.score - a.score)
      .slice(0, count);
  }

  /** The answer in the server protocol's columns, for candidates with server scores. */
  answer(candidates, about) {
    const products = candidates.map(({ id }) => this.products.find((p) => p.id === id));
    const embeddings = new Float32Array(products.length * DIM);
    products.forEach((product, i) => embeddings.set(this.embeddings.get(product.id), i * DIM));
    const offsets = new Uint32Array(products.length + 1);
    const neighbourIds = [];
    const neighbourScores = [];
    products.forEach((product, i) => {
      offsets[i] = neighbourIds.length;
      for (const neighbour of this.neighbours.get(product.id)) {
        neighbourIds.push(neighbour.id);
        neighbourScores.push(neighbour.score);
      }
    });
    offsets[products.length] = neighbourIds.length;
    const answer = {
      ids: products.map((product) => product.id),
      scores: Float32Array.from(candidates, (c) => c.score),
      titles: products.map((product) => product.name),
      attributes: products.map((product) => { const { id, ...attributes } = itemOf(product); return attributes; }),
      embeddings,
      neighbours: { offsets, ids: neighbourIds, scores: Float32Array.from(neighbourScores) },
    };
    if (about) {
      answer.about = about.id;
      answer.aboutEmbedding = this.embeddings.get(about.id);
    }
    return answer;
  }

  /** About one product: items of its category and the ones most often seen with it. */
  aboutItem(product) {
    const sameCategory = inCategory(this.products, product.categoryPath.slice(0, 1));
    return this.answer(this.mostAlike(product, CANDIDATES, sameCategory), product);
  }

  /** For the home page: the best-rated products shop-wide. */
  home() {
    const best = [...this.products].sort((a, b) => b.rating - a.rating).slice(0, CANDIDATES);
    return this.answer(best.map((product) => ({ id: product.id, score: product.rating })), null);
  }

  /** The answer for a query: its results in the server's relevance order. */
  searchAnswer(query) {
    return this.answer(this.searchResults(query), null);
  }

  /** Search results in the server's relevance order (more matched words in the name first). */
  searchResults(query) {
    const words = query.toLowerCase().split(/\s+/).filter(Boolean);
    return search(this.products, query).map((product) => ({
      id: product.id,
      score: 1 + words.filter((word) => product.name.toLowerCase().includes(word)).length,
    })).sort((a, b) => b.score - a.score);
  }
}

/** Registers and ranks answers for the pages, never breaking the page on an error. */
/** What an explanation points at, in the panel's words: the interest or the item viewed. */
function explanationDetail(explanation, byId) {
  if (explanation.interest) return `your interest: ${explanation.interest.kind} “${explanation.interest.value}”`;
  if (explanation.item) return `viewed this visit: ${byId.get(explanation.item)?.name ?? explanation.item}`;
  return "";
}

export class Recommendations {
  constructor(shop, answersUrl) {
    this.shop = shop;
    this.server = new DemoServer(shop.products);
    this.answersUrl = answersUrl ?? null;
  }

  /**
   * One answer from the service, or null: a refusal (4xx) is logged and answered by the page;
   * an unreachable or failing service is not asked again on this page.
   */
  async fetchAnswer(path) {
    try {
      const response = await fetch(`${this.answersUrl}${path}`, { credentials: "omit", referrerPolicy: "no-referrer", mode: "cors" });
      if (response.ok) return typedAnswer(await response.json());
      const refusal = await response.json().catch(() => ({}));
      if (response.status < 500) {
        console.info(`answers service refused ${path} (${response.status} ${refusal.error ?? ""}): the page answers itself`);
        return null;
      }
      throw new Error(`status ${response.status}`);
    } catch (error) {
      console.info(`answers service unavailable (${error.message}): the page answers itself`);
      this.answersUrl = null;
      return null;
    }
  }

  /** The answer about `product`, for `query`, or (neither) for the home page. */
  async answerFor({ product, query } = {}) {
    const local = () => (product ? this.server.aboutItem(product) : query ? this.server.searchAnswer(query) : this.server.home());
    if (!this.answersUrl) return local();
    const path = product ? `/v1/answers/item/${encodeURIComponent(product.id)}`
      : query ? `/v1/answers/search?q=${encodeURIComponent(query)}` : "/v1/answers/popular";
    return (await this.fetchAnswer(path)) ?? local();
  }

  rank(answer, context) {
    const personalizer = this.shop.personalization.personalizer;
    return this.shop.personalization.report(() => {
      const handle = personalizer.registerCandidates(answer);
      const ranked = personalizer.rank(handle, context);
      personalizer.releaseCandidates(handle);
      return ranked;
    });
  }

  /** Called after every render: the row on product and home pages, the order of search results. */
  afterRender(view, hash) {
    const [, page, ...rest] = hash.replace(/^#/, "").split("/");
    const argument = rest.map(decodeURIComponent).join("/");
    // The shopper may have moved on while the answer was on its way.
    const stillShown = () => view.isConnected && location.hash === hash;
    if (page === "p" && this.shop.byId.has(argument)) {
      const product = this.shop.byId.get(argument);
      this.answerFor({ product }).then((answer) => {
        if (!stillShown()) return;
        // The shop's rule for a product page: related items of the product's department come
        // first. An answer fills up with shop-wide popular items, which the device would otherwise
        // rank by the shopper's interests above the related ones (a pharmacy page showing trail
        // shoes: a sensitive category never enters the profile, so its items gain nothing from it).
        const department = product.categoryPath[0];
        const bury = answer.ids.filter((id) => this.shop.byId.get(id)?.categoryPath[0] !== department);
        this.showRow(view, answer, { placement: "product", currentItem: product.id, limit: ROW_SIZE, rules: { bury } });
      });
    } else if (page === "search" && argument.trim()) {
      const query = argument.trim().slice(0, 200);
      this.answerFor({ query }).then((answer) => { if (stillShown()) this.personalizeSearch(view, answer, query); });
    } else if (!page) {
      this.answerFor().then((answer) => { if (stillShown()) this.fillForYou(view, answer); });
    }
  }

  /** The ranked items as tiles; clicks are tracked with `placement`. */
  rankedList(ranked, placement) {
    this.shop.track({ type: "impression", placement, itemIds: ranked.items.map((item) => item.id) });
    this.shop.personalization.noteShown(ranked.items.map((item) => {
      const product = this.shop.byId.get(item.id);
      return product && { what: product.name, reason: item.explanation.text, code: item.explanation.code, detail: explanationDetail(item.explanation, this.shop.byId) };
    }));
    return el("ul", { class: "grid", "data-placement": placement }, ranked.items.map((item, position) => {
      const product = this.shop.byId.get(item.id);
      if (!product) return null;
      return el("li", { class: "tile", "data-item-id": product.id, "data-category": product.categoryPath.join(" > ") },
        el("a", { href: `#/p/${product.id}`, onclick: () => this.shop.track({ type: "click", itemId: product.id, placement, position }) },
          swatch(product),
          el("div", { class: "info" },
            el("span", { class: "brand" }, product.brand),
            el("span", { class: "name" }, product.name),
            el("span", { class: "price" }, formatPrice(product.price, this.shop.currency)),
            el("small", { class: "reason", "data-code": item.explanation.code, title: item.reasons.join(", ") }, item.explanation.text))));
    }));
  }

  /** A product page's "Recommended for you" row, below the product. */
  showRow(view, answer, context) {
    const ranked = this.rank(answer, context);
    if (!ranked || ranked.items.length === 0) return;
    view.append(el("section", { class: "recommendations", "data-testid": "recommendations", "data-impression": ranked.impression },
      el("h2", {}, "Recommended for you"),
      this.rankedList(ranked, "recommendations")));
  }

  /**
   * The home page's one "Recommended for you": the section the layout placed (adapt.js), filled
   * with the popular answer ranked for this shopper, leaving out what the other sections show.
   */
  fillForYou(view, answer) {
    const section = view.querySelector('.adapted-section[data-section-id="for-you"]');
    // Like the other sections, it shows nothing of a sensitive category on the home page.
    const sensitive = this.shop.products
      .filter((p) => p.categoryPath.some((level) => this.shop.sensitiveCategories.includes(level))).map((p) => p.id);
    const elsewhere = [...view.querySelectorAll('.adapted-section:not([data-section-id="for-you"]) .tile')]
      .map((tile) => tile.dataset.itemId).concat(sensitive);
    const context = { placement: "home", limit: HOME_ROW_SIZE, diversity: { strength: 0.3 }, rules: { exclude: elsewhere } };
    const ranked = this.rank(answer, context);
    if (!ranked || ranked.items.length === 0) return;
    if (!section) {
      this.showRow(view, answer, { ...context, limit: ROW_SIZE });
      return;
    }
    const list = this.rankedList(ranked, "for-you");
    list.classList.toggle("list", section.querySelector("ul.grid")?.classList.contains("list") ?? false);
    section.querySelector("ul.grid")?.remove();
    section.append(list);
    section.dataset.testid = "recommendations";
    section.dataset.impression = ranked.impression;
  }

  /**
   * Search results: the answer's, ordered by the profile (none dropped). The rendered tiles are
   * reordered when they are the answer's results; otherwise (the service matches words its own
   * way) the answer's results replace them.
   */
  personalizeSearch(view, answer, query) {
    const grid = view.querySelector('[data-placement="search"]');
    if (!grid || answer.ids.length < 2) return;
    const ranked = this.rank(answer, { placement: "search", query });
    if (!ranked) return;
    const tiles = new Map([...grid.children].map((tile) => [tile.dataset.itemId, tile]));
    const order = ranked.items.map((item) => tiles.get(item.id)).filter(Boolean);
    if (order.length === tiles.size && order.length === ranked.items.length) {
      grid.replaceChildren(...order);
      grid.dataset.personalized = "true";
      return;
    }
    const products = ranked.items.map((item) => this.shop.byId.get(item.id)).filter(Boolean);
    if (products.length === 0) return;
    const list = productList(this.shop, products, "search");
    list.dataset.personalized = "true";
    grid.replaceWith(list);
    const subtitle = view.querySelector(".subtitle");
    if (subtitle) subtitle.textContent = `${products.length} products`;
  }
}
