//! Recency weighting (`--popularity-half-life`, `--covisit-half-life`): off by default, and off
//! serves exactly the bytes the service served before the flags existed.

use answers::catalogue::CatalogueFormat;
use answers::index::{AnswerIndex, IndexConfig, Inputs};
use answers::sessions::LogFormat;
use answers::HalfLife;
use sha2::{Digest, Sha256};

/// 30 products; the early sessions browse items 0-14, the late ones mostly 15-29, with a few
/// bridges between the halves, so recent and all-time counts disagree.
fn shop() -> (String, String) {
    let mut catalogue = String::new();
    for i in 0..30 {
        let category = ["Shoes", "Coffee", "Books"][i % 3];
        catalogue.push_str(&format!(
            "{{\"id\":\"sku-{i}\",\"title\":\"{category} {i}\",\"categoryPath\":[\"{category}\"],\"inStock\":{}}}\n",
            i != 7
        ));
    }
    let mut log = String::new();
    for s in 0..240usize {
        let base = if s < 160 { 0 } else { 15 };
        let mut items: Vec<String> = (0..4).map(|k| format!("sku-{}", base + (s * 5 + k * 7) % 15)).collect();
        if s % 9 == 0 {
            items.push(format!("sku-{}", (s * 11) % 30));
        }
        log.push_str(&items.join(" "));
        log.push('\n');
    }
    (log, catalogue)
}

fn build(log: &str, catalogue: &str, config: &IndexConfig) -> AnswerIndex {
    let inputs = Inputs { log, log_format: LogFormat::Text, catalogue: Some((catalogue, CatalogueFormat::JsonLines)) };
    AnswerIndex::build(inputs, config).expect("the fixture builds").0
}

/// SHA-256 of every item answer (in id order) and the popular answer, as served.
fn served_digest(index: &AnswerIndex) -> String {
    let mut ids: Vec<&str> = index.item_ids().collect();
    ids.sort_unstable();
    let mut hash = Sha256::new();
    let mut out = Vec::new();
    for id in ids {
        assert!(index.item_answer_json(id, &mut out), "{id}");
        hash.update(id.as_bytes());
        hash.update(&out);
    }
    index.popular_answer_json(&mut out);
    hash.update(&out);
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The digest of the default answers over this fixture, computed with the service as it was
/// before recency weighting existed (main at 48ea273).
const ANSWERS_BEFORE_RECENCY: &str = "96343aa27ee1f698d932e2c812af9fde57b1fdc69ae3884d30b40ddf443b92a6";

#[test]
fn default_answers_are_byte_identical_to_the_answers_before_recency() {
    let (log, catalogue) = shop();
    let index = build(&log, &catalogue, &IndexConfig::default());
    assert_eq!(served_digest(&index), ANSWERS_BEFORE_RECENCY);
}

#[test]
fn recent_views_lead_the_popular_answer_once_popularity_is_weighted() {
    let (log, catalogue) = shop();
    let popular_ids = |index: &AnswerIndex| index.popular_answer().ids;
    let plain = build(&log, &catalogue, &IndexConfig::default());
    // The early half (items 0-14) has twice the sessions, so it leads on plain counts.
    let first: usize = popular_ids(&plain)[0].trim_start_matches("sku-").parse().unwrap();
    assert!(first < 15, "{:?}", popular_ids(&plain));
    let mut config = IndexConfig::default();
    config.server.recency.popularity = HalfLife::new("--popularity-half-life", 0.1).unwrap();
    let recent = build(&log, &catalogue, &config);
    let first: usize = popular_ids(&recent)[0].trim_start_matches("sku-").parse().unwrap();
    assert!(first >= 15, "the late sessions' items lead: {:?}", popular_ids(&recent));
    assert_ne!(served_digest(&recent), served_digest(&plain));
}

#[test]
fn weighted_co_visitation_changes_the_neighbours_and_a_json_log_is_timed_in_days() {
    let (log, catalogue) = shop();
    let plain = build(&log, &catalogue, &IndexConfig::default());
    let mut config = IndexConfig::default();
    config.server.recency.covisit = HalfLife::new("--covisit-half-life", 0.05).unwrap();
    assert_ne!(served_digest(&build(&log, &catalogue, &config)), served_digest(&plain));
    // Two sessions a day apart viewing `a` with `old`, then with `new`: with a half-life of one
    // day the older co-visitation weighs half, so `new` leads `a`'s answer though `old` has more.
    let mut events = String::new();
    for (session, day, other) in [("s1", 0, "old"), ("s2", 0, "old"), ("s3", 0, "old"), ("s4", 2, "new")] {
        for (k, item) in ["a", other].iter().enumerate() {
            let t = day * 86_400 + k as u64;
            events.push_str(&format!(
                "{{\"session\":\"{session}\",\"item\":\"{item}\",\"type\":\"view\",\"timestamp\":{t}}}\n"
            ));
        }
    }
    let timed = |half_life: f64| {
        let mut config = IndexConfig::default();
        config.server.recency.covisit = HalfLife::new("--covisit-half-life", half_life).unwrap();
        let inputs = Inputs { log: &events, log_format: LogFormat::JsonLines, catalogue: None };
        AnswerIndex::build(inputs, &config).unwrap().0.item_answer("a").unwrap().ids
    };
    assert_eq!(timed(0.0)[0], "old", "three co-visitations against one");
    // Two days old at a half-life of one day: 3 × 1/4 < 1.
    assert_eq!(timed(1.0)[0], "new");
}
