// track() amortized over 1,000 events for a returning shopper: consent "full", the ~50 K-character
// stored profile loaded, every event persisted (the automatic flushes every 20 changes and a final
// flush() are inside the timing). Each run starts from the same stored profile in a new instance.
import { CONFIG, catalog, events, restoreEntries } from "./shopper.js";

const EVENTS = 1000;

/** Counts localStorage writes (and characters written) while `call` runs. */
function countingWrites(call) {
  const original = Storage.prototype.setItem;
  const writes = { count: 0, chars: 0 };
  Storage.prototype.setItem = function setItem(key, value) {
    writes.count += 1;
    writes.chars += String(value).length;
    return original.call(this, key, value);
  };
  try {
    return { result: call(), writes };
  } finally {
    Storage.prototype.setItem = original;
  }
}

function quantiles(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
  return { median: at(0.5), p95: at(0.95), runs: sorted.length };
}

/** Runs the 1,000-event loop `runs` times; per-event ms (median / p95 over runs) and what it wrote. */
export function benchTrack(Personalizer, storedProfile, runs) {
  const perEvent = [];
  const slowest = [];
  let last;
  const items = catalog();
  for (let run = 0; run < runs; run++) {
    restoreEntries(storedProfile);
    const p = new Personalizer(CONFIG);
    p.setConsent("full", { explicitOptIn: true });
    p.upsertItems(items);
    const batch = events(EVENTS, 5000 + run);
    let recorded = 0;
    let worst = 0;
    const { result: elapsed, writes } = countingWrites(() => {
      const start = performance.now();
      for (const event of batch) {
        const before = performance.now();
        if (p.track(event).status === "recorded") recorded += 1;
        worst = Math.max(worst, performance.now() - before);
      }
      p.flush();
      return performance.now() - start;
    });
    if (recorded < EVENTS * 0.9) throw new Error(`track() recorded only ${recorded} of ${EVENTS} events`);
    perEvent.push(elapsed / EVENTS);
    slowest.push(worst);
    last = { recorded, writes: writes.count, charsWritten: writes.chars };
    p.free();
  }
  restoreEntries(storedProfile);
  const storedChars = Object.values(storedProfile).reduce((n, value) => n + value.length, 0);
  return { events: EVENTS, storedChars, ...last, perEvent: quantiles(perEvent), slowestCall: quantiles(slowest) };
}
