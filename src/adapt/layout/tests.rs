use super::*;
use crate::adapt::adapter::{Adapter, AdapterConfig};
use crate::adapt::bandit::BanditParams;
use crate::profile::shopper_state::VisitSegment;
use proptest::prelude::*;

fn personalized(seed: u64) -> Adapter {
    Adapter::new(AdapterConfig { holdout_share: 0.0, ..AdapterConfig::default() }, seed).unwrap()
}

fn shopper() -> ShopperState {
    ShopperState { segment: VisitSegment::Returning, visits: 3, ..ShopperState::default() }
}

fn page() -> Vec<SectionSpec> {
    vec![
        SectionSpec::new("for-you", SectionKind::RecommendedForYou),
        SectionSpec::new("deals", SectionKind::Deals),
        SectionSpec::new("new", SectionKind::NewArrivals),
        SectionSpec::new("continue", SectionKind::ContinueShopping),
    ]
}

fn ids(decision: &LayoutDecision) -> Vec<&str> {
    decision.sections.iter().map(|s| s.id.as_str()).collect()
}

#[test]
fn pinned_and_required_sections_hold() {
    let mut adapter = personalized(1);
    let mut sections = page();
    sections[2] = SectionSpec::new("new", SectionKind::NewArrivals).required().at_positions(0, 0);
    sections[3].required = true;
    sections[3].max_position = Some(1);
    for _ in 0..50 {
        let layout = adapter
            .choose_layout(&sections, &LayoutOptions { max_sections: 3, ..LayoutOptions::default() }, &shopper())
            .unwrap();
        assert_eq!(ids(&layout)[..2], ["new", "continue"]);
        assert_eq!(layout.sections.len() + layout.hidden.len(), 4);
        assert!(layout.sections.len() <= 3);
        assert_eq!(layout.sections[0].diagnostic, "pinned to position 0 by the shop");
        assert_eq!(layout.sections[0].code, DecisionCode::ShopRule);
        assert!(layout.propensity > 0.0 && layout.propensity <= 1.0);
    }
}

#[test]
fn contradictions_name_what_to_fix() {
    let mut adapter = personalized(2);
    let options = LayoutOptions::default();
    let both_first = vec![
        SectionSpec::new("a", SectionKind::Deals).required().at_positions(0, 0),
        SectionSpec::new("b", SectionKind::NewArrivals).required().at_positions(0, 0),
        SectionSpec::new("c", SectionKind::TopInCategory),
    ];
    let err = adapter.choose_layout(&both_first, &options, &shopper()).unwrap_err();
    assert_eq!(err, LayoutError::Overbooked { ids: vec!["a".into(), "b".into()], first: 0, last: 0, room: 1 });
    assert!(err.to_string().contains("make one optional"), "{err}");

    let mut inverted = page();
    inverted[1] = SectionSpec::new("deals", SectionKind::Deals).at_positions(3, 1);
    let err = adapter.choose_layout(&inverted, &options, &shopper()).unwrap_err();
    assert_eq!(err, LayoutError::MinAfterMax { id: "deals".into(), min: 3, max: 1 });

    let all_required: Vec<_> = page().into_iter().map(SectionSpec::required).collect();
    let err = adapter
        .choose_layout(&all_required, &LayoutOptions { max_sections: 2, ..options.clone() }, &shopper())
        .unwrap_err();
    assert_eq!(err, LayoutError::TooManyRequired { required: 4, slots: 2 });

    let mut deep = page();
    deep[0] = SectionSpec::new("for-you", SectionKind::RecommendedForYou).required().at_positions(5, 9);
    let err = adapter.choose_layout(&deep, &options, &shopper()).unwrap_err();
    assert_eq!(err, LayoutError::PositionBeyondPage { id: "for-you".into(), min: 5, slots: 4 });

    let starved = vec![
        SectionSpec::new("a", SectionKind::Deals).required().at_positions(2, 2),
        SectionSpec::new("b", SectionKind::NewArrivals).at_positions(0, 0),
        SectionSpec::new("c", SectionKind::TopInCategory).at_positions(0, 0),
    ];
    let err = adapter.choose_layout(&starved, &options, &shopper()).unwrap_err();
    assert_eq!(err, LayoutError::NotEnoughFillers { id: "a".into(), min: 2 });

    assert_eq!(adapter.choose_layout(&[], &options, &shopper()).unwrap_err(), LayoutError::NoSections);
    let mut dup = page();
    dup[1].id = "for-you".into();
    assert_eq!(
        adapter.choose_layout(&dup, &options, &shopper()).unwrap_err(),
        LayoutError::DuplicateId("for-you".into())
    );
    let mut empty = page();
    empty[2].id = " ".into();
    assert_eq!(adapter.choose_layout(&empty, &options, &shopper()).unwrap_err(), LayoutError::EmptyId(2));
    let none = LayoutOptions { max_sections: 0, ..options };
    assert_eq!(adapter.choose_layout(&page(), &none, &shopper()).unwrap_err(), LayoutError::NoSlots);
}

