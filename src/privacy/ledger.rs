//! The device's privacy ledger: what each period has spent, persisted with the profile.
//!
//! Two kinds of release are booked in it, both Gaussian mechanisms accounted in zCDP, so their
//! `ρ` simply add up within a period and over a lifetime: model updates (`ρ = 1/(2z²)` each) and
//! lift reports (at most one a period, `ρ` of one report as [`crate::measure`] computes it). The
//! period budget bounds their sum: `ε(ρ_updates + ρ_lift) ≤ periodBudgetEpsilon`.

use serde::{Deserialize, Serialize};

use super::accountant::{epsilon_from_rho, ACCOUNTING_STATEMENT};
use super::params::PrivacyParams;
use super::PrivacyError;

/// Periods kept in the ledger's history (older ones only count in the lifetime totals).
pub const LEDGER_HISTORY_PERIODS: usize = 30;

/// What one period spent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeriodSpend {
    /// Period index: unix seconds divided by the period length.
    pub period: u64,
    pub updates: u32,
    /// Lift reports booked in the period (at most one); older ledgers have none, and a period
    /// without one is stored as before lift reports existed.
    #[serde(default, skip_serializing_if = "no_lift_reports")]
    pub lift_reports: u32,
    /// Spend of the updates and the lift report together.
    pub rho: f64,
}

/// Every update this device sent, as privacy spend. Serialize it with the profile; a ledger that
/// fails [`PrivacyLedger::check_integrity`] after loading must not be trusted.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PrivacyLedger {
    periods: Vec<PeriodSpend>,
    lifetime_updates: u64,
    #[serde(skip_serializing_if = "none_ever")]
    lifetime_lift_reports: u64,
    lifetime_rho: f64,
}

fn no_lift_reports(count: &u32) -> bool {
    *count == 0
}

fn none_ever(count: &u64) -> bool {
    *count == 0
}

/// The ledger as `profileSummary()` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct LedgerSummary {
    /// How spend is counted, in one sentence.
    pub accounting: String,
    pub noise_multiplier: f64,
    pub clip_bound: f64,
    pub delta: f64,
    pub period_seconds: u64,
    pub epsilon_per_update: f64,
    /// `ε` of one lift report on its own (0 until sync is configured with adaptation).
    pub epsilon_per_lift_report: f64,
    pub period_budget_epsilon: f64,
    pub current_period_updates: u32,
    pub current_period_lift_reports: u32,
    pub current_period_epsilon: f64,
    pub current_period_remaining_epsilon: f64,
    /// When the current period ends (unix seconds): the budget renews then.
    pub current_period_ends_unix_seconds: u64,
    pub lifetime_updates: u64,
    pub lifetime_lift_reports: u64,
    /// Lifetime `ε` at the same `δ` (all updates and lift reports composed).
    pub lifetime_epsilon: f64,
    pub history: Vec<PeriodSummary>,
}

/// One past period in the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct PeriodSummary {
    pub period_start_unix_seconds: u64,
    pub updates: u32,
    pub lift_reports: u32,
    pub epsilon: f64,
}

impl PrivacyLedger {
    /// Rejects a loaded ledger with impossible values (negative or non-finite spend, periods out
    /// of order, totals below the history).
    pub fn check_integrity(&self) -> Result<(), PrivacyError> {
        let mut previous: Option<u64> = None;
        let mut history_rho = 0.0;
        let mut history_updates = 0_u64;
        for spend in &self.periods {
            if !(spend.rho.is_finite() && spend.rho >= 0.0) || previous.is_some_and(|p| p >= spend.period) {
                return Err(PrivacyError::CorruptLedger);
            }
            previous = Some(spend.period);
            history_rho += spend.rho;
            history_updates += u64::from(spend.updates);
        }
        let history_lift: u64 = self.periods.iter().map(|spend| u64::from(spend.lift_reports)).sum();
        let totals_ok = self.lifetime_rho.is_finite()
            && self.lifetime_rho + 1e-9 >= history_rho
            && self.lifetime_updates >= history_updates
            && self.lifetime_lift_reports >= history_lift;
        if totals_ok {
            Ok(())
        } else {
            Err(PrivacyError::CorruptLedger)
        }
    }

    fn spent_in(&self, period: u64) -> (u32, f64) {
        self.periods.iter().find(|spend| spend.period == period).map_or((0, 0.0), |spend| (spend.updates, spend.rho))
    }

