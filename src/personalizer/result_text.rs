//! The results the core module hands JS as JSON text (`track`, `setConsent`, `flush`, warnings,
//! `liftBucket`, `syncNow` before `configureSync`, `preferredHours`), written by hand byte for
//! byte as `serde_json::to_string` writes their serde derives (which stay, for the on-demand
//! module and as the tests' reference), so serde_json's serializer of each is not in the core.

use crate::adapt::{ActiveHour, LiftBucket, PreferredHours};
use crate::collect::FilterReason;
use crate::consent::{ConsentDecision, ConsentMode};
use crate::storage::json_text::{push_f64, push_list, push_raw, push_str, push_u64, JsonText};
use crate::storage::{StorageWarning, WarningCode, WarningKind};

use super::{FlushReport, SkipReason, SyncOutcome, TrackOutcome};

fn push_bool(out: &mut String, value: bool) {
    push_raw(out, if value { "true" } else { "false" });
}

impl JsonText for ConsentMode {
    fn write_json(&self, out: &mut String) {
        push_str(out, self.as_str());
    }
}

impl JsonText for ConsentDecision {
    fn write_json(&self, out: &mut String) {
        push_raw(out, "{\"requested\":");
        self.requested.write_json(out);
        push_raw(out, ",\"effective\":");
        self.effective.write_json(out);
        push_raw(out, ",\"cappedByGlobalPrivacyControl\":");
        push_bool(out, self.capped_by_global_privacy_control);
        push_raw(out, "}");
    }
}

fn filter_reason(reason: FilterReason) -> &'static str {
    match reason {
        FilterReason::Bot => "\"bot\"",
        FilterReason::ShortDwell => "\"shortDwell\"",
        FilterReason::DuplicateView => "\"duplicateView\"",
        FilterReason::Burst => "\"burst\"",
        FilterReason::RateLimited => "\"rateLimited\"",
    }
}

impl JsonText for TrackOutcome {
    fn write_json(&self, out: &mut String) {
        match *self {
            TrackOutcome::Recorded { new_session } => {
                push_raw(out, "{\"status\":\"recorded\",\"newSession\":");
                push_bool(out, new_session);
                push_raw(out, "}");
            }
            TrackOutcome::Filtered { reason } => {
                push_raw(out, "{\"status\":\"filtered\",\"reason\":");
                push_raw(out, filter_reason(reason));
                push_raw(out, "}");
            }
            TrackOutcome::Sensitive => push_raw(out, "{\"status\":\"sensitive\"}"),
            TrackOutcome::NoConsent => push_raw(out, "{\"status\":\"noConsent\"}"),
        }
    }
}

impl JsonText for FlushReport {
    fn write_json(&self, out: &mut String) {
        push_raw(out, "{\"written\":");
        push_bool(out, self.written);
        push_raw(out, ",\"storedBytes\":");
        push_u64(out, self.stored_bytes as u64);
        push_raw(out, ",\"compacted\":");
        push_bool(out, self.compacted);
        push_raw(out, "}");
    }
}

fn warning_code(code: WarningCode) -> &'static str {
    match code {
        WarningCode::Unreadable => "\"unreadable\"",
        WarningCode::NotBackedUp => "\"notBackedUp\"",
        WarningCode::Migrated => "\"migrated\"",
        WarningCode::StorageUnavailable => "\"storageUnavailable\"",
        WarningCode::QuotaExceeded => "\"quotaExceeded\"",
        WarningCode::OtherTabUnreadable => "\"otherTabUnreadable\"",
        WarningCode::CompactedToFit => "\"compactedToFit\"",
        WarningCode::ModelDownloadFailed => "\"modelDownloadFailed\"",
        WarningCode::ModelRejected => "\"modelRejected\"",
        WarningCode::SendRefused => "\"sendRefused\"",
    }
}

impl JsonText for StorageWarning {
    fn write_json(&self, out: &mut String) {
        push_raw(out, "{\"code\":");
        push_raw(out, warning_code(self.code));
        push_raw(out, ",\"kind\":");
        push_raw(out, if self.kind == WarningKind::Storage { "\"storage\"" } else { "\"network\"" });
        push_raw(out, ",\"message\":");
        push_str(out, &self.message);
        if let Some(key) = &self.backup_key {
            push_raw(out, ",\"backupKey\":");
            push_str(out, key);
        }
        push_raw(out, "}");
    }
}

impl JsonText for LiftBucket {
    fn write_json(&self, out: &mut String) {
        push_raw(out, if *self == LiftBucket::Personalized { "\"personalized\"" } else { "\"holdout\"" });
    }
}

