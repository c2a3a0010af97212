// The shopping cart: the shop's own state, kept in sessionStorage (not part of the personal profile).
const CART_KEY = "demo-shop.cart";

function read() {
  try {
    const lines = JSON.parse(sessionStorage.getItem(CART_KEY) ?? "[]");
    return Array.isArray(lines) ? lines : [];
  } catch {
    return [];
  }
}

function write(lines) {
  sessionStorage.setItem(CART_KEY, JSON.stringify(lines));
}

/** Lines of `{ itemId, quantity }`. */
export function cartLines() {
  return read();
}

export function addToCart(itemId, quantity = 1) {
  const lines = read();
  const line = lines.find((l) => l.itemId === itemId);
  if (line) line.quantity += quantity;
  else lines.push({ itemId, quantity });
  write(lines);
}

export function removeFromCart(itemId) {
  write(read().filter((l) => l.itemId !== itemId));
}

export function clearCart() {
  write([]);
}

export function cartCount() {
  return read().reduce((sum, line) => sum + line.quantity, 0);
}