    fn lift_reports_in(&self, period: u64) -> u32 {
        self.periods.iter().find(|spend| spend.period == period).map_or(0, |spend| spend.lift_reports)
    }

    /// Every release booked so far (updates and lift reports): the ledger counting more is the newer.
    pub fn releases(&self) -> u64 {
        self.lifetime_updates + self.lifetime_lift_reports
    }

    /// Whether one more update may be sent at `now_unix_seconds`; returns the `ρ` it would spend.
    pub fn check_room(&self, params: &PrivacyParams, now_unix_seconds: u64) -> Result<f64, PrivacyError> {
        let period = params.period_of(now_unix_seconds);
        self.check_clock(period)?;
        let (updates, _) = self.spent_in(period);
        if updates >= params.max_updates_per_period() {
            return Err(PrivacyError::PeriodLimitReached {
                updates,
                next_period_starts: (period + 1) * params.period_seconds(),
            });
        }
        let cost = params.rho_per_update();
        self.check_budget(params, period, cost)?;
        Ok(cost)
    }

    /// Whether this period's lift report, costing `rho`, may still be sent: one per period,
    /// within the period budget together with the updates.
    pub fn check_lift_room(&self, params: &PrivacyParams, now_unix_seconds: u64, rho: f64) -> Result<(), PrivacyError> {
        let period = params.period_of(now_unix_seconds);
        self.check_clock(period)?;
        if self.lift_reports_in(period) > 0 {
            return Err(PrivacyError::LiftReportSent { next_period_starts: (period + 1) * params.period_seconds() });
        }
        self.check_budget(params, period, rho)
    }

    fn check_clock(&self, period: u64) -> Result<(), PrivacyError> {
        if self.periods.last().is_some_and(|last| last.period > period) {
            return Err(PrivacyError::ClockWentBack);
        }
        Ok(())
    }

    fn check_budget(&self, params: &PrivacyParams, period: u64, cost: f64) -> Result<(), PrivacyError> {
        let (_, rho) = self.spent_in(period);
        if epsilon_from_rho(rho + cost, params.delta()) > params.period_budget_epsilon() {
            return Err(PrivacyError::BudgetExhausted {
                spent: epsilon_from_rho(rho, params.delta()),
                budget: params.period_budget_epsilon(),
                next_period_starts: (period + 1) * params.period_seconds(),
            });
        }
        Ok(())
    }

    /// Books one update. Call it when the noised update is produced, before sending: an update
    /// that may have reached the server has been spent. Fails as [`Self::check_room`] does.
    pub fn record_update(&mut self, params: &PrivacyParams, now_unix_seconds: u64) -> Result<f64, PrivacyError> {
        let cost = self.check_room(params, now_unix_seconds)?;
        self.book(params.period_of(now_unix_seconds), cost, 1, 0);
        self.lifetime_updates += 1;
        Ok(cost)
    }

    /// Books this period's lift report of spend `rho`, before its bytes are handed out. Fails as
    /// [`Self::check_lift_room`] does.
    pub fn record_lift_report(
        &mut self,
        params: &PrivacyParams,
        now_unix_seconds: u64,
        rho: f64,
    ) -> Result<(), PrivacyError> {
        self.check_lift_room(params, now_unix_seconds, rho)?;
        self.book(params.period_of(now_unix_seconds), rho, 0, 1);
        self.lifetime_lift_reports += 1;
        Ok(())
    }

    fn book(&mut self, period: u64, rho: f64, updates: u32, lift_reports: u32) {
        match self.periods.last_mut() {
            Some(last) if last.period == period => {
                last.updates += updates;
                last.lift_reports += lift_reports;
                last.rho += rho;
            }
            _ => self.periods.push(PeriodSpend { period, updates, lift_reports, rho }),
        }
        if self.periods.len() > LEDGER_HISTORY_PERIODS {
            let excess = self.periods.len() - LEDGER_HISTORY_PERIODS;
            self.periods.drain(..excess);
        }
        self.lifetime_rho += rho;
    }

