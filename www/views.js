// The storefront's pages: product lists (home, category, search), the product page and the cart.
import { formatPrice, inCategory, search } from "./catalog.js";
import { addToCart, cartLines, clearCart, removeFromCart } from "./cart.js";
import { el } from "./dom.js";

function initials(name) {
  return name.split(/\s+/).slice(0, 2).map((word) => word[0]).join("");
}

export function swatch(product) {
  return el("div", { class: "swatch", style: { "--hue": product.hue }, "aria-hidden": "true" }, initials(product.name));
}

export function productList(shop, products, placement) {
  shop.track({ type: "impression", placement, itemIds: products.map((p) => p.id) });
  return el("ul", { class: "grid", "data-placement": placement },
    products.map((product, position) => el("li", { class: "tile", "data-item-id": product.id },
      el("a", {
        href: `#/p/${product.id}`,
        onclick: () => shop.track({ type: "click", itemId: product.id, placement, position }),
      },
      swatch(product),
      el("div", { class: "info" },
        el("span", { class: "brand" }, product.brand),
        el("span", { class: "name" }, product.name),
        el("span", { class: "price" }, formatPrice(product.price, shop.currency)))))));
}

export function homeView(shop) {
  return [
    el("h1", {}, "Gear for the trail, coffee for the morning after"),
    el("p", { class: "subtitle" }, `${shop.products.length} products. Browse a little and open “What we know about you”.`),
    ...(shop.adaptation?.home(shop, productList) ?? []),
    productList(shop, shop.products, "home"),
  ];
}

export function categoryView(shop, path) {
  const products = inCategory(shop.products, path);
  return [
    el("p", { class: "crumbs" }, el("a", { href: "#/" }, "Home"), " › ", path.join(" › ")),
    el("h1", {}, path[path.length - 1]),
    el("p", { class: "subtitle" }, `${products.length} products`),
    productList(shop, products, "category"),
  ];
}

export function searchView(shop, query) {
  const results = search(shop.products, query);
  if (query.trim()) shop.track({ type: "search", query: query.trim().slice(0, 200), resultIds: results.map((p) => p.id) });
  return [
    el("h1", {}, `Results for “${query}”`),
    el("p", { class: "subtitle" }, results.length ? `${results.length} products` : "Nothing matched; try “trail” or “coffee”."),
    results.length ? productList(shop, results, "search") : null,
  ];
}

export function productView(shop, product) {
  const sensitive = product.categoryPath.some((level) => shop.sensitiveCategories.includes(level));
  shop.track({ type: "view", itemId: product.id });
  shop.startDwell(product.id);
  const stars = el("div", { class: "stars", "aria-label": "Rate this product" },
    [1, 2, 3, 4, 5].map((rating) => el("button", {
      type: "button", title: `${rating} of 5`, "data-rating": rating,
      onclick: () => { shop.track({ type: "rating", itemId: product.id, rating }); shop.toast(`Thanks for rating ${rating} of 5`); },
    }, "★")));
  return el("article", { class: "product", "data-item-id": product.id },
    swatch(product),
    el("div", {},
      el("p", { class: "crumbs" }, el("a", { href: "#/" }, "Home"), " › ",
        el("a", { href: `#/c/${encodeURIComponent(product.categoryPath[0])}` }, product.categoryPath[0]), " › ",
        product.categoryPath.slice(1).join(" › ")),
      el("h1", {}, product.name),
      el("p", { class: "subtitle" }, `${product.brand} · ${product.rating} ★ from other shoppers`),
      el("p", { class: "price" }, formatPrice(product.price, shop.currency)),
      el("ul", { class: "tags" }, product.tags.map((tag) => el("li", {}, tag))),
      shop.adaptation?.productCopy(product) ?? el("p", {}, product.description),
      sensitive ? el("p", { class: "notice" }, "This is a sensitive category: it is never added to your profile, whatever you chose.") : null,
      el("div", { class: "buy-row" },
        el("button", {
          type: "button", id: "add-to-cart",
          onclick: () => {
            addToCart(product.id);
            shop.track({ type: "addToCart", itemId: product.id, quantity: 1 });
            shop.toast(`${product.name} added to your cart`);
          },
        }, "Add to cart"),
        el("button", {
          type: "button", class: "secondary", id: "wishlist",
          onclick: () => { shop.track({ type: "wishlistAdd", itemId: product.id }); shop.toast("Saved to your wishlist"); },
        }, "♡ Wishlist"),
        el("button", {
          type: "button", class: "secondary", id: "not-interested",
          onclick: () => { shop.track({ type: "dismiss", itemId: product.id }); shop.toast("Got it — we’ll show fewer like this"); },
        }, "Not interested")),
      stars));
}

export function cartView(shop) {
  const lines = cartLines().filter((line) => shop.byId.has(line.itemId));
  const total = lines.reduce((sum, line) => sum + shop.byId.get(line.itemId).price * line.quantity, 0);
  if (lines.length === 0) {
    return [el("h1", {}, "Your cart"), el("p", { class: "empty" }, "Your cart is empty."), el("a", { href: "#/" }, "Keep shopping")];
  }
  return [
    el("h1", {}, "Your cart"),
    el("ul", { class: "cart-lines" }, lines.map((line) => {
      const product = shop.byId.get(line.itemId);
      return el("li", { "data-item-id": product.id },
        el("a", { class: "name", href: `#/p/${product.id}` }, product.name),
        el("span", {}, `× ${line.quantity}`),
        el("span", { class: "price" }, formatPrice(product.price * line.quantity, shop.currency)),
        el("button", {
          type: "button", class: "secondary",
          onclick: () => {
            removeFromCart(product.id);
            shop.track({ type: "removeFromCart", itemId: product.id, quantity: line.quantity });
            shop.render();
          },
        }, "Remove"));
    })),
    el("p", { class: "total" }, `Total ${formatPrice(total, shop.currency)}`),
    el("button", {
      type: "button", id: "checkout",
      onclick: () => {
        shop.track({
          type: "purchase",
          items: lines.map((line) => ({ itemId: line.itemId, quantity: line.quantity, price: shop.byId.get(line.itemId).price })),
          value: Math.round(total * 100) / 100,
        });
        clearCart();
        shop.toast("Order placed — thank you!");
        location.hash = "#/";
      },
    }, "Place order"),
  ];
}
