use super::*;
use proptest::prelude::*;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::catalog::ItemAttributes;
use crate::collect::event::{PurchaseLine, TrackEvent};
use crate::config::PersonalizerConfig;
use crate::consent::ConsentMode;
use crate::personalizer::{view_time, Environment, Personalizer};
use crate::storage::MemoryStore;

/// A section as serde wrote it before the export was written by hand.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SerdeSection {
    name: &'static str,
    explanation: &'static str,
    keys: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    stored: Vec<Box<RawValue>>,
}

/// The sections as the serde path built them: each stored value checked by `RawValue`.
fn serde_sections<S: KeyValueStore>(store: &S, keys: &StorageKeys) -> Vec<SerdeSection> {
    let as_json = |raw: String| RawValue::from_string(raw).ok();
    let section = |name, explanation| SerdeSection { name, explanation, keys: Vec::new(), stored: Vec::new() };
    let mut sections: Vec<SerdeSection> =
        SECTIONS.iter().map(|&(name, _, explanation)| section(name, explanation)).collect();
    let mut unexplained = section("unexplained", UNEXPLAINED);
    for key in store.keys().unwrap_or_default().into_iter().filter(|k| keys.owns(k)) {
        let name = keys.name_of(&key);
        let at = section_of(name);
        let section = match at {
            Some(i) => &mut sections[i],
            None => &mut unexplained,
        };
        let raw = store.get(&key).ok().flatten().unwrap_or_default();
        if section.name == "profile" {
            let members = crate::storage::json_reading::object_members(&raw).ok().flatten();
            let recent = members.and_then(|m| m.into_iter().find(|(name, _)| name == "recent"));
            if let Some(recent) = recent.and_then(|(_, recent)| as_json(recent.to_owned())) {
                section.stored.push(recent);
            }
        } else {
            let text = serde_json::to_string(&raw).unwrap_or_default();
            if let Some(value) = as_json(raw).or_else(|| as_json(text)) {
                section.stored.push(value);
            }
        }
        section.keys.push(key);
    }
    if !unexplained.keys.is_empty() {
        sections.push(unexplained);
    }
    sections
}

/// The export as one pretty serializer over everything wrote it before `json_layout`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OnePrettySerializer<'a> {
    format: &'static str,
    version: u32,
    explanation: &'static str,
    exported_at_ms: u64,
    summary: ProfileSummary,
    profile: &'a Profile,
    profile_explanation: &'static str,
    sections: Vec<SerdeSection>,
}

fn reference(p: &Personalizer<MemoryStore>, now: f64) -> String {
    serde_json::to_string_pretty(&OnePrettySerializer {
        format: EXPORT_FORMAT,
        version: 2,
        explanation: EXPORT_EXPLANATION,
        exported_at_ms: view_time(now),
        summary: p.profile_summary(now),
        profile: &p.profile,
        profile_explanation: crate::profile::EXPORT_EXPLANATION,
        sections: serde_sections(&p.ctx.store, &p.ctx.keys),
    })
    .unwrap()
}

fn shoe(price: f64) -> Option<ItemAttributes> {
    Some(ItemAttributes {
        category_path: vec!["Shoes".into(), "Trail \"X\"".into()],
        brand: Some("Summit, {Co}".into()),
        price: Some(price),
        tags: vec!["trail".into(), "wet: yes".into()],
    })
}

fn acme(store: MemoryStore) -> Personalizer<MemoryStore> {
    let config = PersonalizerConfig { shop: "acme".into(), ..PersonalizerConfig::default() };
    Personalizer::open(store, config, Environment::default()).unwrap()
}

