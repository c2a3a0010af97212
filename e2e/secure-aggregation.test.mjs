// The demo storefront with secure aggregation, as scripts/demo runs it: the aggregator as the DAP
// leader and a DAP helper as a second process, on a task written by `aggregator dap-task-pair`. The
// page configures `secureAggregation` from demo-config.json; its model update leaves as one DAP-09
// report, PUT to the leader (after a CORS preflight) as `application/dap-report`, which the leader
// stores and aggregates with the helper; no plain update is posted, and no batch below 100 is released.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { DEMO_SIGNING_KEY_FILE, clickRecommendation, dapTaskPair, freePort, openLoggedPage, pause, startAggregator, startDapHelper, startStorefront, visitFirstProduct } from "./browser.mjs";

let storefront;
let task;
let helper;
let leader;

before(async () => {
  storefront = await startStorefront();
  const helperPort = await freePort();
  task = await dapTaskPair(`http://127.0.0.1:${helperPort}`);
  helper = await startDapHelper(task.helperFile, helperPort);
  leader = await startAggregator(storefront.url, [
    "--signing-key-file", DEMO_SIGNING_KEY_FILE, "--dap-role", "leader", "--dap-task", task.leaderFile, "--dap-interval-ms", "100",
  ]);
  storefront.setDemoConfig({ aggregatorUrl: leader.url, secureAggregation: { ...task.device, leaderUrl: leader.url } });
}, { timeout: 1_800_000 });

after(async () => {
  leader?.stop();
  helper?.stop();
  task?.remove();
  await storefront?.close();
});

test("the storefront's model update leaves as a DAP report to the leader, aggregated with the helper", async () => {
  const context = await storefront.browser.newContext();
  const uploads = [];
  const plain = [];
  context.on("request", (request) => {
    if (request.url().startsWith(`${leader.url}/tasks/`) && request.method() === "PUT") uploads.push(request);
    if (request.url() === `${leader.url}/v1/updates`) plain.push(request);
  });
  const lines = [];
  try {
    const page = await openLoggedPage(storefront, context, lines);
    await visitFirstProduct(page);
    const clicked = new Set();
    while (uploads.length === 0) {
      await clickRecommendation(page, clicked, 400);
      assert.ok(clicked.size < 40, `the demo sends an update after five labelled impressions\n${lines.join("\n")}`);
    }
    const response = await uploads[0].response();
    assert.equal(response.status(), 200, "the leader took the report");
    assert.equal(uploads[0].headers()["content-type"], "application/dap-report");
    const bytes = uploads[0].postDataBuffer().length;
    console.log(`the storefront's DAP report: ${bytes} bytes`);
    assert.ok(bytes <= 32 * 1024);
    let status;
    for (let attempt = 0; attempt < 100; attempt++) {
      status = await (await fetch(`${leader.url}/dap/status`)).json();
      if (status.aggregated === 1) break;
      await pause(page, 100);
    }
    assert.equal(status.aggregated, 1, `verified by both aggregators: ${JSON.stringify(status)}`);
    assert.equal(status.collectedBatches, 0, "no batch below 100 is released");
    const helperStatus = await (await fetch(`${helper.url}/dap/status`)).json();
    assert.equal(helperStatus.aggregated, 1);
    assert.equal(plain.length, 0, "no plain update leaves");
    const round = await (await fetch(`${leader.url}/v1/rounds/current`)).json();
    assert.equal(round.updatesReceived, 0);
    await page.click("#open-panel");
    await page.waitForSelector("[data-testid=privacy-ledger]");
    assert.match(await page.textContent("[data-testid=privacy-ledger]"), /secure aggregation reports/);
    assert.ok(!lines.some((line) => /sync off|invalidConfig/.test(line)), lines.join("\n"));
  } finally {
    await context.close();
  }
});
