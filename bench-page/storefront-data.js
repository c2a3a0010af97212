// Synthetic server answers, shaped the way a storefront holds them after `fetch(...).json()` plus
// the typed arrays the server protocol sends: ids, scores, titles, attributes, popularity,
// 32-d embeddings and co-visitation neighbours in columns. Seeded, so every run sees the same data.

export const DIM = 32;
const CATEGORIES = [
  ["Shoes", "Running", "Trail"], ["Shoes", "Running", "Road"], ["Shoes", "Hiking"], ["Apparel", "Jackets"],
  ["Apparel", "Base layers"], ["Camping", "Tents"], ["Camping", "Stoves"], ["Coffee", "Beans"],
];
const BRANDS = ["Fellrunner", "Ridgeline", "Summit", "Kettle & Co", "Northwind", "Basecamp"];
const NEIGHBOURS_PER_CANDIDATE = 5;
/** Item ids are drawn from this many products, so answers overlap like a real shop's do. */
const CATALOG_SIZE = 3000;

/** A small seeded generator (mulberry32). */
export function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The server's answer about item `about` (null for a home feed) with `n` candidates. */
export function serverAnswer(about, n, seed) {
  const random = seeded(seed);
  const ids = [];
  const titles = [];
  const attributes = [];
  const scores = new Float32Array(n);
  const popularity = new Float32Array(n);
  const embeddings = new Float32Array(n * DIM);
  const offsets = new Uint32Array(n + 1);
  const neighbourIds = [];
  const neighbourScores = new Float32Array(n * NEIGHBOURS_PER_CANDIDATE);
  const taken = new Set();
  for (let i = 0; i < n; i++) {
    let id;
    do id = `sku-${Math.floor(random() * CATALOG_SIZE)}`; while (taken.has(id));
    taken.add(id);
    ids.push(id);
    titles.push(`Product ${i}`);
    const category = CATEGORIES[Math.floor(random() * CATEGORIES.length)];
    attributes.push({ categoryPath: category, brand: BRANDS[Math.floor(random() * BRANDS.length)], price: 10 + Math.floor(random() * 200), tags: [] });
    scores[i] = 1 - i / n + random() * 0.01;
    popularity[i] = Math.floor(random() * 1000);
    for (let d = 0; d < DIM; d++) embeddings[i * DIM + d] = random() - 0.5;
    offsets[i] = neighbourIds.length;
    for (let k = 0; k < NEIGHBOURS_PER_CANDIDATE; k++) {
      neighbourScores[neighbourIds.length] = 1 / (k + 1);
      neighbourIds.push(`sku-${Math.floor(random() * CATALOG_SIZE)}`);
    }
  }
  offsets[n] = neighbourIds.length;
  const answer = { ids, scores, titles, popularity, attributes, embeddings,
    neighbours: { offsets, ids: neighbourIds, scores: neighbourScores },
  };
  if (about) {
    answer.about = about;
    answer.aboutEmbedding = new Float32Array(DIM).map(() => random() - 0.5);
    // The next column (feature layout 3): the first candidates took the item's direct steps.
    // Deterministic, so the other columns are the same numbers as before it.
    answer.next = Float32Array.from({ length: n }, (_, i) => (i < 10 ? 0.05 : 0));
  }
  return answer;
}