#[test]
fn fillers_make_room_for_a_deep_required_section() {
    let mut adapter = personalized(3);
    let sections = vec![
        SectionSpec::new("pinned", SectionKind::Deals).required().at_positions(2, 2),
        SectionSpec::new("x", SectionKind::NewArrivals),
        SectionSpec::new("y", SectionKind::TopInCategory),
    ];
    let layout = adapter.choose_layout(&sections, &LayoutOptions::default(), &shopper()).unwrap();
    assert_eq!(layout.sections.len(), 3);
    assert_eq!(layout.sections[2].id, "pinned");
}

#[test]
fn learns_which_sections_this_shopper_uses() {
    let mut adapter = personalized(4);
    let me = shopper();
    for _ in 0..60 {
        adapter.learn_section(SectionKind::Deals, 2, true, &me).unwrap();
        adapter.learn_section(SectionKind::NewArrivals, 0, false, &me).unwrap();
        adapter.learn_section(SectionKind::RecommendedForYou, 1, false, &me).unwrap();
        adapter.learn_section(SectionKind::ContinueShopping, 1, false, &me).unwrap();
    }
    let mut deals_first = 0;
    let mut new_hidden = 0;
    for _ in 0..100 {
        let layout = adapter.choose_layout(&page(), &LayoutOptions::default(), &me).unwrap();
        deals_first += usize::from(layout.sections[0].id == "deals");
        new_hidden += usize::from(layout.hidden.iter().any(|h| h.id == "new"));
    }
    assert!(deals_first >= 85, "deals first {deals_first}/100");
    assert!(new_hidden >= 85, "new arrivals hidden {new_hidden}/100");
    let layout = adapter.choose_layout(&page(), &LayoutOptions::default(), &me).unwrap();
    if let Some(hidden) = layout.hidden.iter().find(|h| h.id == "new") {
        assert!(hidden.diagnostic.contains("rarely engages with new arrivals"), "{}", hidden.diagnostic);
        assert_eq!(
            (hidden.code, hidden.reason.as_str()),
            (DecisionCode::RarelyEngages, "Hidden because you rarely look at it")
        );
    }
    let layout = adapter.choose_layout(&page(), &LayoutOptions::default(), &me).unwrap();
    assert!(layout.sections[0].diagnostic.contains("deals"), "{}", layout.sections[0].diagnostic);
    assert!(!layout.sections[0].reason.contains('%'), "no rates for shoppers: {}", layout.sections[0].reason);
}

#[test]
fn density_follows_engagement_once_known() {
    let mut adapter = personalized(5);
    let me = shopper();
    let first = adapter.choose_layout(&page(), &LayoutOptions::default(), &me).unwrap();
    assert!(first.density_diagnostic.contains("default") || first.density_diagnostic.contains("exploring"));
    assert!(matches!(first.density_code, DecisionCode::Learning | DecisionCode::Exploring));
    for _ in 0..80 {
        adapter.learn_density(Density::List, true, &me).unwrap();
        adapter.learn_density(Density::Grid, false, &me).unwrap();
    }
    let lists = (0..100)
        .filter(|_| adapter.choose_layout(&page(), &LayoutOptions::default(), &me).unwrap().density == Density::List)
        .count();
    assert!(lists >= 90, "list chosen {lists}/100");
}

