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
use crate::measure::{CheckedReportConfig, LiftReport, NoiseMode, ReportError};
use crate::privacy::accountant::epsilon_from_rho;
use crate::privacy::{PrivacyError, PrivacyParams};
use crate::storage::KeyValueStore;
use crate::sync::secure_aggregation::parse_lift_dap_booked;
use crate::sync::{LiftReportMessage, SyncError};

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

/// The bucket a booked lift report (plain or DAP) was made in.
fn booked_bucket(body: &[u8]) -> LiftBucket {
    match parse_lift_dap_booked(body) {
        Some((bucket, _)) => Some(bucket),
        None => LiftReportMessage::decode(body).ok().map(|m| m.bucket),
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
        let body = match &config.config().noise {
            NoiseMode::SecureAggregation { .. } => {
                match super::lift_secure::lift_dap_body(&self.lift_dap, &report, now_s, &mut rng) {
                    Ok(body) => body,
                    Err(error) => return SyncPlan::Done(self.refusal(error, &params, now_s)),
                }
            }
            NoiseMode::SharedSums { .. } => {
                let message = ReportError::SharedSumsRetired.to_string();
                return SyncPlan::Done(SyncOutcome::skipped(SkipReason::Invalid, message));
            }
            NoiseMode::Local | NoiseMode::Distributed { .. } => {
                LiftReportMessage::from_report(&report, &config, rng.random()).encode()
            }
        };
        // The body is made before the spend is booked: a refusal above spends nothing.
        if let Err(refused) = self.ledger.record_lift_report(&params, now_s, rho) {
            // Checked just above; kept for a ledger another call changed in between.
            return SyncPlan::Done(self.refusal(SyncError::from(refused), &params, now_s));
        }
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
        // The wire size: a DAP report without the bucket kept beside it on the device.
        let bytes = parse_lift_dap_booked(body).map_or(body.len(), |(_, report)| report.len());
        SyncOutcome::LiftReportSent { bucket: booked_bucket(body), bytes, resent, epsilon_this_period }
    }
}
