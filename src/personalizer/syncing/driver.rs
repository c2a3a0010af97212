//! The one sync sequence, as a sans-IO state machine: what to fetch, wait for or send next, given
//! what happened to the last request. The browser and the native tests only run it against
//! their transport ([`drive`]), so the browser's sync loop is the tested one.
//!
//! One run: refresh the shared model when due (download, verify, install; a failed download
//! is retried at a later check with backoff), prepare the update when the policy allows (its
//! spend is booked and saved before the bytes are handed out), wait the random delay, check
//! that consent and the booking still hold, send, record the answer; then the same for the
//! period's lift report. The run resolves to the update's outcome (the lift report's shows in
//! the ledger and, when refused, in the warnings).
//!
//! [`SyncSchedule`] decides when a run is due and whether it refreshes the model.

use crate::sync::{deliver_lift_report, deliver_update, SyncError, Transport};

use super::{SkipReason, SyncOutcome, SyncPlan};

/// What a sync run needs of the engine.
pub trait SyncEngine {
    /// Consent lets the page make requests at all (`session` or `full`).
    fn collects(&self) -> bool;
    /// `configureSync` was called.
    fn sync_configured(&self) -> bool;
    fn shared_model_version(&self) -> Option<u64>;
    /// Verifies and installs downloaded model bytes; a bad model becomes a warning.
    fn install_shared_model(&mut self, bytes: &[u8]);
    fn record_model_download_failure(&mut self, problem: &SyncError);
    fn prepare_sync(&mut self, now_ms: f64, seed: [u8; 32]) -> SyncPlan;
    fn may_send(&self, body: &[u8]) -> bool;
    fn finish_sync(&mut self, body: &[u8], resent: bool, result: Result<(), SyncError>, now_ms: f64) -> SyncOutcome;
    fn prepare_lift_report(&mut self, now_ms: f64, seed: [u8; 32]) -> SyncPlan;
    fn may_send_lift_report(&self, body: &[u8]) -> bool;
    fn finish_lift_report(
        &mut self,
        body: &[u8],
        resent: bool,
        result: Result<(), SyncError>,
        now_ms: f64,
    ) -> SyncOutcome;
}

/// What happened since the last step.
#[derive(Debug)]
pub enum SyncInput {
    Start,
    ModelFetched(Result<Option<Vec<u8>>, SyncError>),
    Waited,
    Sent(Result<(), SyncError>),
}

/// What the runner does next.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncAction {
    FetchModel { known_version: Option<u64> },
    Wait { ms: u32 },
    SendUpdate { body: Vec<u8> },
    SendLiftReport { body: Vec<u8> },
    Done(SyncOutcome),
}

#[derive(Debug, Clone)]
enum Stage {
    Start,
    Fetching,
    Waiting { lift: bool, body: Vec<u8>, resend: bool },
    Sending { lift: bool, body: Vec<u8>, resend: bool },
    Finished,
}

/// One sync run (see the module docs). Seeds must be crypto-random and fresh for every run.
#[derive(Debug, Clone)]
pub struct SyncRun {
    stage: Stage,
    refresh: bool,
    lift_only: bool,
    update_seed: [u8; 32],
    lift_seed: [u8; 32],
    update: Option<SyncOutcome>,
    model_refreshed: Option<bool>,
}

pub(super) const NO_CONSENT: &str = "model updates are only sent under full consent: call setConsent(\"full\") first";
const CHANGED_WHILE_WAITING: &str = "consent changed or the update was already sent while waiting; nothing was sent";
const LIFT_CHANGED_WHILE_WAITING: &str =
    "consent changed or the lift report was already sent while waiting; nothing was sent";
const WRONG_ANSWER: &str = "the sync runner answered an action the run did not ask for; nothing more is sent";

impl SyncRun {
    /// A full run: the model when `refresh`, the update, then the lift report.
    pub fn new(refresh: bool, update_seed: [u8; 32], lift_seed: [u8; 32]) -> Self {
        SyncRun {
            stage: Stage::Start,
            refresh,
            lift_only: false,
            update_seed,
            lift_seed,
            update: None,
            model_refreshed: None,
        }
    }

    /// A run of the lift report alone; it resolves to the lift report's outcome.
    pub fn lift_report_only(seed: [u8; 32]) -> Self {
        SyncRun { lift_only: true, ..SyncRun::new(false, [0; 32], seed) }
    }