#[test]
fn holdout_gets_the_shop_order_and_default_density() {
    let config = AdapterConfig { holdout_share: 1.0, ..AdapterConfig::default() };
    let mut adapter = Adapter::new(config, 6).unwrap();
    let options = LayoutOptions { max_sections: 3, default_density: Density::List };
    let layout = adapter.choose_layout(&page(), &options, &shopper()).unwrap();
    assert_eq!(ids(&layout), ["for-you", "deals", "new"]);
    assert_eq!(layout.hidden[0].diagnostic, "no room within the page's 3 sections and the position constraints");
    assert_eq!(
        (layout.hidden[0].code, layout.hidden[0].reason.as_str()),
        (DecisionCode::NoRoom, "No room on this page")
    );
    assert_eq!(layout.density, Density::List);
    assert!(!layout.personalized);
    assert_eq!(layout.propensity, 1.0);
}

#[test]
fn holdout_shows_every_section_that_fits_required_or_not() {
    let config = AdapterConfig { holdout_share: 1.0, ..AdapterConfig::default() };
    let mut adapter = Adapter::new(config, 7).unwrap();
    let mut sections = page();
    sections[0].required = true;
    sections[3].required = true;
    let layout = adapter.choose_layout(&sections, &LayoutOptions::default(), &shopper()).unwrap();
    assert_eq!(ids(&layout), ["for-you", "deals", "new", "continue"]);
}

/// True when some arrangement satisfies every constraint (brute force over subsets and orders).
fn feasible(sections: &[SectionSpec], slots: usize) -> bool {
    largest_feasible(sections, slots).is_some()
}

/// The most sections any valid arrangement shows (brute force).
fn largest_feasible(sections: &[SectionSpec], slots: usize) -> Option<usize> {
    let n = sections.len();
    (0u32..(1 << n))
        .filter(|&mask| {
            let chosen: Vec<usize> = (0..n).filter(|i| mask & (1 << i) != 0).collect();
            if chosen.is_empty()
                || chosen.len() > slots
                || sections.iter().enumerate().any(|(i, s)| s.required && !chosen.contains(&i))
            {
                return false;
            }
            permutations(&chosen).iter().any(|order| {
                order.iter().enumerate().all(|(p, &i)| {
                    let s = &sections[i];
                    s.min_position.unwrap_or(0) as usize <= p && p <= s.max_position.unwrap_or(u32::MAX) as usize
                })
            })
        })
        .map(|mask| mask.count_ones() as usize)
        .max()
}

fn permutations(items: &[usize]) -> Vec<Vec<usize>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for k in 0..items.len() {
        let mut rest = items.to_vec();
        let head = rest.remove(k);
        for mut tail in permutations(&rest) {
            tail.insert(0, head);
            out.push(tail);
        }
    }
    out
}

fn arb_sections() -> impl Strategy<Value = Vec<SectionSpec>> {
    let kinds = prop_oneof![
        Just(SectionKind::RecommendedForYou),
        Just(SectionKind::Deals),
        Just(SectionKind::NewArrivals),
        Just(SectionKind::TopInCategory),
    ];
    proptest::collection::vec(
        (kinds, any::<bool>(), proptest::option::of(0u32..5), proptest::option::of(0u32..5)),
        1..6,
    )
    .prop_map(|raw| {
        raw.into_iter()
            .enumerate()
            .map(|(i, (kind, required, min, max))| {
                let (min, max) = match (min, max) {
                    (Some(a), Some(b)) if a > b => (Some(b), Some(a)),
                    other => other,
                };
                SectionSpec { id: format!("s{i}"), kind, required, min_position: min, max_position: max }
            })
            .collect()
    })
}

