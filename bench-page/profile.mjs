// Where the time of one public call goes: runs a bench-page/ call at 200 candidates in a loop under
// Chromium's sampling CPU profiler and prints the functions with the most self time (wasm
// functions by their Rust names when the package keeps its name section; see scripts/bench-browser).
//
//   node bench-page/profile.mjs rankSession|rankNoSession|register|twin [seconds]
import { openBenchPage } from "./serve.mjs";

const operation = process.argv[2] ?? "rankSession";
const seconds = Number(process.argv[3] ?? 3);
const { page, close } = await openBenchPage("?profile");
try {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Profiler.enable");
  await cdp.send("Profiler.setSamplingInterval", { interval: 20 });
  await cdp.send("Profiler.start");
  const calls = await page.evaluate(([op, ms]) => {
    const call = window.benchWorkload[op];
    if (!call) throw new Error(`unknown operation ${op}`);
    const end = performance.now() + ms;
    let count = 0;
    while (performance.now() < end) {
      call();
      count++;
    }
    return count;
  }, [operation, seconds * 1000]);
  const { profile } = await cdp.send("Profiler.stop");
  const self = new Map();
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id).callFrame;
    const name = frame.functionName || `(${frame.url.split("/").pop() || "program"})`;
    self.set(name, (self.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  console.log(`${operation}: ${calls} calls in ${seconds} s, ${((seconds * 1e6) / calls).toFixed(1)} µs per call`);
  for (const [name, us] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 40)) {
    console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${((us / calls)).toFixed(2).padStart(7)} µs/call  ${name.slice(0, 150)}`);
  }
} finally {
  await close();
}
