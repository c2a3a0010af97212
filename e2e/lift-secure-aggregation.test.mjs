// The demo storefront's lift report as a DAP-09 report (liftReport.noise secureAggregation): the
// aggregator serves the model, and the two lift tasks (one per bucket) run on their own leader and
// helper (two processes, tasks written by `aggregator dap-task-pair --lift-min-cohort 100`). The
// page's one lift report of the day leaves as a PUT of `application/dap-report` to its bucket's
// task on the lift leader, both aggregators verify
// its Prio3SumVec proof, no plain lift report is posted, and GET /v1/lift on the lift leader
// releases nothing below 100 reports per bucket.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { DEMO_SIGNING_KEY_FILE, dapTaskPair, freePort, openLoggedPage, pause, startAggregator, startDapHelper, startStorefront, visitFirstProduct } from "./browser.mjs";

let storefront;
let task;
let tasks;
let helper;
let liftLeader;
let aggregator;

before(async () => {
  storefront = await startStorefront();
  const helperPort = await freePort();
  task = await dapTaskPair(`http://127.0.0.1:${helperPort}`, ["--lift-min-cohort", "100", "--lift-min-reports-per-bucket", "100"]);
  helper = await startDapHelper(task.helperFile, helperPort);
  liftLeader = await startAggregator(storefront.url, ["--dap-role", "leader", "--dap-task", task.leaderFile, "--dap-interval-ms", "100"]);
  aggregator = await startAggregator(storefront.url, ["--signing-key-file", DEMO_SIGNING_KEY_FILE]);
  tasks = task.device.noise.tasks;
  const at = (bucketTask) => ({ ...bucketTask, leaderUrl: liftLeader.url });
  const liftReport = { ...task.device, noise: { ...task.device.noise, tasks: { personalized: at(tasks.personalized), holdout: at(tasks.holdout) } } };
  storefront.setDemoConfig({ aggregatorUrl: aggregator.url, liftReport });
}, { timeout: 1_800_000 });

after(async () => {
  aggregator?.stop();
  liftLeader?.stop();
  helper?.stop();
  task?.remove();
  await storefront?.close();
});

test("the storefront's lift report leaves as one DAP report to the lift leader, verified with the helper", async () => {
  const context = await storefront.browser.newContext();
  const uploads = [];
  const plain = [];
  context.on("request", (request) => {
    if (request.url().startsWith(`${liftLeader.url}/tasks/`) && request.method() === "PUT") uploads.push(request);
    if (request.url() === `${aggregator.url}/v1/lift-reports` || request.url().endsWith("/v1/lift-shares")) plain.push(request);
  });
  const lines = [];
  try {
    const page = await openLoggedPage(storefront, context, lines);
    await visitFirstProduct(page);
    // The automatic loop (every 5 s in the demo) sends the day's lift report once something was counted.
    for (let attempt = 0; attempt < 60 && uploads.length === 0; attempt++) await pause(page, 500);
    if (uploads.length === 0) {
      await page.click("#open-panel");
      await page.waitForSelector("[data-testid=privacy-ledger]");
      const panel = await page.textContent("#panel, [data-testid=privacy-ledger]");
      assert.fail(`no lift DAP upload (plain: ${plain.length}); panel: ${panel}\n${lines.join("\n")}`);
    }
    assert.equal(uploads.length, 1, "one lift report, as a DAP upload");
    const response = await uploads[0].response();
    assert.equal(response.status(), 200, "the lift leader took the report");
    assert.equal(uploads[0].headers()["content-type"], "application/dap-report");
    const bytes = uploads[0].postDataBuffer().length;
    console.log(`the storefront's lift DAP report: ${bytes} bytes`);
    let status;
    for (let attempt = 0; attempt < 100; attempt++) {
      status = await (await fetch(`${liftLeader.url}/dap/status`)).json();
      if (status.aggregated === 1) break;
      await pause(page, 100);
    }
    assert.equal(status.aggregated, 1, `verified by both aggregators: ${JSON.stringify(status)}`);
    // One task per bucket: the report went to, and was verified in, its bucket's task only.
    const mine = status.tasks.filter((each) => each.aggregated === 1);
    assert.equal(mine.length, 1, JSON.stringify(status.tasks));
    assert.ok(uploads[0].url().endsWith(`/tasks/${mine[0].taskId}/reports`), `${uploads[0].url()} vs ${mine[0].taskId}`);
    assert.ok([tasks.personalized.taskId, tasks.holdout.taskId].includes(mine[0].taskId));
    assert.equal(status.collectedBatches, 0, "no batch below 100 is released");
    const helperStatus = await (await fetch(`${helper.url}/dap/status`)).json();
    assert.equal(helperStatus.aggregated, 1);
    const lift = await (await fetch(`${liftLeader.url}/v1/lift`)).json();
    assert.equal(lift.status, "notEnoughReports", JSON.stringify(lift));
    assert.equal(lift.settings.noise.kind, "secureAggregation");
    assert.equal(plain.length, 0, "no plain lift report and no shares leave");
    await page.click("#open-panel");
    await page.waitForSelector("[data-testid=privacy-ledger]");
    assert.match(await page.textContent("[data-testid=privacy-ledger]"), /Lift reports sent today\s*1/);
    assert.ok(!lines.some((line) => /sync off|invalidConfig/.test(line)), lines.join("\n"));
  } finally {
    await context.close();
  }
});
