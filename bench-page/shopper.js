// A returning shopper for the cold-start and track() benchmarks: a seeded catalog and a mix of
// events like a storefront sends them, and the stored profile they leave behind (grown to about
// 50 K characters, what a regular's profile weighs). Shared by bench.js and cold.js.
import { seeded } from "./storefront-data.js";

export const SHOP = "bench-shopper";
/** The noise filter would drop a loop's events as a burst; the shopper's pace is not what is measured. */
export const CONFIG = {
  shop: SHOP,
  noise: { botHeuristic: false, maxEventsPerMinute: 1_000_000, burstMaxEvents: 1_000_000, duplicateViewWindowMs: 1 },
};
export const STORED_PROFILE_CHARS = 50_000;

const CATEGORIES = [
  ["Shoes", "Running", "Trail"], ["Shoes", "Running", "Road"], ["Shoes", "Hiking"], ["Apparel", "Jackets"],
  ["Apparel", "Base layers"], ["Camping", "Tents"], ["Camping", "Stoves"], ["Coffee", "Beans"], ["Books", "Travel"],
  ["Kitchen", "Mugs"], ["Outdoor", "Backpacks"], ["Outdoor", "Lights"],
];
const BRANDS = ["Fellrunner", "Ridgeline", "Summit", "Kettle & Co", "Northwind", "Basecamp", "Nomad", "Crema", "Wayfarer", "Forge"];
const CATALOG = 600;

/** The shop's items with attributes, as `upsertItems` takes them. */
export function catalog() {
  const random = seeded(7);
  return Array.from({ length: CATALOG }, (_, i) => ({
    id: `sku-${i}`,
    categoryPath: CATEGORIES[Math.floor(random() * CATEGORIES.length)],
    brand: BRANDS[Math.floor(random() * BRANDS.length)],
    price: 5 + Math.floor(random() * 400),
    tags: [`tag-${Math.floor(random() * 40)}`, `tag-${Math.floor(random() * 40)}`],
  }));
}

const KINDS = ["view", "view", "view", "impression", "click", "view", "dwell", "addToCart", "search", "scrollDepth", "view", "impression",
  "rating", "wishlistAdd", "removeFromCart", "dismiss", "purchase"];

/** `count` events of the storefront mix, seeded (item attributes come from `upsertItems`). */
export function events(count, seed) {
  const random = seeded(seed);
  const item = () => `sku-${Math.floor(random() * CATALOG)}`;
  /** `k` different items, the first being `first`. */
  const distinct = (first, k) => {
    const ids = new Set([first]);
    while (ids.size < k) ids.add(item());
    return [...ids];
  };
  return Array.from({ length: count }, (_, n) => {
    const itemId = item();
    switch (KINDS[n % KINDS.length]) {
      case "view": return { type: "view", itemId };
      case "impression": return { type: "impression", placement: "home", itemIds: distinct(itemId, 4), positions: [0, 1, 2, 3] };
      case "click": return { type: "click", itemId, placement: "home", position: n % 12 };
      case "dwell": return { type: "dwell", itemId, ms: 4000 + (n % 9) * 1000 };
      case "addToCart": return { type: "addToCart", itemId, quantity: 1 };
      case "removeFromCart": return { type: "removeFromCart", itemId, quantity: 1 };
      case "search": return { type: "search", query: `query ${n % 60}`, resultIds: distinct(itemId, 3) };
      case "scrollDepth": return { type: "scrollDepth", itemId, depth: 0.25 + (n % 4) * 0.25 };
      case "rating": return { type: "rating", itemId, rating: 1 + (n % 5) };
      case "wishlistAdd": return { type: "wishlistAdd", itemId };
      case "dismiss": return { type: "dismiss", itemId };
      default: return { type: "purchase", items: [{ itemId, quantity: 1, price: 20 }], value: 20 };
    }
  });
}

/** This package's localStorage entries for `shop`. */
export function storedEntries(shop = SHOP) {
  const prefix = `shop-personalizer:${shop}:`;
  return Object.fromEntries(Object.keys(localStorage).filter((key) => key.startsWith(prefix)).map((key) => [key, localStorage.getItem(key)]));
}

/** Puts `entries` back as the only stored data of `shop`. */
export function restoreEntries(entries, shop = SHOP) {
  const prefix = `shop-personalizer:${shop}:`;
  for (const key of Object.keys(localStorage)) if (key.startsWith(prefix)) localStorage.removeItem(key);
  for (const [key, value] of Object.entries(entries)) localStorage.setItem(key, value);
}

/**
 * Tracks events with consent "full" until the stored profile has about STORED_PROFILE_CHARS
 * characters (or stops growing) and returns the stored entries.
 */
export function growStoredProfile(Personalizer) {
  restoreEntries({});
  const p = new Personalizer(CONFIG);
  p.setConsent("full", { explicitOptIn: true });
  p.upsertItems(catalog());
  let chars = 0;
  for (let round = 0; round < 40 && chars < STORED_PROFILE_CHARS; round++) {
    for (const event of events(250, 100 + round)) p.track(event);
    p.flush();
    const grown = Object.values(storedEntries()).reduce((n, value) => n + value.length, 0);
    if (grown <= chars && round > 10) break;
    chars = grown;
  }
  p.free();
  return storedEntries();
}
