// Drives bench-page/ in headless Chromium and prints median and p95 per call for 50/200/1000
// candidates: registerCandidates(), rank() by handle with a session of five earlier answers and
// without one, a product page view (registering the answer about the page's item and ranking it
// once, which pools the earlier answers afresh), and the plain-JS twin of the scoring, with the
// twin ÷ rank ratio.
//
//   node bench-page/run.mjs [--json]
//   BENCH_PKG_DIR=/path/to/other/pkg node bench-page/run.mjs   (compare another build of the package)
import { openBenchPage } from "./serve.mjs";

const { results, close } = await openBenchPage();
try {
  if (process.argv.includes("--json")) {
    console.log(JSON.stringify(results));
  } else {
    const us = (ms) => `${(ms * 1000).toFixed(1)}`.padStart(7);
    const cell = (m) => `${us(m.median)} / ${us(m.p95)}`;
    console.log(`Chromium headless, cross-origin isolated: ${results.crossOriginIsolated}; µs per call (median / p95)`);
    console.log("| candidates | registerCandidates | rank, session of 5 | rank, no session | page view: register + first rank | plain-JS twin | twin ÷ rank (session / none) |");
    console.log("|-----------:|-------------------:|-------------------:|-----------------:|---------------------------------:|--------------:|-----------------------------:|");
    for (const row of results.rows) {
      const ratio = (op) => (row.twin.median / row[op].median).toFixed(2);
      console.log(`| ${String(row.candidates).padStart(10)} | ${cell(row.register)} | ${cell(row.rankSession)} | ${cell(row.rankNoSession)} | ${cell(row.pageView).padStart(32)} | ${cell(row.twin)} | ${`${ratio("rankSession")} / ${ratio("rankNoSession")}`.padStart(28)} |`);
    }
    const at200 = results.rows.find((row) => row.candidates === 200);
    if (at200) {
      const verdict = at200.rankSession.median <= 0.1 ? "meets" : "misses";
      console.log(`rank() at 200 candidates with a session: median ${(at200.rankSession.median * 1000).toFixed(1)} µs ${verdict} the 100 µs target`);
    }
  }
} finally {
  await close();
}
