// "Recommended for you" and personalized search for the demo storefront.
//
// DemoServer plays the shop's server: per page view it answers about the current item or query
// only (never the session or the profile) with candidates, server scores, attributes, small
// embeddings and co-visitation-like neighbours, computed from the catalog fixture. The page
// registers each answer with the Personalizer and ranks it on the device, where the profile lives.
import { formatPrice, inCategory, itemOf, search } from "./catalog.js";
import { el } from "./dom.js";

const DIM = 16;
// The answers service (answers/, started by scripts/demo): product pages fetch the answer about
// their item from it. `?answers=URL` (loopback only) names another; an automated browser (a test)
// fetches only when given one. Without the service the page's DemoServer answers.
const DEFAULT_ANSWERS = "http://127.0.0.1:8788";
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

function answersUrl() {
  const given = new URLSearchParams(location.search).get("answers");
  if (given) {
    const url = URL.canParse(given) ? new URL(given) : null;
    if (!url || !LOOPBACK.has(url.hostname) || !["http:", "https:"].includes(url.protocol)) {
      console.warn(`answers from the page: ?answers= must be a loopback URL like ${DEFAULT_ANSWERS}, got ${given}`);
      return null;
    }
    return url.origin;
  }
  return navigator.webdriver ? null : DEFAULT_ANSWERS;
}

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
  constructor(shop) {
    this.shop = shop;
    this.server = new DemoServer(shop.products);
    this.answersUrl = answersUrl();
  }

  /** The answer about `product`: from the answers service when there is one, else the page's DemoServer. */
  async answerAbout(product) {
    if (!this.answersUrl) return this.server.aboutItem(product);
    try {
      const response = await fetch(`${this.answersUrl}/v1/answers/item/${encodeURIComponent(product.id)}`,
        { credentials: "omit", referrerPolicy: "no-referrer", mode: "cors" });
      if (!response.ok) throw new Error(`status ${response.status}`);
      return typedAnswer(await response.json());
    } catch (error) {
      console.info(`answers service unavailable (${error.message}): the page answers itself`);
      this.answersUrl = null;
      return this.server.aboutItem(product);
    }
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

  /** Called after every render: adds the row on product and home pages, reorders search results. */
  afterRender(view, hash) {
    const [, page, ...rest] = hash.replace(/^#/, "").split("/");
    const argument = rest.map(decodeURIComponent).join("/");
    if (page === "p" && this.shop.byId.has(argument)) {
      const product = this.shop.byId.get(argument);
      const context = { placement: "product", currentItem: product.id, limit: ROW_SIZE };
      if (!this.answersUrl) {
        this.showRow(view, this.server.aboutItem(product), context);
        return;
      }
      this.answerAbout(product).then((answer) => {
        // The shopper may have moved on while the answer was on its way.
        if (view.isConnected && location.hash === hash) this.showRow(view, answer, context);
      });
    } else if (page === "search") {
      this.personalizeSearch(view, argument);
    } else if (!page) {
      this.showRow(view, this.server.home(), { placement: "home", limit: ROW_SIZE, diversity: { strength: 0.3 } }, true);
    }
  }

  showRow(view, answer, context, first = false) {
    const ranked = this.rank(answer, context);
    if (!ranked || ranked.items.length === 0) return;
    const placement = "recommendations";
    this.shop.track({ type: "impression", placement, itemIds: ranked.items.map((item) => item.id) });
    this.shop.personalization.noteShown(ranked.items.map((item) => {
      const product = this.shop.byId.get(item.id);
      return product && { what: product.name, reason: item.explanation.text, code: item.explanation.code, detail: explanationDetail(item.explanation, this.shop.byId) };
    }));
    const row = el("section", { class: "recommendations", "data-testid": "recommendations", "data-impression": ranked.impression },
      el("h2", {}, "Recommended for you"),
      el("ul", { class: "grid" }, ranked.items.map((item, position) => {
        const product = this.shop.byId.get(item.id);
        if (!product) return null;
        return el("li", { class: "tile", "data-item-id": product.id, "data-category": product.categoryPath.join(" > ") },
          el("a", { href: `#/p/${product.id}`, onclick: () => this.shop.track({ type: "click", itemId: product.id, placement, position }) },
            el("div", { class: "info" },
              el("span", { class: "brand" }, product.brand),
              el("span", { class: "name" }, product.name),
              el("span", { class: "price" }, formatPrice(product.price, this.shop.currency)),
              el("small", { class: "reason", "data-code": item.explanation.code, title: item.reasons.join(", ") }, item.explanation.text))));
      })));
    if (first) view.prepend(row);
    else view.append(row);
  }

  /** Reorders the rendered results by the profile; the server's relevance still counts and none is dropped. */
  personalizeSearch(view, query) {
    const grid = view.querySelector('[data-placement="search"]');
    const results = this.server.searchResults(query);
    if (!grid || results.length < 2) return;
    const ranked = this.rank(this.server.answer(results, null), { placement: "search", query });
    if (!ranked) return;
    const tiles = new Map([...grid.children].map((tile) => [tile.dataset.itemId, tile]));
    const order = ranked.items.map((item) => tiles.get(item.id)).filter(Boolean);
    if (order.length !== tiles.size) return;
    grid.replaceChildren(...order);
    grid.dataset.personalized = "true";
  }
}
