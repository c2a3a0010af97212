// configureSync({ secureAggregation }) from the built package: a valid DAP task is taken, the
// ledger shows the collusion figure beside the booked ε, and every bad setting rejects with
// `invalidConfig`.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Personalizer } from "./load-package.mjs";

const base64url = (bytes) => Buffer.from(bytes).toString("base64url");
/** A DAP HpkeConfig: id, X25519-HKDF-SHA256 (0x0020), HKDF-SHA256 (1), AES-128-GCM (1), a 32-byte key. */
const hpkeConfig = (id, kem = 0x0020) => base64url([id, kem >> 8, kem & 0xff, 0, 1, 0, 1, 0, 32, 9, ...new Array(31).fill(id)]);
const secure = (changes = {}) => ({
  leaderUrl: "https://leader.example",
  helperUrl: "https://helper.example",
  taskId: base64url(new Array(32).fill(7)),
  leaderHpkeConfig: hpkeConfig(1),
  helperHpkeConfig: hpkeConfig(2),
  ...changes,
});
const setup = (secureAggregation) => ({
  aggregatorUrl: "https://agg.example",
  modelPublicKey: "00".repeat(32),
  autoSync: false,
  ...(secureAggregation ? { secureAggregation } : {}),
});

test("a DAP task is taken and the ledger shows what collusion would cost", async () => {
  const p = new Personalizer({ shop: "node-secure" });
  p.setConsent("full");
  await p.configureSync(setup(null));
  assert.equal(p.privacyLedger().epsilonPerUpdateIfAggregatorsCollude, undefined, "absent without secure aggregation");
  await p.configureSync(setup(secure({ timePrecisionSecs: 3600, minBatchSize: undefined })));
  const ledger = p.privacyLedger();
  assert.ok(Math.abs(ledger.epsilonPerUpdate - 5.756522) < 1e-5, "the sum's ε is booked");
  // K = 100, z = 1: ρ = 50, ε = 50 + 2·√(50·ln 1e6) = 102.566.
  assert.ok(Math.abs(ledger.epsilonPerUpdateIfAggregatorsCollude - 102.566) < 1e-3, `${ledger.epsilonPerUpdateIfAggregatorsCollude}`);
  assert.match(ledger.accounting, /do not collude/);
  assert.ok(Math.abs(p.profileSummary().privacyLedger.epsilonPerUpdateIfAggregatorsCollude - 102.566) < 1e-3);
  await p.configureSync(setup(secure({ minBatchSize: 25 })));
  assert.ok(Math.abs(p.privacyLedger().epsilonPerUpdateIfAggregatorsCollude - 38.783) < 1e-3);
  p.free();
});

test("every bad secure aggregation setting rejects with invalidConfig", async () => {
  const p = new Personalizer({ shop: "node-secure-bad" });
  p.setConsent("full");
  const cases = [
    [secure({ leaderUrl: "ftp://leader" }), /leaderUrl/],
    [secure({ helperUrl: "helper.example" }), /helperUrl/],
    [secure({ taskId: "not base64!" }), /taskId/],
    [secure({ taskId: base64url(new Array(16).fill(7)) }), /taskId holds 16 bytes/],
    [secure({ leaderHpkeConfig: base64url([1, 2, 3]) }), /leaderHpkeConfig/],
    [secure({ helperHpkeConfig: hpkeConfig(2, 0x0010) }), /X25519/],
    [secure({ timePrecisionSecs: 0 }), /timePrecisionSecs/],
    [secure({ minBatchSize: 101 }), /minBatchSize/],
    [secure({ minBatchSiz: 10 }), /minBatchSiz/],
  ];
  for (const [bad, message] of cases) {
    await assert.rejects(p.configureSync(setup(bad)), (e) => e instanceof Error && e.code === "invalidConfig" && message.test(e.message), JSON.stringify(bad));
  }
  p.free();
});

test("lift reports through two DAP lift tasks (one per bucket) are taken; sharedSums and the single task are refused with a pointer", async () => {
  const p = new Personalizer({ shop: "node-secure-lift" });
  p.setConsent("full");
  const liftReport = (noise) => ({ ...setup(null), liftReport: { noise } });
  const tasks = (holdout = {}) => ({ personalized: secure(), holdout: secure({ taskId: base64url(new Array(32).fill(8)), ...holdout }) });
  await p.configureSync(liftReport({ kind: "secureAggregation", minCohort: 1000, tasks: tasks() }));
  const ledger = p.privacyLedger();
  assert.ok(Math.abs(ledger.epsilonPerLiftReport - 2) < 1e-9, "the sum's ε is booked");
  // K = 1000 times ρ(ε 2) = 67.574: ε = 67.574 + 2·√(67.574·ln 1e6) = 128.68.
  assert.ok(Math.abs(ledger.epsilonPerLiftReportIfAggregatorsCollude - 128.68) < 0.01, `${ledger.epsilonPerLiftReportIfAggregatorsCollude}`);
  assert.equal(ledger.epsilonPerUpdateIfAggregatorsCollude, undefined, "updates stay plain");
  await assert.rejects(
    p.configureSync(liftReport({ kind: "sharedSums", minCohort: 1000, helperUrl: "https://helper.example" })),
    (error) => error.code === "invalidConfig" && /retired/.test(error.message) && /secureAggregation/.test(error.message),
  );
  await assert.rejects(
    p.configureSync(liftReport({ kind: "secureAggregation", minCohort: 1000, tasks: tasks({ taskId: "short" }) })),
    (error) => error.code === "invalidConfig" && /taskId/.test(error.message),
  );
  await assert.rejects(
    p.configureSync(liftReport({ kind: "secureAggregation", minCohort: 1000, tasks: tasks({ taskId: secure().taskId }) })),
    (error) => error.code === "invalidConfig" && /each bucket needs its own DAP task/.test(error.message),
  );
  await assert.rejects(
    p.configureSync(liftReport({ kind: "secureAggregation", minCohort: 1000, task: secure() })),
    (error) => error.code === "invalidConfig" && /one DAP task per bucket/.test(error.message) && /dap-task-pair/.test(error.message),
  );
  p.free();
});
