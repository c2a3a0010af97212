use proptest::prelude::*;

use super::*;
use crate::config::ValidConfig;
use crate::profile::Profile;
use crate::storage::json_reading::parse;

const T0: u64 = 1_700_000_000_000;

fn attrs(n: u8) -> ItemAttributes {
    ItemAttributes {
        category_path: vec!["Shoes".into(), format!("Kind \"{n}\" ü")],
        brand: (n % 2 == 0).then(|| "Acme".into()),
        price: (n % 3 == 0).then_some(f64::from(n) * 3.7),
        tags: if n % 4 == 0 { vec!["sale".into()] } else { vec![] },
    }
}

fn any_event() -> impl Strategy<Value = TrackEvent> {
    let id = "[a-z]{1,3}-[0-9]{1,2}";
    prop_oneof![
        id.prop_map(|item_id| TrackEvent::View { item_id, item: None }),
        (id, any::<Option<u32>>()).prop_map(|(item_id, position)| TrackEvent::Click {
            item_id,
            placement: Some("home".into()),
            position,
            item: None
        }),
        proptest::collection::vec(id, 1..4).prop_map(|item_ids| TrackEvent::Impression {
            placement: "home".into(),
            item_ids,
            positions: None
        }),
        (id, 1u32..=10_000).prop_map(|(item_id, quantity)| TrackEvent::AddToCart { item_id, quantity, item: None }),
        (id, 1u32..=10_000).prop_map(|(item_id, quantity)| TrackEvent::RemoveFromCart { item_id, quantity }),
        (proptest::collection::vec(id, 1..4), 0.0f64..1e6).prop_map(|(ids, value)| TrackEvent::Purchase {
            items: ids.into_iter().map(|item_id| PurchaseLine { item_id, quantity: 1, price: None }).collect(),
            value
        }),
        proptest::collection::vec(id, 0..6)
            .prop_map(|result_ids| TrackEvent::Search { query: "shoes".into(), result_ids }),
        (id, 1u8..=5).prop_map(|(item_id, rating)| TrackEvent::Rating { item_id, rating }),
        id.prop_map(|item_id| TrackEvent::WishlistAdd { item_id }),
        id.prop_map(|item_id| TrackEvent::WishlistRemove { item_id }),
        id.prop_map(|item_id| TrackEvent::Dismiss { item_id }),
        (id, 0.0f64..=MAX_DWELL_MS).prop_map(|(item_id, ms)| TrackEvent::Dwell { item_id, ms }),
        (proptest::option::of(id), 0.0f64..=1.0)
            .prop_map(|(item_id, depth)| TrackEvent::ScrollDepth { item_id, depth }),
    ]
}

fn any_change() -> impl Strategy<Value = ProfileChange> {
    let device = prop_oneof![
        Just(None),
        Just(Some(DeviceClass::Mobile)),
        Just(Some(DeviceClass::Desktop)),
        Just(Some(DeviceClass::Unknown))
    ];
    let recorded =
        (any_event(), 0u64..1 << 44, 0u8..168, device, proptest::collection::vec(("[a-z]-[0-9]", 0u8..9), 0..3))
            .prop_map(|(event, at_ms, hour_of_week, visit_device, attributed)| {
                let attributes = attributed.into_iter().map(|(id, n)| (id, attrs(n))).collect();
                ProfileChange::Record(RecordedEvent { event, at_ms, hour_of_week, attributes, visit_device })
            });
    prop_oneof![
        8 => recorded,
        1 => "[A-Z][a-z]{0,5}".prop_map(|c| ProfileChange::RemoveInterest(AttributeKey::Category(c))),
        1 => (0u8..12).prop_map(|band| ProfileChange::RemoveInterest(AttributeKey::PriceBand(band))),
        1 => "[a-z]-[0-9]".prop_map(ProfileChange::ForgetItem),
    ]
}

