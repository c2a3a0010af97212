//! Tests of the adapter (`adapter.rs`): state round trips, buckets, lift reports, bounds.

use super::*;
use crate::measure::{ItemClass, LiftReportConfig};

#[test]
fn state_round_trips_and_restores() {
    let mut adapter = Adapter::new(AdapterConfig::default(), 99).unwrap();
    let shopper = ShopperState::default();
    adapter.learn_section(SectionKind::Deals, 0, true, &shopper).unwrap();
    adapter.lift_counters_mut().record_session();
    let json = serde_json::to_string(adapter.state()).unwrap();
    let state: AdaptState = serde_json::from_str(&json).unwrap();
    let restored = Adapter::restore(AdapterConfig::default(), state.clone()).unwrap();
    assert_eq!(restored.state(), adapter.state());
    assert_eq!(restored.bucket(), adapter.bucket());
    let future = AdaptState { version: ADAPT_STATE_VERSION + 1, ..state.clone() };
    assert_eq!(Adapter::restore(AdapterConfig::default(), future).unwrap_err(), AdaptError::FutureVersion { found: 2 });
    let bad_draw: AdaptState = serde_json::from_str(&json.replace(r#""draw":"#, r#""draw":7.0,"x":"#)).unwrap();
    assert!(matches!(Adapter::restore(AdapterConfig::default(), bad_draw), Err(AdaptError::BadStoredDraw(_))));
}

#[test]
fn configs_are_checked() {
    let bad = AdapterConfig { holdout_share: 1.5, ..AdapterConfig::default() };
    assert_eq!(Adapter::new(bad, 1).unwrap_err(), AdaptError::BadHoldoutShare(1.5));
    let bad = AdapterConfig { layout: LayoutTuning { hide_below: 0.0, min_evidence: 1 }, ..AdapterConfig::default() };
    assert!(Adapter::new(bad, 1).unwrap_err().to_string().contains("hideBelow"));
    let bad =
        AdapterConfig { bandit: BanditParams { max_arms: 0, ..BanditParams::default() }, ..AdapterConfig::default() };
    assert!(matches!(Adapter::new(bad, 1), Err(AdaptError::Bandit(_))));
}

#[test]
fn a_lift_report_carries_the_bucket_and_resets_the_counters() {
    let config = AdapterConfig { holdout_share: 1.0, ..AdapterConfig::default() };
    let mut adapter = Adapter::new(config, 5).unwrap();
    adapter.lift_counters_mut().record_session();
    adapter.lift_counters_mut().record_order("home", ItemClass::Recommended, 20.0).unwrap();
    let report_config = LiftReportConfig::default().check().unwrap();
    let report = adapter.take_lift_report(&report_config, 77);
    assert_eq!(report.bucket, LiftBucket::Holdout);
    assert_eq!(report.values.len(), report_config.dimension());
    assert_eq!(adapter.state().lift, LiftCounters::default());
    // The sessions coordinate is noised (sd = 10 × z), not the raw count.
    assert_ne!(report.values[0], 1.0);
}

#[test]
fn the_default_holds_out_ten_percent() {
    assert_eq!(AdapterConfig::default().holdout_share, 0.1);
    let config: AdapterConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(config, AdapterConfig::default());
}

#[test]
fn sensitive_categories_never_reach_a_decision() {
    use crate::adapt::offers::{AudienceSpec, OfferContext, OfferSpec};
    let config =
        AdapterConfig { holdout_share: 0.0, sensitive_categories: vec!["health".into()], ..AdapterConfig::default() };
    let mut adapter = Adapter::new(config, 3).unwrap();
    let shopper = ShopperState { current_category: Some("Health > Tests".into()), ..ShopperState::default() };
    let offers = vec![OfferSpec::new("discreet", vec![AudienceSpec::browsing("Health")])];
    let decision = adapter.choose_offer(&offers, &OfferContext { now_ms: 0.0, allow_none: false }, &shopper).unwrap();
    assert_eq!(decision.offer_id, None);
    assert!(decision.skipped[0].diagnostic.contains("audience not met"));
}

#[test]
fn restoring_with_a_smaller_arm_budget_trims_the_least_used() {
    let mut adapter = Adapter::new(AdapterConfig::default(), 4).unwrap();
    let shopper = ShopperState::default();
    for kind in [SectionKind::Deals, SectionKind::NewArrivals, SectionKind::TopInCategory] {
        adapter.learn_section(kind, 0, true, &shopper).unwrap();
    }
    let small =
        AdapterConfig { bandit: BanditParams { max_arms: 2, ..BanditParams::default() }, ..AdapterConfig::default() };
    let restored = Adapter::restore(small, adapter.state().clone()).unwrap();
    let keys: Vec<&str> = restored.state().bandit.arms().iter().map(|a| a.key.as_str()).collect();
    assert_eq!(keys.len(), 2);
    assert!(!keys.contains(&"section:deals"), "the least recently used arm goes first: {keys:?}");
}

#[test]
fn a_full_state_stays_small() {
    let mut adapter = Adapter::new(AdapterConfig::default(), 8).unwrap();
    let shopper = ShopperState::default();
    for i in 0..200 {
        adapter.learn_variant(&[format!("a-long-copy-tag-number-{i}")], i % 2 == 0, &shopper).unwrap();
        adapter.state.offer_history.record(&format!("offer-with-a-long-id-{i}"), f64::from(i));
    }
    let bytes = serde_json::to_string(adapter.state()).unwrap().len();
    assert_eq!(adapter.state().bandit.arms().len(), 64);
    // 64 arms × ~230 bytes + 32 offers × ~60 bytes: well inside a 64 KB profile budget.
    assert!(bytes < 24_000, "state is {bytes} bytes");
}
