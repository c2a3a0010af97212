//! Many simulated devices on replayed sessions: each draws its lift bucket with the library's
//! own [`HoldoutDraw`], counts through [`LiftCounters`], reports through [`noised_report`], and
//! the aggregator's [`LiftEstimator`] estimates the lift. A known lift is injected into the
//! personalized devices' conversion, so the estimate can be checked against the truth.
//!
//! Behaviour model per session (the same in both buckets except the injected multiplier):
//! every view is a click at its placement (the first view of a session at "home", later ones
//! at "product"), shown among `impressions_per_view` items of which half are recommended; a
//! click is "recommended" when the server's co-visitation neighbours of the previous item list
//! it. The session adds to cart with probability 1.5·p·m and orders with probability ⅔ of
//! that (so orders per session = p·m), where p = min(0.5, base + per_view × length) and
//! m = 1 + lift for personalized devices, 1 for the holdout. The order is attributed to the
//! last click's placement and class; revenue is 20 + an exponential with mean 40.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use shop_personalizer::adapt::{HoldoutDraw, LiftBucket};
use shop_personalizer::measure::gaussian::decision_rng;
use shop_personalizer::measure::{
    noised_report, shares, CheckedReportConfig, ItemClass, LiftCounters, LiftEstimator, LiftMetric, LiftReport,
    NoiseMode, RatioLift,
};

use crate::dap_sums::DapSums;
use crate::random_groups::{self, GroupsInterval};
use crate::sessions::Neighbours;

/// The behaviour model's parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BehaviourModel {
    pub base_conversion: f64,
    pub conversion_per_view: f64,
    pub impressions_per_view: f64,
    pub max_sessions_per_device: usize,
}

impl Default for BehaviourModel {
    fn default() -> Self {
        BehaviourModel {
            base_conversion: 0.01,
            conversion_per_view: 0.012,
            impressions_per_view: 10.0,
            max_sessions_per_device: 5,
        }
    }
}

/// One scenario: noise configuration, holdout share and injected lift.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub report: CheckedReportConfig,
    pub holdout_share: f64,
    pub injected_lift: f64,
}

/// A device: the indices of its sessions.
pub type Device = Vec<usize>;

/// Groups sessions, in file order, into devices of 1..=max sessions (fixed by `seed`, so every
/// repetition sees the same population).
pub fn group_into_devices(sessions: usize, max_sessions: usize, seed: u64) -> Vec<Device> {
    let mut rng = decision_rng(seed, 0);
    let mut devices = Vec::new();
    let mut next = 0;
    while next < sessions {
        let take = rng.random_range(1..=max_sessions.max(1)).min(sessions - next);
        devices.push((next..next + take).collect());
        next += take;
    }
    devices
}

fn exponential(rng: &mut ChaCha8Rng, mean: f64) -> f64 {
    -mean * (1.0 - rng.random::<f64>()).ln()
}

/// Records one session's behaviour into `counters`.
fn play_session(
    session: &[u32],
    neighbours: &Neighbours,
    model: &BehaviourModel,
    multiplier: f64,
    counters: &mut LiftCounters,
    rng: &mut ChaCha8Rng,
) {
    counters.record_session();
    let half = model.impressions_per_view / 2.0;
    let mut last = ("home", ItemClass::NotRecommended);
    for (i, &item) in session.iter().enumerate() {
        let placement = if i == 0 { "home" } else { "product" };
        let class = if i > 0 && neighbours.recommends(session[i - 1], item) {
            ItemClass::Recommended
        } else {
            ItemClass::NotRecommended
        };
        // Counts are finite and non-negative by construction, so recording cannot fail.
        let _ = counters.record(placement, ItemClass::Recommended, LiftMetric::Impressions, half);
        let _ = counters.record(placement, ItemClass::NotRecommended, LiftMetric::Impressions, half);
        let _ = counters.record(placement, class, LiftMetric::Clicks, 1.0);
        last = (placement, class);
    }
    let p = (model.base_conversion + model.conversion_per_view * session.len() as f64).min(0.5);
    if rng.random::<f64>() < 1.5 * p * multiplier {
        let _ = counters.record(last.0, last.1, LiftMetric::AddToCarts, 1.0);
        if rng.random::<f64>() < 2.0 / 3.0 {
            let _ = counters.record_order(last.0, last.1, 20.0 + exponential(rng, 40.0));
        }
    }
}

/// The estimate of one repetition.
#[derive(Debug, Clone, PartialEq)]
pub struct Repetition {
    pub personalized_devices: u64,
    pub holdout_devices: u64,
    pub orders: Option<RatioLift>,
    pub revenue: Option<RatioLift>,
    pub recommended_vs_other_orders_per_click: Option<RatioLift>,
    /// `secureAggregation` only: orders per session from the spread of the collected batches
    /// (`random_groups`), and how many batches there were.
    pub random_groups: Option<(Option<GroupsInterval>, usize)>,
}

