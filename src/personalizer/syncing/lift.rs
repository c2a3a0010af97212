//! The period's lift report through the sync path.
//!
//! When the sync policy runs (consent `full`, sync and adaptation configured), at most one lift
//! report leaves per period, once the device counted anything (a session, an impression, ...) since its last report.
//! The report is clipped and noised from a 256-bit crypto seed (`measure::report`), its ρ is
//! booked in the same ledger and period budget as the model updates, and the ledger is saved
//! *before* the bytes are handed out. Until the server accepts it, every attempt resends the
//! same bytes (same nonce: the server counts it once); a refusal other than a network failure,
//! a rate limit or a busy server drops it with a warning (its spend stays booked).
//!
//! The body is [`crate::sync::LiftReportMessage`]: bucket, configuration fingerprint, noise
//! multiplier, a random nonce and the noised counts. No ids, categories, brands, queries,
//! placement names, timestamps or device identifier.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha20Rng;

use crate::adapt::LiftBucket;
use crate::measure::shares::{encode_report, split};
use crate::measure::{CheckedReportConfig, LiftReport, NoiseMode};
use crate::privacy::accountant::epsilon_from_rho;
use crate::privacy::{PrivacyError, PrivacyParams};
use crate::storage::KeyValueStore;
use crate::sync::{LiftReportMessage, LiftShareMessage, SharePair, ShareServer, SyncError};

use super::booked::Booked;
use super::{check_time, unix_seconds, Context, SkipReason, SyncOutcome, SyncPlan, SyncSetup, Syncing, SyncingError};

/// Checks the lift report settings against the privacy settings: the same δ, and one lift report
/// plus one model update fit the period budget together.
pub(super) fn check_lift_setup(setup: &SyncSetup, params: &PrivacyParams) -> Result<CheckedReportConfig, SyncingError> {
    let lift = setup.lift_report.clone().check()?;
    if (lift.config().delta - params.delta()).abs() > 1e-15 {
        return Err(SyncingError::LiftDelta { lift: lift.config().delta, privacy: params.delta() });
    }
    let together = epsilon_from_rho(params.rho_per_update() + lift.booked_rho(), params.delta());
    if together > params.period_budget_epsilon() {
        return Err(SyncError::from(PrivacyError::LiftReportOverBudget {
            lift_epsilon: lift.booked_epsilon(),
            update_epsilon: params.epsilon_per_update(),
            together,
            budget: params.period_budget_epsilon(),
        })
        .into());
    }
    Ok(lift)
}

/// The booked blob of a `sharedSums` report: the leader's share body, then the helper's, with
/// one random report id; the split randomness comes from the crypto-seeded `rng`.
fn share_pair(report: &LiftReport, config: &CheckedReportConfig, rng: &mut ChaCha20Rng) -> Vec<u8> {
    let mut split_rng = ChaCha20Rng::from_seed(rng.random());
    let shares = split(&encode_report(report, config), &mut split_rng);
    let report_id: [u8; 16] = rng.random();
    let message = |server, share| {
        let message = LiftShareMessage {
            server,
            bucket: report.bucket,
            dimension: config.dimension(),
            fingerprint: config.fingerprint(),
            report_id,
            share,
        };
        message.encode()
    };
    [message(ShareServer::Leader, shares.leader), message(ShareServer::Helper, shares.helper)].concat()
}

/// The bucket a booked lift report (plain or share pair) was made in.
fn booked_bucket(body: &[u8]) -> LiftBucket {
    match SharePair::parse(body) {
        Some(pair) => LiftShareMessage::decode(pair.leader).map(|m| m.bucket),
        None => LiftReportMessage::decode(body).map(|m| m.bucket),
    }
    .unwrap_or(LiftBucket::Personalized)
}