/// A shopper with views, a search, a cart and an order, saved.
fn shopped(p: &mut Personalizer<MemoryStore>, mut at: f64) -> f64 {
    p.set_consent(ConsentMode::Full, true);
    for (i, id) in ["a", "b", "c", "ü-ñ"].into_iter().enumerate() {
        at += 45_000.0;
        let event = TrackEvent::View { item_id: id.into(), item: shoe(19.99 + i as f64 * 0.1) };
        p.track(event, at, 10 + i as u32).unwrap();
    }
    let search = TrackEvent::Search { query: "trail \\ shoes".into(), result_ids: vec!["a".into(), "b".into()] };
    p.track(search, at + 1_000.0, 11).unwrap();
    let cart = TrackEvent::AddToCart { item_id: "a".into(), quantity: 2, item: None };
    p.track(cart, at + 2_000.0, 11).unwrap();
    let order = TrackEvent::Purchase {
        items: vec![PurchaseLine { item_id: "a".into(), quantity: 2, price: Some(19.99) }],
        value: 39.98,
    };
    p.track(order, at + 3_000.0, 12).unwrap();
    p.flush(at + 4_000.0).unwrap();
    at + 5_000.5
}

#[test]
fn the_export_is_byte_for_byte_what_one_pretty_serializer_wrote() {
    let mut store = MemoryStore::new();
    // Stored values stand in the export as stored, whitespace and all.
    store.set("shop-personalizer:acme:custom", "{ \"spaced\" : [1, 2.50, {}] }").unwrap();
    store.set("shop-personalizer:acme:note", "not JSON, \"quoted\"").unwrap();
    let mut p = acme(store);
    let at = 1_700_000_000_000.0;
    assert_eq!(p.export_profile(at), reference(&p, at), "an empty profile");
    let now = shopped(&mut p, at);
    let export = p.export_profile(now);
    assert_eq!(export, reference(&p, now));
    assert!(export.contains("{ \"spaced\" : [1, 2.50, {}] }"), "{export}");
    assert!(export.contains(",\n        \"not JSON, \\\"quoted\\\"\"\n      ]"), "{export}");
}

#[test]
fn an_export_without_sections_closes_its_list_as_serde_did() {
    let p = acme(MemoryStore::new());
    let text = export_json(p.profile_summary(0.0), &p.profile, 0, Vec::new());
    assert!(text.ends_with("\"sections\": []\n}"), "{text}");
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["sections"], serde_json::json!([]));
}

/// Stored texts: JSON spaced in any way, damaged JSON, plain text, and profile envelopes with a
/// `recent` member of either kind.
fn stored_text() -> impl Strategy<Value = String> {
    let json = prop_oneof![
        Just("{ \"a\" : [1, 2.50, {}] }".to_owned()),
        Just(" [true,null , \"x\\u00e9\"]\n".to_owned()),
        Just("-0.5e3".to_owned()),
        "\"[a-z\\\\ \"]{0,6}\"",
    ];
    prop_oneof![
        json.clone(),
        "[\\[\\]{}:,\" 0-9a-z\\\\\\x01é-]{0,16}",
        (json.clone(), 0..8usize).prop_map(|(j, cut)| j.chars().take(cut).collect()),
        json.prop_map(|recent| format!("{{\"format\":\"x\",\"recent\": {recent} ,\"payload\":{{}}}}")),
    ]
}

/// Keys under the shop's prefix: of each section, one no section describes, another shop's.
fn stored_key() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        Just("profile".to_owned()),
        Just("adapt".to_owned()),
        Just("model".to_owned()),
        Just("sync".to_owned()),
        "backup:[a-z0-9:]{0,6}",
        "[a-z:]{1,8}",
    ];
    (name, prop::bool::weighted(0.9)).prop_map(|(name, ours)| {
        let shop = if ours { "acme" } else { "other" };
        format!("shop-personalizer:{shop}:{name}")
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_stored_state_is_exported_as_the_serde_path_wrote_it(
        stored in prop::collection::vec((stored_key(), stored_text()), 0..8),
        shopper in any::<bool>(),
    ) {
        let mut store = MemoryStore::new();
        for (key, value) in &stored {
            store.set(key, value).unwrap();
        }
        let mut p = acme(store);
        let now = if shopper { shopped(&mut p, 1_700_000_000_000.0) } else { 1_700_000_000_000.0 };
        prop_assert_eq!(p.export_profile(now), reference(&p, now));
    }
}
