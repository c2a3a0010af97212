use proptest::prelude::*;
use serde::Serialize;

use super::*;
use crate::catalog::AttributeKey;
use crate::profile::{DeviceClass, VisitStats};

/// The hand writer's text is serde_json's of the same value.
fn same<T: JsonText + Serialize>(value: &T) -> Result<(), TestCaseError> {
    prop_assert_eq!(value.json_text(), serde_json::to_string(value).unwrap());
    Ok(())
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![any::<f64>(), Just(f64::NAN), Just(f64::NEG_INFINITY), Just(-0.0), (0u32..100).prop_map(f64::from)]
}

fn key() -> impl Strategy<Value = AttributeKey> {
    prop_oneof![
        any::<String>().prop_map(AttributeKey::Category),
        any::<String>().prop_map(AttributeKey::Brand),
        any::<u8>().prop_map(AttributeKey::PriceBand),
        "[a-z\"\\\\\\n]{0,6}".prop_map(AttributeKey::Tag),
    ]
}

fn device() -> impl Strategy<Value = DeviceClass> {
    prop_oneof![
        Just(DeviceClass::Unknown),
        Just(DeviceClass::Mobile),
        Just(DeviceClass::Tablet),
        Just(DeviceClass::Desktop)
    ]
}

fn interests() -> impl Strategy<Value = Vec<InterestSummary>> {
    proptest::collection::vec(
        (key(), any::<String>(), float()).prop_map(|(key, label, weight)| InterestSummary { key, label, weight }),
        0..4,
    )
}

fn ledger() -> impl Strategy<Value = LedgerSummary> {
    let floats = proptest::collection::vec(float(), 10);
    let wholes = (any::<u64>(), any::<u32>(), any::<u32>(), any::<u64>(), any::<u64>(), any::<u64>());
    let period = (any::<u64>(), any::<u32>(), any::<u32>(), float()).prop_map(|(start, updates, lift, epsilon)| {
        PeriodSummary { period_start_unix_seconds: start, updates, lift_reports: lift, epsilon }
    });
    (any::<String>(), floats, wholes, proptest::collection::vec(period, 0..3)).prop_map(
        |(accounting, f, w, history)| LedgerSummary {
            accounting,
            noise_multiplier: f[0],
            clip_bound: f[1],
            delta: f[2],
            period_seconds: w.0,
            epsilon_per_update: f[3],
            epsilon_per_lift_report: f[4],
            period_budget_epsilon: f[5],
            current_period_updates: w.1,
            current_period_lift_reports: w.2,
            current_period_epsilon: f[6],
            current_period_remaining_epsilon: f[7],
            current_period_ends_unix_seconds: w.3,
            lifetime_updates: w.4,
            lifetime_lift_reports: w.5,
            lifetime_epsilon: f[8] + f[9],
            history,
        },
    )
}

fn summary() -> impl Strategy<Value = ProfileSummary> {
    let visits = (any::<[u64; 2]>(), any::<[u32; 3]>(), proptest::option::of(any::<u64>()), float()).prop_map(
        |(seen, counts, last_order_ms, revenue)| VisitStats {
            first_seen_ms: seen[0],
            last_seen_ms: seen[1],
            visits: counts[0],
            sessions: counts[1],
            orders: counts[2],
            last_order_ms,
            revenue,
        },
    );
    let segment = prop_oneof![Just(Segment::New), Just(Segment::Returning), Just(Segment::Loyal)];
    let kept = (any::<[usize; 10]>(), any::<u64>()).prop_map(|(c, events_recorded)| KeptCounts {
        interests: c[0],
        session_items: c[1],
        viewed: c[2],
        carted: c[3],
        purchased: c[4],
        dismissed: c[5],
        wishlist: c[6],
        cart_items: c[7],
        remembered_items: c[8],
        items_with_repeat_interest: c[9],
        events_recorded,
    });
    let parts = (interests(), interests(), visits, segment, device(), proptest::option::of(any::<u8>()), kept);
    (parts, proptest::option::of(ledger())).prop_map(
        |((top_interests, avoided, visits, segment, device, busiest_hour_of_week, kept), privacy_ledger)| {
            ProfileSummary {
                top_interests,
                avoided,
                visits,
                segment,
                device,
                busiest_hour_of_week,
                kept,
                privacy_ledger,
            }
        },
    )
}

fn shopper() -> impl Strategy<Value = ShopperState> {
    let segment = prop_oneof![Just(VisitSegment::New), Just(VisitSegment::Returning), Just(VisitSegment::Loyal)];
    let interest = (key(), any::<f32>()).prop_map(|(key, weight)| Interest { key, weight });
    let counts = (any::<u32>(), any::<u32>(), proptest::option::of(float()), any::<u32>(), any::<bool>());
    let rest = (
        proptest::option::of(any::<String>()),
        proptest::collection::vec(interest, 0..4),
        proptest::collection::vec(any::<f32>(), 0..8),
        device(),
    );
    (segment, counts, rest).prop_map(|(segment, c, r)| ShopperState {
        segment,
        visits: c.0,
        orders: c.1,
        hours_since_last_order: c.2,
        cart_items: c.3,
        cart_abandoned: c.4,
        current_category: r.0,
        top_interests: r.1,
        hour_of_week_activity: r.2,
        device: r.3,
    })
}

#[test]
fn results_have_the_js_shape() {
    // By hand, not from serde: what the JS reads (`f32` widened: 0.3f32 is 0.30000001192092896).
    let shopper = ShopperState {
        top_interests: vec![Interest { key: AttributeKey::PriceBand(3), weight: 0.3 }],
        hour_of_week_activity: vec![0.5],
        ..ShopperState::default()
    };
    assert_eq!(
        shopper.json_text(),
        r#"{"segment":"new","visits":0,"orders":0,"cartItems":0,"cartAbandoned":false,"topInterests":[{"key":{"kind":"priceBand","value":3},"weight":0.30000001192092896}],"hourOfWeekActivity":[0.5],"device":"unknown"}"#
    );
}

#[test]
fn a_real_profiles_summary_is_written_as_serde_json_writes_it() {
    let mut profile = crate::profile::Profile::default();
    profile.visits.last_order_ms = Some(5);
    same(&profile.summary(1_000, 1e9)).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_summary_is_written_as_serde_json_writes_it(summary in summary()) {
        same(&summary)?;
    }

    #[test]
    fn any_shopper_is_written_as_serde_json_writes_it(shopper in shopper()) {
        same(&shopper)?;
    }
}