/// The two servers' share sums per bucket (`sharedSums` scenarios): the devices' reports go
/// through the real encoding, split and combination (`measure::shares`).
struct SharedSums {
    leader: [Vec<u64>; 2],
    helper: [Vec<u64>; 2],
    reports: [u64; 2],
}

impl SharedSums {
    fn new(config: &CheckedReportConfig) -> Option<Self> {
        matches!(config.config().noise, NoiseMode::SharedSums { .. }).then(|| {
            let zeros = || vec![0_u64; shares::shared_length(config.dimension())];
            SharedSums { leader: [zeros(), zeros()], helper: [zeros(), zeros()], reports: [0, 0] }
        })
    }

    fn add(&mut self, report: &LiftReport, config: &CheckedReportConfig, rng: &mut ChaCha8Rng) {
        let b = usize::from(report.bucket == LiftBucket::Holdout);
        let split = shares::split(&shares::encode_report(report, config), rng);
        shares::add_share(&mut self.leader[b], &split.leader);
        shares::add_share(&mut self.helper[b], &split.helper);
        self.reports[b] += 1;
    }

    fn into_estimator(self, config: &CheckedReportConfig) -> Option<LiftEstimator> {
        let personalized = shares::combine(config, self.reports[0], &self.leader[0], &self.helper[0]).ok()?;
        let holdout = shares::combine(config, self.reports[1], &self.leader[1], &self.helper[1]).ok()?;
        LiftEstimator::from_sums(config.clone(), personalized, holdout).ok()
    }
}

/// Where a repetition's reports go: straight into the estimator (local and distributed noise),
/// or through the two servers' paths that only ever release sums.
enum Collection {
    Direct(Box<LiftEstimator>),
    Shared(SharedSums),
    Dap(DapSums),
}

impl Collection {
    fn new(config: &CheckedReportConfig) -> Result<Self, String> {
        if let Some(sums) = SharedSums::new(config) {
            return Ok(Collection::Shared(sums));
        }
        match DapSums::new(config) {
            Some(sums) => Ok(Collection::Dap(sums?)),
            None => Ok(Collection::Direct(Box::new(LiftEstimator::new(config.clone())))),
        }
    }

    fn add(&mut self, report: &LiftReport, config: &CheckedReportConfig, device_seed: u64) -> Result<(), String> {
        match self {
            Collection::Shared(sums) => sums.add(report, config, &mut decision_rng(device_seed, 3)),
            Collection::Dap(sums) => sums.add(report, device_seed)?,
            // Reports built by the library are always well-formed for its own config.
            Collection::Direct(estimator) => drop(estimator.add(report)),
        }
        Ok(())
    }

    /// The estimator, `None` when the servers' sums do not combine (no estimate then); and for
    /// DAP batches their random-groups interval and count.
    fn finish(self, config: &CheckedReportConfig) -> (Option<LiftEstimator>, Option<(Option<GroupsInterval>, usize)>) {
        match self {
            Collection::Direct(estimator) => (Some(*estimator), None),
            Collection::Shared(sums) => (sums.into_estimator(config), None),
            Collection::Dap(sums) => {
                let batches = sums.batches();
                let groups = random_groups::orders_per_session(&batches, 0.95);
                (sums.estimator(config).ok(), Some((groups, batches.len())))
            }
        }
    }
}

/// Runs one repetition of `scenario` with `seed` (buckets, behaviour and noise all re-drawn).
/// Errs only when a `secureAggregation` scenario's encoding or measurement is refused.
pub fn run_once(
    sessions: &[Vec<u32>],
    devices: &[Device],
    neighbours: &Neighbours,
    model: &BehaviourModel,
    scenario: &Scenario,
    seed: u64,
) -> Result<Repetition, String> {
    let mut collection = Collection::new(&scenario.report)?;
    let mut behaviour = decision_rng(seed, 1);
    for (d, device) in devices.iter().enumerate() {
        // Each device's own random seed (in the browser: from crypto.getRandomValues).
        let device_seed = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (d as u64).wrapping_mul(0xD1B5_4A32_D192_ED03);
        let bucket = HoldoutDraw::from_seed(device_seed).bucket(scenario.holdout_share);
        let multiplier = if bucket == LiftBucket::Personalized { 1.0 + scenario.injected_lift } else { 1.0 };
        let mut counters = LiftCounters::default();
        for &s in device {
            play_session(&sessions[s], neighbours, model, multiplier, &mut counters, &mut behaviour);
        }
        let mut noise = decision_rng(device_seed, 2);
        let report = noised_report(&counters, bucket, &scenario.report, &mut noise);
        collection.add(&report, &scenario.report, device_seed)?;
    }
    let (estimator, random_groups) = collection.finish(&scenario.report);
    let estimate = estimator.and_then(|estimator| estimator.estimate(0.95).ok());
    let pick = |name: &str| {
        estimate.as_ref().and_then(|e| e.metrics.iter().find(|m| m.metric == name)).and_then(|m| m.estimate.clone())
    };
    Ok(Repetition {
        personalized_devices: estimate.as_ref().map_or(0, |e| e.personalized_reports),
        holdout_devices: estimate.as_ref().map_or(0, |e| e.holdout_reports),
        orders: pick("orders per session"),
        revenue: pick("revenue per session"),
        recommended_vs_other_orders_per_click: pick("orders per click, recommended vs other items"),
        random_groups,
    })
}

