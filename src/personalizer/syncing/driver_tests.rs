use super::*;

#[test]
fn the_first_check_refreshes_and_a_good_download_waits_the_refresh_interval() {
    let mut schedule = SyncSchedule::new(60_000.0, 3_600_000.0);
    assert_eq!(schedule.start(0.0), Some(true));
    assert_eq!(schedule.start(1.0), None, "one run at a time");
    schedule.finished(Some(true), 10.0);
    assert_eq!(schedule.start(60_010.0), Some(false));
    schedule.finished(None, 60_010.0);
    assert_eq!(schedule.start(3_600_010.0), Some(true));
}

#[test]
fn failed_downloads_back_off_by_doubling_up_to_the_refresh_interval() {
    let mut schedule = SyncSchedule::new(60_000.0, 300_000.0);
    let mut now = 0.0;
    let mut waits = Vec::new();
    for _ in 0..5 {
        assert_eq!(schedule.start(now), Some(true));
        schedule.finished(Some(false), now);
        let failed_at = now;
        // Checks every interval until the refresh is allowed again.
        loop {
            now += 60_000.0;
            match schedule.start(now) {
                Some(true) => {
                    schedule.in_flight = false;
                    break;
                }
                Some(false) => schedule.finished(None, now),
                None => unreachable!("nothing is in flight"),
            }
        }
        waits.push(now - failed_at);
    }
    assert_eq!(waits, vec![60_000.0, 120_000.0, 240_000.0, 300_000.0, 300_000.0]);
    schedule.finished(Some(true), now);
    assert_eq!(schedule.failed_downloads, 0);
}

#[test]
fn sync_now_always_refreshes_but_never_overlaps_a_run() {
    let mut schedule = SyncSchedule::new(60_000.0, 3_600_000.0);
    assert_eq!(schedule.start_now(), Some(true));
    assert_eq!(schedule.start_now(), None);
    assert_eq!(schedule.start(0.0), None);
    schedule.finished(Some(true), 0.0);
    assert_eq!(schedule.start_now(), Some(true));
}

mod runs {
    use super::super::super::tests::{browse_and_click, open, signed, T0};
    use super::*;
    use crate::consent::ConsentMode;
    use crate::rank::DEFAULT_WEIGHTS;
    use crate::storage::MemoryStore;
    use crate::sync::SyncError;

    fn network_down() -> SyncError {
        SyncError::Transport { message: "offline".into() }
    }

    #[test]
    fn without_consent_a_run_makes_no_request_at_all() {
        let mut p = open(&MemoryStore::new(), ConsentMode::None);
        let mut run = SyncRun::new(true, [1; 32], [2; 32]);
        match run.step(&mut p.sync_engine(), SyncInput::Start, T0) {
            SyncAction::Done(SyncOutcome::Skipped { reason, .. }) => assert_eq!(reason, SkipReason::NoConsent),
            other => panic!("expected no request, got {other:?}"),
        }
        assert_eq!(run.model_refreshed(), None);
    }

    #[test]
    fn a_run_fetches_waits_the_jitter_then_sends_the_booked_bytes() {
        let mut p = open(&MemoryStore::new(), ConsentMode::Full);
        browse_and_click(&mut p, 4, T0);
        let mut run = SyncRun::new(true, [1; 32], [2; 32]);
        assert_eq!(
            run.step(&mut p.sync_engine(), SyncInput::Start, T0),
            SyncAction::FetchModel { known_version: None }
        );
        let model = signed(1, &DEFAULT_WEIGHTS);
        let SyncAction::Wait { ms } = run.step(&mut p.sync_engine(), SyncInput::ModelFetched(Ok(Some(model))), T0)
        else {
            panic!("the update waits its random delay first");
        };
        assert!(ms <= 1_000, "within maxJitterMs");
        assert_eq!(run.model_refreshed(), Some(true));
        let SyncAction::SendUpdate { body } = run.step(&mut p.sync_engine(), SyncInput::Waited, T0) else {
            panic!("then sends the update");
        };
        assert_eq!(p.pending_upload(), Some(body.as_slice()), "booked before it is handed out");
        // No adaptation: no lift report is due, so the run ends with the update's outcome.
        match run.step(&mut p.sync_engine(), SyncInput::Sent(Ok(())), T0) {
            SyncAction::Done(SyncOutcome::Sent { model_version, resent, .. }) => {
                assert_eq!(model_version, 1);
                assert!(!resent);
            }
            other => panic!("expected the update sent, got {other:?}"),
        }
        assert_eq!(p.pending_upload(), None);
    }

    #[test]
    fn a_failed_download_is_recorded_and_the_run_goes_on_without_a_model() {
        let mut p = open(&MemoryStore::new(), ConsentMode::Full);
        let mut run = SyncRun::new(true, [1; 32], [2; 32]);
        run.step(&mut p.sync_engine(), SyncInput::Start, T0);
        let action = run.step(&mut p.sync_engine(), SyncInput::ModelFetched(Err(network_down())), T0);
        assert_eq!(run.model_refreshed(), Some(false));
        match action {
            SyncAction::Done(SyncOutcome::Skipped { reason, .. }) => assert_eq!(reason, SkipReason::NoSharedModel),
            other => panic!("expected no update without a model, got {other:?}"),
        }
        assert!(p.warnings().iter().any(|w| w.message.contains("could not be downloaded")));
    }

    #[test]
    fn consent_withdrawn_during_the_jitter_sends_nothing() {
        let mut p = open(&MemoryStore::new(), ConsentMode::Full);
        browse_and_click(&mut p, 4, T0);
        let mut run = SyncRun::new(true, [1; 32], [2; 32]);
        run.step(&mut p.sync_engine(), SyncInput::Start, T0);
        let wait = run.step(&mut p.sync_engine(), SyncInput::ModelFetched(Ok(Some(signed(1, &DEFAULT_WEIGHTS)))), T0);
        assert!(matches!(wait, SyncAction::Wait { .. }));
        p.set_consent(ConsentMode::Session, false);
        match run.step(&mut p.sync_engine(), SyncInput::Waited, T0) {
            SyncAction::Done(SyncOutcome::Skipped { reason, .. }) => assert_eq!(reason, SkipReason::NoConsent),
            other => panic!("expected nothing sent, got {other:?}"),
        }
    }

    #[test]
    fn an_answer_to_the_wrong_action_stops_the_run() {
        let mut p = open(&MemoryStore::new(), ConsentMode::Full);
        let mut run = SyncRun::new(true, [1; 32], [2; 32]);
        run.step(&mut p.sync_engine(), SyncInput::Start, T0);
        assert!(matches!(
            run.step(&mut p.sync_engine(), SyncInput::Sent(Ok(())), T0),
            SyncAction::Done(SyncOutcome::Skipped { .. })
        ));
    }
}