impl Syncing {
    /// Decides whether this period's lift report leaves now. When it does, builds it, books and
    /// saves its spend, and returns the bytes to POST to `/v1/lift-reports` after the jitter. A
    /// booked report not yet accepted is returned again (same bytes).
    pub fn prepare_lift_report<S: KeyValueStore>(
        &mut self,
        ctx: &mut Context<S>,
        now_ms: f64,
        seed: [u8; 32],
        take_report: impl FnOnce(&mut Context<S>, &CheckedReportConfig, [u8; 32]) -> Option<LiftReport>,
    ) -> SyncPlan {
        let Ok(now) = check_time(now_ms) else {
            return SyncPlan::Done(SyncOutcome::skipped(
                SkipReason::Invalid,
                format!("nowMs is {now_ms}: pass Date.now()"),
            ));
        };
        if !ctx.consent.persists() {
            return SyncPlan::Done(SyncOutcome::skipped(SkipReason::NoConsent, PrivacyError::NoConsent.to_string()));
        }
        let (Some(config), Some(device)) = (self.lift.clone(), self.device.as_ref()) else {
            return SyncPlan::Done(SyncOutcome::skipped(
                SkipReason::NotConfigured,
                SyncingError::NotConfigured.to_string(),
            ));
        };
        let params = device.privacy().clone();
        let mut rng = ChaCha20Rng::from_seed(seed);
        let max_jitter = self.setup.as_ref().map_or(0, |setup| setup.max_jitter_ms);
        let jitter_ms = rng.random_range(0..=max_jitter);
        if let Some(body) = self.pending_lift.clone() {
            return self.plan_send(ctx, Booked::LiftReport, body, jitter_ms, true);
        }
        let now_s = unix_seconds(now);
        let period = params.period_of(now_s);
        if self.paused_until_period.is_some_and(|until| period < until) {
            let message = "the stored privacy ledger could not be read, so no lift report is sent this period";
            return SyncPlan::Done(SyncOutcome::skipped(SkipReason::Paused, message));
        }
        self.adopt_other_tabs_ledger(ctx);
        let rho = config.booked_rho();
        if let Err(refused) = self.ledger.check_lift_room(&params, now_s, rho) {
            return SyncPlan::Done(self.refusal(SyncError::from(refused), &params, now_s));
        }
        let noise_seed: [u8; 32] = rng.random();
        let Some(report) = take_report(ctx, &config, noise_seed) else {
            let message =
                "no lift report is due: adaptation is not configured or nothing was counted since the last report";
            return SyncPlan::Done(SyncOutcome::skipped(SkipReason::LiftReportNotDue, message));
        };
        if let Err(refused) = self.ledger.record_lift_report(&params, now_s, rho) {
            // Checked just above; kept for a ledger another call changed in between.
            return SyncPlan::Done(self.refusal(SyncError::from(refused), &params, now_s));
        }
        let body = match &config.config().noise {
            NoiseMode::SharedSums { .. } => share_pair(&report, &config, &mut rng),
            NoiseMode::Local | NoiseMode::Distributed { .. } => {
                LiftReportMessage::from_report(&report, &config, rng.random()).encode()
            }
        };
        self.pending_lift = Some(body.clone());
        self.dirty = true;
        self.plan_send(ctx, Booked::LiftReport, body, jitter_ms, false)
    }

    /// True when `body` is still the booked lift report and consent still allows sending it.
    pub fn may_send_lift_report<S: KeyValueStore>(&self, ctx: &Context<S>, body: &[u8]) -> bool {
        ctx.consent.persists() && self.pending_lift.as_deref() == Some(body)
    }

    /// The booked lift report not yet accepted by the server, if any.
    pub fn pending_lift_report(&self) -> Option<&[u8]> {
        self.pending_lift.as_deref()
    }

    /// Records how sending the lift report `body` went (as [`Self::finish_sync`] does for updates).
    pub fn finish_lift_report<S: KeyValueStore>(
        &mut self,
        ctx: &mut Context<S>,
        body: &[u8],
        resent: bool,
        result: Result<(), SyncError>,
        now_ms: f64,
    ) -> SyncOutcome {
        if let Err(outcome) = self.settle(ctx, Booked::LiftReport, body, result) {
            return outcome;
        }
        let epsilon_this_period = self.ledger_summary(now_ms).current_period_epsilon;
        SyncOutcome::LiftReportSent { bucket: booked_bucket(body), bytes: body.len(), resent, epsilon_this_period }
    }
}