fn round_trip(change: &ProfileChange) -> Result<ProfileChange, TreeError> {
    let mut text = String::new();
    write_change(change, &mut text);
    read_change(&parse(&text).expect("the written text is JSON"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// What matters is that the change read back applies exactly as the recorded one (the fields
    /// left out are ones `apply` never reads), on any profile.
    #[test]
    fn a_change_read_back_applies_as_the_recorded_one(before in proptest::collection::vec(any_change(), 0..8), change in any_change()) {
        let config = ValidConfig::default();
        let mut profile = Profile::default();
        for earlier in &before {
            profile.apply(earlier, &config);
        }
        let back = round_trip(&change).unwrap();
        let (mut original, mut carried) = (profile.clone(), profile);
        original.apply(&change, &config);
        carried.apply(&back, &config);
        prop_assert_eq!(original, carried);
        // And it writes the same text again.
        prop_assert_eq!(round_trip(&back).unwrap(), back);
    }
}

#[test]
fn a_view_reads_as_documented() {
    let text = r#"["view",1700000000000,36,"mobile",[["sku-1",{"categoryPath":[],"brand":"Acme","tags":[]}]],"sku-1"]"#;
    let change = read_change(&parse(text).unwrap()).unwrap();
    let ProfileChange::Record(recorded) = &change else { panic!("{change:?}") };
    assert_eq!(recorded.event, TrackEvent::View { item_id: "sku-1".into(), item: None });
    assert_eq!((recorded.at_ms, recorded.hour_of_week, recorded.visit_device), (T0, 36, Some(DeviceClass::Mobile)));
    assert_eq!(recorded.attributes[0].1.brand.as_deref(), Some("Acme"));
    let mut again = String::new();
    write_change(&change, &mut again);
    assert_eq!(again, text);
}

#[test]
fn damaged_changes_are_refused_with_a_reason() {
    let cases = [
        (r#"{"view":1}"#, "expected a change array"),
        (r#"["view",1,2]"#, "missing entries"),
        (r#"["view",1,168,null,[],"a"]"#, "not below 168"),
        (r#"["teleport",1,2,null,[],"a"]"#, "unknown change kind"),
        (r#"["rating",1,2,null,[],"a",9]"#, "rating is out of range"),
        (r#"["rating",1,2,null,[],"a",2.5]"#, "rating is out of range"),
        (r#"["addToCart",1,2,null,[],"a",0]"#, "quantity is out of range"),
        (r#"["addToCart",1,2,null,[],"a"]"#, "quantity is out of range"),
        (r#"["dwell",1,2,null,[],"a",-5]"#, "ms is out of range"),
        (r#"["scrollDepth",1,2,null,[],null,1.5]"#, "depth is out of range"),
        (r#"["purchase",1,2,null,[],["a"]]"#, "value is out of range"),
        (r#"["view",1,2,"tv",[],"a"]"#, "unknown variant"),
        (r#"["view",1,2,null,[["a"]],"a"]"#, "[id, attributes] pair"),
        (r#"["view",1,2,null,[]]"#, "missing its item"),
        (r#"["view",-1,2,null,[],"a"]"#, "a whole number"),
        (r#"["forgetItem"]"#, "missing entries"),
    ];
    for (text, expected) in cases {
        let error = read_change(&parse(text).unwrap()).unwrap_err().to_string();
        assert!(error.contains(expected), "{text}: {error}");
    }
}

proptest! {
    /// The hand-written JSON is what serde_json reads back, for any text and attributes.
    #[test]
    fn texts_and_attributes_read_back_exactly(text in "\\PC*|[\"\\\\\u{0}-\u{1f}a-z]{0,12}", price in proptest::option::of(-1e12f64..1e12)) {
        let mut out = String::new();
        push_text(&mut out, &text);
        prop_assert_eq!(serde_json::from_str::<String>(&out).unwrap(), text.clone());
        let attributes = ItemAttributes { category_path: vec![text.clone()], brand: Some(text.clone()), price, tags: vec![text] };
        let mut out = String::new();
        write_attributes(&attributes, &mut out);
        prop_assert_eq!(serde_json::from_str::<ItemAttributes>(&out).unwrap(), attributes);
    }
}