    /// Whether this run downloaded the model (`Some(true)`), tried and failed (`Some(false)`) or
    /// did not try (`None`), for [`SyncSchedule::finished`].
    pub fn model_refreshed(&self) -> Option<bool> {
        self.model_refreshed
    }

    /// The next action, given what happened to the last one.
    pub fn step(&mut self, engine: &mut dyn SyncEngine, input: SyncInput, now_ms: f64) -> SyncAction {
        let stage = std::mem::replace(&mut self.stage, Stage::Finished);
        match (stage, input) {
            (Stage::Start, _) if self.lift_only => self.prepare_lift(engine, now_ms),
            (Stage::Start, _) if !engine.collects() => {
                // Without consent the page makes no request at all, not even a model download.
                self.done(SyncOutcome::skipped(SkipReason::NoConsent, NO_CONSENT))
            }
            (Stage::Start, _) if self.refresh && engine.sync_configured() => {
                self.stage = Stage::Fetching;
                SyncAction::FetchModel { known_version: engine.shared_model_version() }
            }
            (Stage::Start, _) => self.prepare_update(engine, now_ms),
            (Stage::Fetching, SyncInput::ModelFetched(fetched)) => {
                self.model_refreshed = Some(fetched.is_ok());
                match fetched {
                    Ok(Some(bytes)) => engine.install_shared_model(&bytes),
                    Ok(None) => {}
                    Err(problem) => engine.record_model_download_failure(&problem),
                }
                self.prepare_update(engine, now_ms)
            }
            (Stage::Waiting { lift, body, resend }, SyncInput::Waited) => {
                let still = if lift { engine.may_send_lift_report(&body) } else { engine.may_send(&body) };
                match (still, lift) {
                    (false, false) => {
                        self.update = Some(SyncOutcome::skipped(SkipReason::NoConsent, CHANGED_WHILE_WAITING));
                        self.prepare_lift(engine, now_ms)
                    }
                    (false, true) => self.finish(None),
                    (true, _) => {
                        self.stage = Stage::Sending { lift, body: body.clone(), resend };
                        if lift {
                            SyncAction::SendLiftReport { body }
                        } else {
                            SyncAction::SendUpdate { body }
                        }
                    }
                }
            }
            (Stage::Sending { lift: false, body, resend }, SyncInput::Sent(result)) => {
                self.update = Some(engine.finish_sync(&body, resend, result, now_ms));
                self.prepare_lift(engine, now_ms)
            }
            (Stage::Sending { lift: true, body, resend }, SyncInput::Sent(result)) => {
                let outcome = engine.finish_lift_report(&body, resend, result, now_ms);
                self.finish(Some(outcome))
            }
            _ => {
                // A runner that answered the wrong action: stop without sending anything.
                self.done(SyncOutcome::skipped(SkipReason::Invalid, WRONG_ANSWER))
            }
        }
    }

    fn prepare_update(&mut self, engine: &mut dyn SyncEngine, now_ms: f64) -> SyncAction {
        match engine.prepare_sync(now_ms, self.update_seed) {
            SyncPlan::Done(outcome) => {
                self.update = Some(outcome);
                self.prepare_lift(engine, now_ms)
            }
            SyncPlan::Send { body, jitter_ms, resend } => {
                self.stage = Stage::Waiting { lift: false, body, resend };
                SyncAction::Wait { ms: jitter_ms }
            }
        }
    }

    fn prepare_lift(&mut self, engine: &mut dyn SyncEngine, now_ms: f64) -> SyncAction {
        match engine.prepare_lift_report(now_ms, self.lift_seed) {
            SyncPlan::Done(outcome) => self.finish(Some(outcome)),
            SyncPlan::Send { body, jitter_ms, resend } => {
                self.stage = Stage::Waiting { lift: true, body, resend };
                SyncAction::Wait { ms: jitter_ms }
            }
        }
    }

    /// Ends the run: a full run resolves to the update's outcome, a lift-only run to the lift's.
    fn finish(&mut self, lift: Option<SyncOutcome>) -> SyncAction {
        let outcome = match (self.lift_only, lift) {
            (true, Some(lift)) => lift,
            (true, None) => SyncOutcome::skipped(SkipReason::NoConsent, LIFT_CHANGED_WHILE_WAITING),
            (false, _) => {
                self.update.take().unwrap_or_else(|| SyncOutcome::skipped(SkipReason::Busy, CHANGED_WHILE_WAITING))
            }
        };
        self.done(outcome)
    }

