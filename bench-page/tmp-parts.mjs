import { openBenchPage } from "./serve.mjs";
const { page, close } = await openBenchPage("?profile");
const out = await page.evaluate(async () => {
  const { serverAnswer } = await import("./storefront-data.js");
  const a = serverAnswer(null, 200, 200);
  const med = (f, n = 300) => { for (let i = 0; i < 50; i++) f(); const xs = []; for (let i = 0; i < n; i++) { const t = performance.now(); for (let k = 0; k < 5; k++) f(); xs.push((performance.now() - t) / 5); } xs.sort((x, y) => x - y); return +(xs[n >> 1] * 1000).toFixed(1); };
  const plain = () => ({ ids: a.ids, titles: a.titles, attributes: a.attributes, neighbourIds: a.neighbours.ids });
  const text = JSON.stringify(plain());
  const enc = new TextEncoder();
  return {
    chars: text.length,
    stringify: med(() => JSON.stringify(plain())),
    stringifyNoAttr: med(() => JSON.stringify({ ids: a.ids, titles: a.titles, neighbourIds: a.neighbours.ids })),
    encode: med(() => enc.encode(text)),
    register: med(() => window.benchWorkload.register()),
    rankSession: med(() => window.benchWorkload.rankSession()),
  };
});
console.log(out);
await close();