    /// The ledger in plain numbers for the "what this shop knows about you" panel.
    pub fn summary(&self, params: &PrivacyParams, now_unix_seconds: u64) -> LedgerSummary {
        let period = params.period_of(now_unix_seconds);
        let (updates, rho) = self.spent_in(period);
        let current_epsilon = epsilon_from_rho(rho, params.delta());
        LedgerSummary {
            accounting: ACCOUNTING_STATEMENT.to_owned(),
            noise_multiplier: params.noise_multiplier(),
            clip_bound: params.clip_bound(),
            delta: params.delta(),
            period_seconds: params.period_seconds(),
            epsilon_per_update: params.epsilon_per_update(),
            epsilon_per_lift_report: 0.0,
            period_budget_epsilon: params.period_budget_epsilon(),
            current_period_updates: updates,
            current_period_lift_reports: self.lift_reports_in(period),
            current_period_epsilon: current_epsilon,
            current_period_remaining_epsilon: (params.period_budget_epsilon() - current_epsilon).max(0.0),
            current_period_ends_unix_seconds: (period + 1) * params.period_seconds(),
            lifetime_updates: self.lifetime_updates,
            lifetime_lift_reports: self.lifetime_lift_reports,
            lifetime_epsilon: epsilon_from_rho(self.lifetime_rho, params.delta()),
            history: self
                .periods
                .iter()
                .map(|spend| PeriodSummary {
                    period_start_unix_seconds: spend.period * params.period_seconds(),
                    updates: spend.updates,
                    lift_reports: spend.lift_reports,
                    epsilon: epsilon_from_rho(spend.rho, params.delta()),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::PrivacyConfig;

    const DAY: u64 = 86_400;

    fn params(max_updates: u32, budget: f64) -> PrivacyParams {
        PrivacyParams::new(PrivacyConfig {
            max_updates_per_period: max_updates,
            period_budget_epsilon: budget,
            ..Default::default()
        })
        .expect("valid params")
    }

    #[test]
    fn one_update_per_day_by_default() {
        let params = params(1, 8.0);
        let mut ledger = PrivacyLedger::default();
        let rho = ledger.record_update(&params, 10 * DAY + 5).expect("first update fits");
        assert!((rho - 0.5).abs() < 1e-12);
        match ledger.record_update(&params, 10 * DAY + 600) {
            Err(PrivacyError::PeriodLimitReached { updates: 1, next_period_starts }) => {
                assert_eq!(next_period_starts, 11 * DAY)
            }
            other => panic!("expected the period limit, got {other:?}"),
        }
        assert!(ledger.record_update(&params, 11 * DAY).is_ok());
        assert_eq!(ledger.summary(&params, 11 * DAY).lifetime_updates, 2);
    }

    #[test]
    fn the_budget_refuses_the_update_that_would_exceed_it() {
        // Two updates compose to rho = 1 -> eps = 8.43 > 8: the second is refused.
        let params = params(5, 8.0);
        let mut ledger = PrivacyLedger::default();
        ledger.record_update(&params, 3 * DAY).expect("first fits");
        match ledger.record_update(&params, 3 * DAY + 1) {
            Err(PrivacyError::BudgetExhausted { spent, budget, .. }) => {
                assert!((spent - 5.756_522).abs() < 1e-5);
                assert_eq!(budget, 8.0);
            }
            other => panic!("expected BudgetExhausted, got {other:?}"),
        }
        // A budget of 9 admits the second (8.4338) but not the third (rho 1.5 -> 10.6).
        let params = self::params(5, 9.0);
        let mut ledger = PrivacyLedger::default();
        ledger.record_update(&params, 0).expect("first");
        ledger.record_update(&params, 1).expect("second");
        assert!(matches!(ledger.record_update(&params, 2), Err(PrivacyError::BudgetExhausted { .. })));
        let summary = ledger.summary(&params, 2);
        assert_eq!(summary.current_period_updates, 2);
        assert!((summary.current_period_epsilon - 8.433_844).abs() < 1e-5);
        assert!((summary.current_period_remaining_epsilon - 0.566_156).abs() < 1e-5);
    }

    #[test]
    fn lifetime_epsilon_composes_every_period() {
        let params = params(1, 8.0);
        let mut ledger = PrivacyLedger::default();
        for day in 0..4 {
            ledger.record_update(&params, day * DAY).expect("one per day");
        }
        // rho = 2: 2 + 2 * sqrt(2 * 13.815510558) = 2 + 10.51304 = 12.51304.
        let summary = ledger.summary(&params, 3 * DAY);
        assert!((summary.lifetime_epsilon - 12.513_04).abs() < 1e-4);
        assert_eq!(summary.history.len(), 4);
        assert_eq!(summary.history[1].period_start_unix_seconds, DAY);
    }

    #[test]
    fn lift_reports_share_the_period_budget_once_a_period() {
        let params = params(1, 8.0);
        let mut ledger = PrivacyLedger::default();
        let lift_rho = 0.067_574;
        ledger.record_lift_report(&params, 2 * DAY, lift_rho).expect("first report fits");
        assert!(matches!(
            ledger.record_lift_report(&params, 2 * DAY + 5, lift_rho),
            Err(PrivacyError::LiftReportSent { next_period_starts }) if next_period_starts == 3 * DAY
        ));
        ledger.record_update(&params, 2 * DAY + 9).expect("the update still fits");
        let summary = ledger.summary(&params, 2 * DAY + 9);
        // ρ = 0.567574: 0.567574 + 2 √(0.567574 × 13.815511) = 6.168046.
        assert!((summary.current_period_epsilon - 6.168_046).abs() < 1e-5);
        assert_eq!((summary.current_period_updates, summary.current_period_lift_reports), (1, 1));
        assert_eq!((summary.lifetime_updates, summary.lifetime_lift_reports), (1, 1));
        assert_eq!(ledger.releases(), 2);
        // After an update (ρ 0.5) a report of ρ 0.45 would reach ε(0.95) = 0.95 + 2 √(0.95 × 13.815511)
        // = 8.196 > 8 and is refused; one of ρ 0.40 reaches ε(0.9) = 7.952 and fits.
        let mut full = PrivacyLedger::default();
        full.record_update(&params, 0).expect("update");
        assert!(matches!(full.check_lift_room(&params, 1, 0.45), Err(PrivacyError::BudgetExhausted { .. })));
        assert_eq!(full.check_lift_room(&params, 1, 0.40), Ok(()));
        assert!(ledger.check_integrity().is_ok());
    }

    #[test]
    fn a_ledger_stored_before_lift_reports_still_loads() {
        let old = r#"{"periods":[{"period":5,"updates":1,"rho":0.5}],"lifetimeUpdates":1,"lifetimeRho":0.5}"#;
        let ledger: PrivacyLedger = serde_json::from_str(old).expect("parses");
        assert!(ledger.check_integrity().is_ok());
        assert_eq!(ledger.releases(), 1);
    }

    #[test]
    fn a_clock_that_went_back_refuses_to_send() {
        let params = params(1, 8.0);
        let mut ledger = PrivacyLedger::default();
        ledger.record_update(&params, 5 * DAY).expect("fits");
        assert_eq!(ledger.check_room(&params, 4 * DAY), Err(PrivacyError::ClockWentBack));
    }

    #[test]
    fn history_is_bounded_but_lifetime_is_not() {
        let params = params(1, 8.0);
        let mut ledger = PrivacyLedger::default();
        for day in 0..(LEDGER_HISTORY_PERIODS as u64 + 5) {
            ledger.record_update(&params, day * DAY).expect("one per day");
        }
        assert_eq!(ledger.periods.len(), LEDGER_HISTORY_PERIODS);
        assert_eq!(ledger.lifetime_updates, LEDGER_HISTORY_PERIODS as u64 + 5);
        assert!(ledger.check_integrity().is_ok());
    }

    #[test]
    fn tampered_ledgers_fail_the_integrity_check() {
        let params = params(1, 8.0);
        let mut ledger = PrivacyLedger::default();
        ledger.record_update(&params, 0).expect("fits");
        let json = serde_json::to_string(&ledger).expect("serializes");
        let back: PrivacyLedger = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, ledger);
        let lowered = json.replace("\"lifetimeRho\":0.5", "\"lifetimeRho\":0.0");
        let lowered: PrivacyLedger = serde_json::from_str(&lowered).expect("parses");
        assert_eq!(lowered.check_integrity(), Err(PrivacyError::CorruptLedger));
        let negative = json.replace("\"rho\":0.5", "\"rho\":-0.5");
        let negative: PrivacyLedger = serde_json::from_str(&negative).expect("parses");
        assert_eq!(negative.check_integrity(), Err(PrivacyError::CorruptLedger));
    }
}