fn skip_reason(reason: SkipReason) -> &'static str {
    match reason {
        SkipReason::NotConfigured => "\"notConfigured\"",
        SkipReason::NoConsent => "\"noConsent\"",
        SkipReason::NoSharedModel => "\"noSharedModel\"",
        SkipReason::NotEnoughImpressions => "\"notEnoughImpressions\"",
        SkipReason::Paused => "\"paused\"",
        SkipReason::ClockWentBack => "\"clockWentBack\"",
        SkipReason::SendFailed => "\"sendFailed\"",
        SkipReason::Rejected => "\"rejected\"",
        SkipReason::StorageFailed => "\"storageFailed\"",
        SkipReason::Invalid => "\"invalid\"",
        SkipReason::LiftReportNotDue => "\"liftReportNotDue\"",
        SkipReason::Busy => "\"busy\"",
    }
}

/// `,"bytes":…,"resent":…,"epsilonThisPeriod":…}`: the tail both sent outcomes share.
fn sent_tail(out: &mut String, bytes: usize, resent: bool, epsilon_this_period: f64) {
    push_raw(out, ",\"bytes\":");
    push_u64(out, bytes as u64);
    push_raw(out, ",\"resent\":");
    push_bool(out, resent);
    push_raw(out, ",\"epsilonThisPeriod\":");
    push_f64(out, epsilon_this_period);
    push_raw(out, "}");
}

impl JsonText for SyncOutcome {
    fn write_json(&self, out: &mut String) {
        match self {
            SyncOutcome::Sent { model_version, bytes, resent, epsilon_this_period } => {
                push_raw(out, "{\"status\":\"sent\",\"modelVersion\":");
                push_u64(out, *model_version);
                sent_tail(out, *bytes, *resent, *epsilon_this_period);
            }
            SyncOutcome::LiftReportSent { bucket, bytes, resent, epsilon_this_period } => {
                push_raw(out, "{\"status\":\"liftReportSent\",\"bucket\":");
                bucket.write_json(out);
                sent_tail(out, *bytes, *resent, *epsilon_this_period);
            }
            SyncOutcome::Skipped { reason, message } => {
                push_raw(out, "{\"status\":\"skipped\",\"reason\":");
                push_raw(out, skip_reason(*reason));
                push_raw(out, ",\"message\":");
                push_str(out, message);
                push_raw(out, "}");
            }
            SyncOutcome::RefusedByLedger {
                message,
                epsilon_this_period,
                budget_epsilon,
                next_period_starts_unix_seconds,
            } => {
                push_raw(out, "{\"status\":\"refusedByLedger\",\"message\":");
                push_str(out, message);
                push_raw(out, ",\"epsilonThisPeriod\":");
                push_f64(out, *epsilon_this_period);
                push_raw(out, ",\"budgetEpsilon\":");
                push_f64(out, *budget_epsilon);
                push_raw(out, ",\"nextPeriodStartsUnixSeconds\":");
                push_u64(out, *next_period_starts_unix_seconds);
                push_raw(out, "}");
            }
        }
    }
}

fn active_hour(out: &mut String, hour: &ActiveHour) {
    push_raw(out, "{\"day\":");
    push_u64(out, hour.day.into());
    push_raw(out, ",\"hour\":");
    push_u64(out, hour.hour.into());
    push_raw(out, ",\"share\":");
    push_f64(out, hour.share);
    push_raw(out, "}");
}

impl JsonText for PreferredHours {
    fn write_json(&self, out: &mut String) {
        match self {
            PreferredHours::NotEnoughData { events, needed_events, active_days, needed_days } => {
                push_raw(out, "{\"status\":\"notEnoughData\",\"events\":");
                push_f64(out, *events);
                push_raw(out, ",\"neededEvents\":");
                push_f64(out, *needed_events);
                push_raw(out, ",\"activeDays\":");
                push_u64(out, (*active_days).into());
                push_raw(out, ",\"neededDays\":");
                push_u64(out, (*needed_days).into());
                push_raw(out, "}");
            }
            PreferredHours::Ready { hours_of_week, hours_of_day } => {
                push_raw(out, "{\"status\":\"ready\",\"hoursOfWeek\":");
                push_list(out, hours_of_week, active_hour);
                push_raw(out, ",\"hoursOfDay\":");
                push_list(out, hours_of_day, |out, hour| push_u64(out, (*hour).into()));
                push_raw(out, "}");
            }
        }
    }
}

#[cfg(test)]
#[path = "result_text_tests.rs"]
mod tests;