#[test]
fn sections_of_one_kind_share_one_draw_so_noise_never_hides_one_of_them() {
    // Found by the property test below: two "top in category" sections, a kind the shopper
    // never engaged with in 20 views, used to get two independent Thompson draws, and one was
    // hidden for being below `hideBelow` times the other's draw.
    let sections = vec![
        SectionSpec::new("top-running", SectionKind::TopInCategory),
        SectionSpec::new("top-trail", SectionKind::TopInCategory),
    ];
    for seed in [7415643176826057145, 119436816669089667, 1, 2, 3, 4, 5, 6, 7, 8] {
        let mut adapter = personalized(seed);
        for k in 0..20 {
            adapter.learn_section(SectionKind::TopInCategory, k % 3, false, &shopper()).unwrap();
        }
        let options = LayoutOptions { max_sections: 2, ..LayoutOptions::default() };
        let layout = adapter.choose_layout(&sections, &options, &shopper()).unwrap();
        assert_eq!(layout.sections.len(), 2, "seed {seed}: {layout:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn constraints_always_hold_and_errors_only_when_impossible(
        sections in arb_sections(),
        slots in 1u32..6,
        seed in any::<u64>(),
        holdout in any::<bool>(),
        engaged in proptest::collection::vec(any::<bool>(), 0..30),
    ) {
        let config = AdapterConfig { holdout_share: if holdout { 1.0 } else { 0.0 },
            bandit: BanditParams { propensity_draws: 8, ..BanditParams::default() }, ..AdapterConfig::default() };
        let mut adapter = Adapter::new(config, seed).unwrap();
        for (k, e) in engaged.iter().enumerate() {
            adapter.learn_section(sections[k % sections.len()].kind, k as u32 % 3, *e, &shopper()).unwrap();
        }
        let options = LayoutOptions { max_sections: slots, ..LayoutOptions::default() };
        match adapter.choose_layout(&sections, &options, &shopper()) {
            Ok(layout) => {
                prop_assert!(feasible(&sections, slots as usize));
                // With too little evidence to hide anything, every section that fits is shown. A
                // kind that two sections share can reach `minEvidence` views within the 29
                // events: then hiding it is the rule working, and only the bounds below hold.
                let views = |kind| (0..engaged.len()).filter(|k| sections[k % sections.len()].kind == kind).count();
                let min_evidence = LayoutTuning::default().min_evidence as usize;
                if sections.iter().all(|s| views(s.kind) < min_evidence) {
                    prop_assert_eq!(Some(layout.sections.len()), largest_feasible(&sections, slots as usize));
                }
                prop_assert!(layout.sections.len() <= slots as usize);
                prop_assert_eq!(layout.sections.len() + layout.hidden.len(), sections.len());
                for (p, placed) in layout.sections.iter().enumerate() {
                    prop_assert_eq!(placed.position as usize, p);
                    let spec = sections.iter().find(|s| s.id == placed.id).unwrap();
                    prop_assert!(spec.min_position.unwrap_or(0) as usize <= p);
                    prop_assert!(p <= spec.max_position.unwrap_or(u32::MAX) as usize);
                }
                for spec in sections.iter().filter(|s| s.required) {
                    prop_assert!(layout.sections.iter().any(|p| p.id == spec.id), "required {} hidden", spec.id);
                }
                prop_assert!(layout.propensity > 0.0 && layout.propensity <= 1.0);
            }
            Err(err) => {
                prop_assert!(!feasible(&sections, slots as usize), "refused a feasible page: {}", err);
                prop_assert!(!err.to_string().is_empty());
            }
        }
    }

    #[test]
    fn same_seed_same_layout(sections in arb_sections(), seed in any::<u64>()) {
        let run = || personalized(seed).choose_layout(&sections, &LayoutOptions::default(), &shopper());
        prop_assert_eq!(run(), run());
    }
}

#[test]
fn the_closed_loop_learns_a_shoppers_taste() {
    // A shopper who clicks deals 40% of the time they see them and anything else 5%, less when
    // further down the page; the device chooses, observes and learns.
    let mut adapter = personalized(21);
    let me = shopper();
    let mut rng = crate::measure::gaussian::decision_rng(99, 0);
    let mut deals_first_late = 0;
    for visit in 0..300 {
        let layout = adapter.choose_layout(&page(), &LayoutOptions::default(), &me).unwrap();
        for placed in &layout.sections {
            let base = if placed.kind == SectionKind::Deals { 0.4 } else { 0.05 };
            let seen = 1.0 / (f64::from(placed.position) + 1.0).sqrt();
            let engaged = rand::RngExt::random::<f64>(&mut rng) < base * seen;
            adapter.learn_section(placed.kind, placed.position, engaged, &me).unwrap();
        }
        if visit >= 200 {
            deals_first_late += usize::from(layout.sections[0].kind == SectionKind::Deals);
        }
    }
    assert!(deals_first_late >= 85, "deals first in {deals_first_late} of the last 100 visits");
}
