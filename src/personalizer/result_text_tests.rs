use proptest::prelude::*;
use serde::Serialize;

use super::*;

/// The hand writer's text is serde_json's of the same value.
fn same<T: JsonText + Serialize>(value: &T) -> Result<(), TestCaseError> {
    prop_assert_eq!(value.json_text(), serde_json::to_string(value).unwrap());
    Ok(())
}

const MODES: [ConsentMode; 3] = [ConsentMode::None, ConsentMode::Session, ConsentMode::Full];
const REASONS: [FilterReason; 5] = [
    FilterReason::Bot,
    FilterReason::ShortDwell,
    FilterReason::DuplicateView,
    FilterReason::Burst,
    FilterReason::RateLimited,
];
const CODES: [WarningCode; 10] = [
    WarningCode::Unreadable,
    WarningCode::NotBackedUp,
    WarningCode::Migrated,
    WarningCode::StorageUnavailable,
    WarningCode::QuotaExceeded,
    WarningCode::OtherTabUnreadable,
    WarningCode::CompactedToFit,
    WarningCode::ModelDownloadFailed,
    WarningCode::ModelRejected,
    WarningCode::SendRefused,
];
const SKIPS: [SkipReason; 12] = [
    SkipReason::NotConfigured,
    SkipReason::NoConsent,
    SkipReason::NoSharedModel,
    SkipReason::NotEnoughImpressions,
    SkipReason::Paused,
    SkipReason::ClockWentBack,
    SkipReason::SendFailed,
    SkipReason::Rejected,
    SkipReason::StorageFailed,
    SkipReason::Invalid,
    SkipReason::LiftReportNotDue,
    SkipReason::Busy,
];

/// Any float, the non-finite ones (written as `null`) and whole ones included.
fn float() -> impl Strategy<Value = f64> {
    prop_oneof![any::<f64>(), Just(f64::NAN), Just(f64::INFINITY), Just(-0.0), (0u32..100).prop_map(f64::from)]
}

#[test]
fn every_variant_is_written_as_serde_json_writes_it() {
    let check = |r: Result<(), TestCaseError>| r.unwrap();
    for requested in MODES {
        check(same(&requested));
        for (effective, capped) in MODES.into_iter().zip([false, true, false]) {
            check(same(&ConsentDecision { requested, effective, capped_by_global_privacy_control: capped }));
        }
    }
    for new_session in [false, true] {
        check(same(&TrackOutcome::Recorded { new_session }));
    }
    for reason in REASONS {
        check(same(&TrackOutcome::Filtered { reason }));
    }
    check(same(&TrackOutcome::Sensitive));
    check(same(&TrackOutcome::NoConsent));
    for code in CODES {
        check(same(&StorageWarning::new(code, "a \"quoted\"\nmessage")));
    }
    check(same(&StorageWarning::backed_up("unreadable", "shop-personalizer:backup:1".into())));
    for bucket in [LiftBucket::Personalized, LiftBucket::Holdout] {
        check(same(&bucket));
    }
    for reason in SKIPS {
        check(same(&SyncOutcome::skipped(reason, "sync is not configured: call configureSync() first")));
    }
    check(same(&PreferredHours::Ready { hours_of_week: vec![], hours_of_day: vec![] }));
}

#[test]
fn results_have_the_js_shape() {
    // By hand, not from serde: what the JS reads.
    let report = FlushReport { written: true, stored_bytes: 10, compacted: false };
    assert_eq!(report.json_text(), r#"{"written":true,"storedBytes":10,"compacted":false}"#);
    let hours = PreferredHours::Ready {
        hours_of_week: vec![ActiveHour { day: 0, hour: 20, share: 0.25 }],
        hours_of_day: vec![20, 9],
    };
    assert_eq!(
        hours.json_text(),
        r#"{"status":"ready","hoursOfWeek":[{"day":0,"hour":20,"share":0.25}],"hoursOfDay":[20,9]}"#
    );
    let waiting = PreferredHours::NotEnoughData { events: 3.0, needed_events: 20.0, active_days: 1, needed_days: 3 };
    assert_eq!(
        waiting.json_text(),
        r#"{"status":"notEnoughData","events":3.0,"neededEvents":20.0,"activeDays":1,"neededDays":3}"#
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn any_result_is_written_as_serde_json_writes_it(
        written in any::<bool>(),
        compacted in any::<bool>(),
        bytes in any::<usize>(),
        count in any::<u64>(),
        message in any::<String>(),
        key in proptest::option::of(any::<String>()),
        code in 0..CODES.len(),
        reason in 0..SKIPS.len(),
        (e1, e2, e3) in (float(), float(), float()),
        days in (any::<u32>(), any::<u32>()),
        week in proptest::collection::vec((any::<u8>(), any::<u8>(), float()), 0..12),
        day in proptest::collection::vec(any::<u8>(), 0..24),
    ) {
        same(&FlushReport { written, stored_bytes: bytes, compacted })?;
        let mut warning = StorageWarning::new(CODES[code], message.clone());
        warning.backup_key = key;
        same(&warning)?;
        let bucket = if written { LiftBucket::Holdout } else { LiftBucket::Personalized };
        same(&SyncOutcome::Sent { model_version: count, bytes, resent: compacted, epsilon_this_period: e1 })?;
        same(&SyncOutcome::LiftReportSent { bucket, bytes, resent: compacted, epsilon_this_period: e2 })?;
        same(&SyncOutcome::skipped(SKIPS[reason], message.clone()))?;
        same(&SyncOutcome::RefusedByLedger {
            message,
            epsilon_this_period: e1,
            budget_epsilon: e3,
            next_period_starts_unix_seconds: count,
        })?;
        same(&PreferredHours::NotEnoughData { events: e1, needed_events: e2, active_days: days.0, needed_days: days.1 })?;
        let hours_of_week = week.into_iter().map(|(day, hour, share)| ActiveHour { day, hour, share }).collect();
        same(&PreferredHours::Ready { hours_of_week, hours_of_day: day })?;
    }
}