/// A scenario's summary over its repetitions. Means, widths and coverage are over the
/// repetitions whose interval is bounded (Fieller's interval is unbounded when the holdout rate
/// cannot be told from zero); `bounded` is their share.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub name: String,
    pub repetitions: usize,
    pub personalized_devices: f64,
    pub holdout_devices: f64,
    pub injected_lift: f64,
    pub bounded: f64,
    pub mean_lift: f64,
    pub mean_half_width: f64,
    pub coverage: f64,
    pub revenue_coverage: f64,
    pub noise_share: f64,
    pub mean_recommended_vs_other: f64,
    pub random_groups: Option<GroupsSummary>,
}

/// The random-groups intervals of a `secureAggregation` scenario, summarized as the others.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupsSummary {
    pub batches: f64,
    pub bounded: f64,
    pub mean_half_width: f64,
    pub coverage: f64,
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, count) = values.fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
    if count == 0 {
        0.0
    } else {
        sum / count as f64
    }
}

/// Share of bounded intervals in `estimates` that contain `truth`.
fn coverage<'a>(estimates: impl Iterator<Item = &'a RatioLift>, truth: f64) -> f64 {
    mean(estimates.map(|e| f64::from(u8::from(e.ci_low <= truth && truth <= e.ci_high))))
}

/// Summarizes repetitions of one scenario against its injected lift.
pub fn summarize(name: &str, injected: f64, reps: &[Repetition]) -> Summary {
    let orders = || reps.iter().filter_map(|r| r.orders.as_ref());
    Summary {
        name: name.to_string(),
        repetitions: reps.len(),
        personalized_devices: mean(reps.iter().map(|r| r.personalized_devices as f64)),
        holdout_devices: mean(reps.iter().map(|r| r.holdout_devices as f64)),
        injected_lift: injected,
        bounded: orders().count() as f64 / reps.len().max(1) as f64,
        mean_lift: mean(orders().map(|e| e.lift)),
        mean_half_width: mean(orders().map(|e| (e.ci_high - e.ci_low) / 2.0)),
        coverage: coverage(orders(), injected),
        revenue_coverage: coverage(reps.iter().filter_map(|r| r.revenue.as_ref()), injected),
        noise_share: mean(orders().map(|e| e.noise_share)),
        mean_recommended_vs_other: mean(
            reps.iter().filter_map(|r| r.recommended_vs_other_orders_per_click.as_ref()).map(|e| e.lift),
        ),
        random_groups: summarize_groups(injected, reps),
    }
}

fn summarize_groups(injected: f64, reps: &[Repetition]) -> Option<GroupsSummary> {
    let runs: Vec<_> = reps.iter().filter_map(|r| r.random_groups).collect();
    if runs.is_empty() {
        return None;
    }
    let bounded = || runs.iter().filter_map(|(interval, _)| interval.as_ref());
    Some(GroupsSummary {
        batches: mean(runs.iter().map(|(_, batches)| *batches as f64)),
        bounded: bounded().count() as f64 / runs.len() as f64,
        mean_half_width: mean(bounded().map(|i| (i.high - i.low) / 2.0)),
        coverage: mean(bounded().map(|i| f64::from(u8::from(i.low <= injected && injected <= i.high)))),
    })
}

/// The markdown table of the summaries.
pub fn markdown_table(summaries: &[Summary]) -> String {
    let mut out = String::from(
        "| scenario | devices (personalized / holdout) | injected lift | bounded 95% CIs | mean estimate | \
         mean CI half-width | coverage, orders/session | coverage, revenue/session | noise share of variance | \
         recommended vs other items, orders per click | random groups of the DAP batches: batches, bounded, \
         half-width, coverage |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for s in summaries {
        out.push_str(&format!(
            "| {} | {:.0} / {:.0} | {:+.1}% | {:.1}% of {} | {:+.2}% | {:.2} pp | {:.1}% | {:.1}% | {:.0}% | {:+.1}% | {} |\n",
            s.name,
            s.personalized_devices,
            s.holdout_devices,
            s.injected_lift * 100.0,
            s.bounded * 100.0,
            s.repetitions,
            s.mean_lift * 100.0,
            s.mean_half_width * 100.0,
            s.coverage * 100.0,
            s.revenue_coverage * 100.0,
            s.noise_share * 100.0,
            s.mean_recommended_vs_other * 100.0,
            s.random_groups.as_ref().map_or("—".to_string(), |g| format!(
                "{:.0}, {:.1}%, {:.2} pp, {:.1}%",
                g.batches,
                g.bounded * 100.0,
                g.mean_half_width * 100.0,
                g.coverage * 100.0
            )),
        ));
    }
    out
}