    fn done(&mut self, outcome: SyncOutcome) -> SyncAction {
        self.stage = Stage::Finished;
        SyncAction::Done(outcome)
    }
}

/// Where a runner keeps the engine between steps: it is borrowed for one step at a time and
/// never across a request or a wait.
pub trait SyncHost {
    /// Runs `f` on the engine; `None` when the engine is busy or gone.
    fn with_engine<R>(&self, f: impl FnOnce(&mut dyn SyncEngine) -> R) -> Option<R>;
    fn now_ms(&self) -> f64;
    /// Waits `ms` milliseconds (a native runner may return at once).
    fn sleep(&self, ms: u32) -> impl std::future::Future<Output = ()>;
}

/// Runs `run` to its end against `transport`, one engine step at a time.
pub async fn drive<H: SyncHost>(host: &H, transport: &impl Transport, run: &mut SyncRun) -> SyncOutcome {
    let mut input = SyncInput::Start;
    loop {
        let now_ms = host.now_ms();
        let Some(action) = host.with_engine(|engine| run.step(engine, input, now_ms)) else {
            return SyncOutcome::skipped(SkipReason::Busy, "the Personalizer was busy; try again");
        };
        input = match action {
            SyncAction::Done(outcome) => return outcome,
            SyncAction::FetchModel { known_version } => {
                SyncInput::ModelFetched(transport.fetch_model(known_version).await)
            }
            SyncAction::Wait { ms } => {
                host.sleep(ms).await;
                SyncInput::Waited
            }
            SyncAction::SendUpdate { body } => SyncInput::Sent(deliver_update(transport, &body).await),
            SyncAction::SendLiftReport { body } => SyncInput::Sent(deliver_lift_report(transport, &body).await),
        };
    }
}

/// When the automatic loop syncs, and whether that run refreshes the model: at every check,
/// refreshing when the last good download is `model_refresh_ms` old; a failed download is
/// retried after one check interval, then two, four, … up to the refresh interval.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncSchedule {
    check_interval_ms: f64,
    model_refresh_ms: f64,
    last_model_refresh_ms: Option<f64>,
    failed_downloads: u32,
    retry_not_before_ms: f64,
    in_flight: bool,
}

impl SyncSchedule {
    pub fn new(check_interval_ms: f64, model_refresh_ms: f64) -> Self {
        SyncSchedule {
            check_interval_ms,
            model_refresh_ms,
            last_model_refresh_ms: None,
            failed_downloads: 0,
            retry_not_before_ms: 0.0,
            in_flight: false,
        }
    }

    /// At a check: `None` while a run is in flight, else whether the run refreshes the model.
    /// Marks the run as in flight.
    pub fn start(&mut self, now_ms: f64) -> Option<bool> {
        if self.in_flight {
            return None;
        }
        self.in_flight = true;
        let stale = self.last_model_refresh_ms.is_none_or(|last| now_ms - last >= self.model_refresh_ms);
        Some(stale && now_ms >= self.retry_not_before_ms)
    }

    /// A run that always refreshes (`syncNow`); `None` while one is in flight.
    pub fn start_now(&mut self) -> Option<bool> {
        (!std::mem::replace(&mut self.in_flight, true)).then_some(true)
    }

    /// The run ended; `model_refreshed` as [`SyncRun::model_refreshed`] tells.
    pub fn finished(&mut self, model_refreshed: Option<bool>, now_ms: f64) {
        self.in_flight = false;
        match model_refreshed {
            Some(true) => {
                self.last_model_refresh_ms = Some(now_ms);
                self.failed_downloads = 0;
                self.retry_not_before_ms = 0.0;
            }
            Some(false) => {
                let backoff = self.check_interval_ms * f64::from(1_u32 << self.failed_downloads.min(16));
                self.failed_downloads = self.failed_downloads.saturating_add(1);
                self.retry_not_before_ms = now_ms + backoff.min(self.model_refresh_ms);
            }
            None => {}
        }
    }
}

#[cfg(test)]
#[path = "driver_tests.rs"]
mod tests;
