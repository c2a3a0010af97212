use litemap::LiteMap;
use proptest::prelude::*;

use super::*;
use crate::catalog::ItemAttributes;
use crate::profile::stored::{decode, ProfileFormat};
use crate::profile::{
    Affinities, Cart, CatalogCache, HourOfWeek, InterestCounts, RepeatInterest, SessionItem, TimedItem, HOURS_PER_WEEK,
};
use crate::storage::seal_encoded;

/// What serde_json writes through the derives: the reference the hand writer must match.
fn derived(profile: &Profile) -> String {
    serde_json::to_string(profile).unwrap()
}

const FIXTURES: [&str; 2] = [
    include_str!("../../../tests/fixtures/stored/profile_v1.json"),
    include_str!("../../../tests/fixtures/stored/profile_lineage_v1.json"),
];

#[test]
fn the_stored_fixtures_are_written_back_byte_for_byte() {
    for fixture in FIXTURES {
        let decoded = decode(fixture, 1 << 20).unwrap();
        let text = payload_text(&decoded.profile);
        assert_eq!(text, derived(&decoded.profile));
        let recent = decoded.recent.as_deref().unwrap_or_default();
        assert_eq!(seal_encoded::<ProfileFormat>(&text, &decoded.lineage, recent), fixture.trim_end());
    }
}

#[test]
fn an_empty_profile_writes_empty_lists_and_objects() {
    let empty = Profile::default();
    assert_eq!(payload_text(&empty), derived(&empty));
    assert!(payload_text(&empty).contains(r#""cart":{},"catalog":{}"#));
}

/// Texts that need every escape serde_json writes, and some that need none.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z0-9 >-]{0,8}", "[\\x00-\\x1f\"\\\\/\\x7f\u{e9}\u{2028}\u{1f600}a]{0,8}", any::<String>(),]
}

/// Floats of every kind: short decimals, whole numbers, any bit pattern (subnormals, huge
/// exponents, -0.0, NaN and the infinities, which serde_json writes as `null`).
fn any_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-1_000_000i64..1_000_000, 0u32..6).prop_map(|(n, scale)| n as f64 / 10f64.powi(scale as i32)),
        any::<u64>().prop_map(f64::from_bits),
        prop::sample::select(vec![0.0, -0.0, 1.0, 1e16, 1e21, 1e-7, f64::NAN, f64::INFINITY, f64::NEG_INFINITY]),
    ]
}

fn any_key() -> impl Strategy<Value = AttributeKey> {
    prop_oneof![
        any_text().prop_map(AttributeKey::Category),
        any_text().prop_map(AttributeKey::Brand),
        any::<u8>().prop_map(AttributeKey::PriceBand),
        any_text().prop_map(AttributeKey::Tag),
    ]
}

fn any_kind() -> impl Strategy<Value = EventKind> {
    prop::sample::select(vec![
        EventKind::View,
        EventKind::Click,
        EventKind::Impression,
        EventKind::AddToCart,
        EventKind::RemoveFromCart,
        EventKind::Purchase,
        EventKind::Search,
        EventKind::Rating,
        EventKind::WishlistAdd,
        EventKind::WishlistRemove,
        EventKind::Dismiss,
        EventKind::Dwell,
        EventKind::ScrollDepth,
    ])
}

fn map_of<K: Ord, V>(entries: Vec<(K, V)>) -> LiteMap<K, V> {
    let mut map = LiteMap::new();
    for (key, value) in entries {
        map.insert(key, value);
    }
    map
}

fn any_recent() -> impl Strategy<Value = RecentItems> {
    prop::collection::vec((any_text(), any::<u64>()), 0..4)
        .prop_map(|items| RecentItems(items.into_iter().map(|(item_id, at_ms)| TimedItem { item_id, at_ms }).collect()))
}

fn any_cached_item() -> impl Strategy<Value = CachedItem> {
    (
        prop::collection::vec(any_text(), 0..3),
        prop::option::of(any_text()),
        prop::option::of(any_float()),
        prop::collection::vec(any_text(), 0..3),
        any::<u64>(),
    )
        .prop_map(|(category_path, brand, price, tags, last_used_ms)| CachedItem {
            attributes: ItemAttributes { category_path, brand, price, tags },
            last_used_ms,
        })
}

fn any_profile() -> impl Strategy<Value = Profile> {
    let affinities = prop::collection::vec((any_key(), any_float(), any::<u64>()), 0..6).prop_map(|entries| {
        Affinities(map_of(
            entries.into_iter().map(|(k, value, updated_ms)| (k, Affinity { value, updated_ms })).collect(),
        ))
    });
    let session = (any::<u64>(), any::<u64>(), prop::collection::vec((any_text(), any_kind(), any::<u64>()), 0..4))
        .prop_map(|(started_ms, last_activity_ms, items)| SessionState {
            started_ms,
            last_activity_ms,
            items: items.into_iter().map(|(item_id, kind, at_ms)| SessionItem { item_id, kind, at_ms }).collect(),
        });
    let history = (any_recent(), any_recent(), any_recent(), any_recent(), any_recent()).prop_map(
        |(viewed, carted, purchased, dismissed, wishlist)| History { viewed, carted, purchased, dismissed, wishlist },
    );
    let interest = prop::collection::vec((any_text(), any::<u32>(), any::<u64>()), 0..4).prop_map(|entries| {
        InterestCounts(map_of(
            entries.into_iter().map(|(id, count, last_ms)| (id, RepeatInterest { count, last_ms })).collect(),
        ))
    });
    let visits = (any::<[u64; 2]>(), any::<[u32; 3]>(), prop::option::of(any::<u64>()), any_float()).prop_map(
        |([first_seen_ms, last_seen_ms], [visits, sessions, orders], last_order_ms, revenue)| VisitStats {
            first_seen_ms,
            last_seen_ms,
            visits,
            sessions,
            orders,
            last_order_ms,
            revenue,
        },
    );
    let device = prop::sample::select(vec![
        DeviceClass::Unknown,
        DeviceClass::Mobile,
        DeviceClass::Tablet,
        DeviceClass::Desktop,
    ]);
    let hours = prop::collection::vec(any::<u32>(), HOURS_PER_WEEK).prop_map(|counts| {
        let mut hours = [0; HOURS_PER_WEEK];
        hours.copy_from_slice(&counts);
        HourOfWeek(hours)
    });
    let cart = prop::collection::vec((any_text(), any::<u32>()), 0..4).prop_map(|entries| Cart(map_of(entries)));
    let catalog = prop::collection::vec((any_text(), any_cached_item()), 0..4).prop_map(|e| CatalogCache(map_of(e)));
    let counts = any::<[u64; 13]>().prop_map(|c| EventCounts {
        view: c[0],
        click: c[1],
        impression: c[2],
        add_to_cart: c[3],
        remove_from_cart: c[4],
        purchase: c[5],
        search: c[6],
        rating: c[7],
        wishlist_add: c[8],
        wishlist_remove: c[9],
        dismiss: c[10],
        dwell: c[11],
        scroll_depth: c[12],
    });
    (affinities, session, history, interest, visits, device, hours, cart, catalog, counts).prop_map(
        |(affinities, session, history, interest, visits, device, hour_of_week, cart, catalog, event_counts)| Profile {
            affinities,
            session,
            history,
            interest,
            visits,
            device,
            hour_of_week,
            cart,
            catalog,
            event_counts,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn any_profile_is_written_as_serde_json_writes_it(profile in any_profile()) {
        prop_assert_eq!(payload_text(&profile), derived(&profile));
    }
}
