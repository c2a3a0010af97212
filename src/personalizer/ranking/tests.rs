//! Ranking through the engine, natively over the in-memory store.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::catalog::ItemAttributes;
use crate::config::PersonalizerConfig;
use crate::consent::ConsentMode;
use crate::personalizer::{Environment, TrackOutcome};
use crate::storage::MemoryStore;

const T0: f64 = 1_700_000_000_000.0;
const MODEL_KEY: &str = "shop-personalizer:acme:model";
const DIM: usize = 8;

fn open(store: &MemoryStore) -> Personalizer<MemoryStore> {
    let config = PersonalizerConfig { shop: "acme".into(), ..PersonalizerConfig::default() };
    Personalizer::open(store.clone(), config, Environment::default()).expect("valid config")
}

/// A server answer of `n` candidates with seeded embeddings, two categories and popularity.
struct Answer {
    ids: Vec<String>,
    scores: Vec<f32>,
    titles: Vec<String>,
    popularity: Vec<f32>,
    attributes: Vec<ItemAttributes>,
    embeddings: Vec<f32>,
}

impl Answer {
    fn new(n: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let ids = (0..n).map(|i| format!("sku-{i}")).collect();
        let scores = (0..n).map(|i| 1.0 - i as f32 / n as f32).collect();
        let titles = (0..n).map(|i| format!("Item {i}")).collect();
        let popularity = (0..n).map(|_| rng.random::<f32>() * 100.0).collect();
        let attributes = (0..n)
            .map(|i| ItemAttributes {
                category_path: vec![if i % 2 == 0 { "Shoes" } else { "Coffee" }.into()],
                brand: Some(format!("Brand {}", i % 3)),
                price: Some(10.0 + i as f64),
                tags: vec![],
            })
            .collect();
        let embeddings = (0..n * DIM).map(|_| rng.random::<f32>() - 0.5).collect();
        Answer { ids, scores, titles, popularity, attributes, embeddings }
    }

    fn columns(&self) -> AnswerColumns<'_> {
        AnswerColumns {
            ids: &self.ids,
            scores: Some(&self.scores),
            titles: Some(&self.titles),
            popularity: Some(&self.popularity),
            attributes: Some(&self.attributes),
            embeddings: Some(&self.embeddings),
            ..AnswerColumns::default()
        }
    }
}

fn ids(list: &RankedList) -> Vec<&str> {
    list.items.iter().map(|i| i.id.as_str()).collect()
}

fn click(p: &mut Personalizer<MemoryStore>, id: &str, at: f64) {
    let event = TrackEvent::Click { item_id: id.into(), placement: Some("home".into()), position: None, item: None };
    assert!(matches!(p.track(event, at, 0), Ok(TrackOutcome::Recorded { .. })), "the click is recorded");
}

#[test]
fn a_registered_answer_ranks_with_reasons_and_respects_the_page() {
    let mut p = open(&MemoryStore::new());
    p.set_consent(ConsentMode::Session, false);
    let answer = Answer::new(12, 1);
    let handle = p.register_candidates(&answer.columns()).expect("a valid answer");
    let context = RankContext {
        placement: Placement::Product,
        current_item: Some("sku-0".into()),
        limit: 5,
        ..RankContext::default()
    };
    let list = p.rank(handle, &context, T0).expect("ranked");
    assert_eq!(list.items.len(), 5);
    assert!(!ids(&list).contains(&"sku-0"), "the page's own item is not recommended on its page");
    assert!(list.items.windows(2).all(|w| w[0].score >= w[1].score), "best first without rules or diversity");
    assert!(list.items.iter().all(|i| !i.reason.is_empty() && i.title.is_some() && !i.from_session));
    assert!((list.propensity - 1.0).abs() < 1e-12 && !list.explored, "no exploration unless asked");
    assert_eq!(
        p.rank(handle, &context, T0).map(|l| ids(&l).join(",")),
        Ok(ids(&list).join(",")),
        "same input, same order"
    );
}

#[test]
fn search_results_are_reordered_never_dropped() {
    let mut p = open(&MemoryStore::new());
    p.set_consent(ConsentMode::Session, false);
    let answer = Answer::new(30, 2);
    let handle = p.register_candidates(&answer.columns()).expect("valid");
    let context =
        RankContext { placement: Placement::Search, query: Some("shoes".into()), limit: 5, ..RankContext::default() };
    let list = p.rank(handle, &context, T0).expect("ranked");
    let mut got: Vec<&str> = ids(&list);
    got.sort_unstable();
    let mut sent: Vec<&str> = answer.ids.iter().map(String::as_str).collect();
    sent.sort_unstable();
    assert_eq!(got, sent, "every result exactly once, whatever the limit");
}

#[test]
fn bad_answers_are_refused_and_keep_nothing() {
    let mut p = open(&MemoryStore::new());
    let answer = Answer::new(4, 3);
    let mut dup = answer.ids.clone();
    dup[3] = dup[0].clone();
    let nan = [1.0, f32::NAN, 0.5, 0.2];
    let short = [1.0, 0.5];
    let odd_embeddings = vec![0.1f32; 4 * DIM + 3];
    let offsets = [0u32, 1, 0, 1, 1];
    let nb_ids = vec!["x".to_string()];
    let nb_scores = [1.0f32];
    let bad_attributes = vec![ItemAttributes { price: Some(-3.0), ..ItemAttributes::default() }; 4];
    let cases: Vec<(AnswerColumns<'_>, &str)> = vec![
        (AnswerColumns { ids: &dup, ..answer.columns() }, "appears twice"),
        (AnswerColumns { scores: Some(&nan), ..answer.columns() }, "score of candidate \"sku-1\" is NaN"),
        (AnswerColumns { scores: Some(&short), ..answer.columns() }, "scores has 2 entries for 4 candidates"),
        (AnswerColumns { embeddings: Some(&odd_embeddings), ..answer.columns() }, "embeddings hold 35 numbers"),
        (
            AnswerColumns {
                neighbours: Some(NeighbourColumns { offsets: &offsets, ids: &nb_ids, scores: &nb_scores }),
                ..answer.columns()
            },
            "neighbours.offsets[2] is 0",
        ),
        (AnswerColumns { attributes: Some(&bad_attributes), ..answer.columns() }, "attributes of candidate \"sku-0\""),
    ];
    for (columns, expected) in cases {
        let message = p.register_candidates(&columns).expect_err(expected).to_string();
        assert!(message.contains(expected), "{message:?} should mention {expected:?}");
    }
    assert_eq!(p.ranking.live_handles().count(), 0, "no refused answer got a handle");
    let too_many: Vec<String> = (0..crate::rank::MAX_CANDIDATES + 1).map(|i| format!("c{i}")).collect();
    let error =
        p.register_candidates(&AnswerColumns { ids: &too_many, ..AnswerColumns::default() }).expect_err("too many");
    assert!(matches!(error, RankingError::Rank(RankError::TooManyCandidates { .. })), "{error}");
}

#[test]
fn unknown_and_evicted_handles_have_a_typed_error() {
    let mut p = open(&MemoryStore::new());
    let answer = Answer::new(3, 4);
    let first = p.register_candidates(&answer.columns()).expect("valid");
    for _ in 0..MAX_LIVE_SETS {
        p.register_candidates(&answer.columns()).expect("valid");
    }
    let context = RankContext::default();
    assert_eq!(p.rank(first, &context, T0).err(), Some(RankingError::UnknownHandle { handle: first }));
    assert!(p.rank(first, &context, T0).unwrap_err().to_string().contains("call registerCandidates again"));
    assert_eq!(p.rank(9_999, &context, T0).err(), Some(RankingError::UnknownHandle { handle: 9_999 }));
    assert!(matches!(p.rank(first + 1, &context, f64::NAN), Err(RankingError::BadTime(t)) if t.is_nan()));
}

#[test]
fn clicks_on_ranked_items_teach_the_model_and_change_the_order() {
    let answer = Answer::new(10, 5);
    let context = RankContext { limit: 10, ..RankContext::default() };
    // Both shoppers click the same item the same number of times; only the learner saw the
    // clicks as feedback on a ranking it showed.
    let mut learner = open(&MemoryStore::new());
    let mut control = open(&MemoryStore::new());
    for p in [&mut learner, &mut control] {
        p.set_consent(ConsentMode::Session, false);
    }
    let learner_handle = learner.register_candidates(&answer.columns()).expect("valid");
    let before = learner.rank(learner_handle, &context, T0).expect("ranked");
    let target = before.items.last().map(|i| i.id.clone()).expect("items");
    let weights_before = learner.rank_model().weights().to_vec();
    for step in 0..40 {
        let at = T0 + 10_000.0 * f64::from(step + 1);
        learner.rank(learner_handle, &context, at).expect("ranked");
        click(&mut learner, &target, at + 1.0);
        click(&mut control, &target, at + 1.0);
    }
    assert_eq!(learner.rank_learning_steps(), 40);
    assert_eq!(control.rank_learning_steps(), 0, "clicks on items no ranking showed teach nothing");
    assert_ne!(learner.rank_model().weights(), weights_before.as_slice());
    // The profiles are identical; only the model differs. A fresh answer with nothing of the
    // session in it is ordered differently by what the learner learned.
    let mut fresh = Answer::new(10, 99);
    fresh.ids = (0..10).map(|i| format!("fresh-{i}")).collect();
    let at = T0 + 500_000.0;
    let order = |p: &mut Personalizer<MemoryStore>| {
        let handle = p.register_candidates(&fresh.columns()).expect("valid");
        p.rank(handle, &context, at).map(|l| ids(&l).join(",")).expect("ranked")
    };
    assert_ne!(order(&mut learner), order(&mut control), "learning changed the order");
}

#[test]
fn the_learned_model_persists_and_goes_with_forget_and_consent() {
    let store = MemoryStore::new();
    let answer = Answer::new(6, 6);
    let mut p = open(&store);
    p.set_consent(ConsentMode::Full, true);
    let handle = p.register_candidates(&answer.columns()).expect("valid");
    for step in 0..3 {
        let at = T0 + 10_000.0 * f64::from(step);
        p.rank(handle, &RankContext::default(), at).expect("ranked");
        click(&mut p, "sku-5", at + 1.0);
    }
    p.flush(T0 + 60_000.0).expect("flush");
    let raw = store.get(MODEL_KEY).expect("store").expect("the model is stored");
    assert!(raw.starts_with(r#"{"format":"shop-personalizer/rank-model","version":1,"#));

    let mut reopened = open(&store);
    assert_eq!(reopened.rank_learning_steps(), 0, "nothing is read before consent");
    reopened.set_consent(ConsentMode::Full, true);
    assert_eq!(reopened.rank_model().weights(), p.rank_model().weights());
    assert_eq!(reopened.rank_learning_steps(), 3);

    reopened.set_consent(ConsentMode::Session, false);
    assert_eq!(store.get(MODEL_KEY), Ok(None), "lowering consent deletes the stored model");
    assert_eq!(reopened.rank_learning_steps(), 3, "... and keeps it in memory for the visit");
    reopened.set_consent(ConsentMode::None, false);
    assert_eq!(reopened.rank_learning_steps(), 0, "consent none forgets what was learned");
    assert_eq!(reopened.rank_model(), &RankModel::default());

    p.forget().expect("forget");
    assert_eq!(store.get(MODEL_KEY), Ok(None));
    assert_eq!(p.rank_model(), &RankModel::default());
    assert!(
        p.rank(handle, &RankContext::default(), T0).is_ok(),
        "registered answers hold only server data and stay usable"
    );
}

#[test]
fn an_unreadable_stored_model_is_backed_up_and_learning_restarts() {
    let store = MemoryStore::new();
    let mut seeded = store.clone();
    seeded.set(MODEL_KEY, "{\"format\":\"shop-personalizer/rank-model\",garbage").expect("set");
    let mut p = open(&store);
    p.set_consent(ConsentMode::Full, true);
    let warning = p.warnings().iter().find(|w| w.code == WarningCode::Unreadable).expect("a warning").clone();
    assert!(warning.message.contains("ranking model"), "{}", warning.message);
    let backup = warning.backup_key.expect("kept under a backup key");
    assert_eq!(
        store.get(&backup).ok().flatten().as_deref(),
        Some("{\"format\":\"shop-personalizer/rank-model\",garbage")
    );
    assert_eq!(store.get(MODEL_KEY), Ok(None));
    assert_eq!(p.rank_model(), &RankModel::default());
}

#[test]
fn answers_about_session_items_join_later_rankings_only_with_consent() {
    let about_answer = Answer::new(5, 7);
    let mut later = Answer::new(5, 8);
    later.ids = (0..5).map(|i| format!("other-{i}")).collect();
    for (consent, joins) in [(ConsentMode::Session, true), (ConsentMode::None, false)] {
        let mut p = open(&MemoryStore::new());
        p.set_consent(consent, false);
        let _ = p.track(TrackEvent::View { item_id: "viewed".into(), item: None }, T0, 0);
        let about = AnswerColumns { about: Some("viewed"), ..about_answer.columns() };
        p.register_candidates(&about).expect("valid");
        let handle = p.register_candidates(&later.columns()).expect("valid");
        let list = p.rank(handle, &RankContext { limit: 50, ..RankContext::default() }, T0 + 1.0).expect("ranked");
        let pooled = list.items.iter().filter(|i| i.from_session).count();
        assert_eq!(pooled > 0, joins, "{consent:?}: {:?}", ids(&list));
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Search only reorders; other placements return at most `limit` distinct items, all of
        /// them from the answer or the session's earlier answers, never the page's own item.
        #[test]
        fn rankings_keep_their_promises(n in 0usize..40, seed in any::<u64>(), limit in 0usize..30, viewed in 0usize..4) {
            let mut p = open(&MemoryStore::new());
            p.set_consent(ConsentMode::Session, false);
            let answer = Answer::new(n, seed);
            for k in 0..viewed {
                let about = format!("viewed-{k}");
                let _ = p.track(TrackEvent::View { item_id: about.clone(), item: None }, T0 + 60_000.0 * k as f64, 0);
                let earlier = Answer::new(8, seed ^ k as u64);
                p.register_candidates(&AnswerColumns { about: Some(&about), ..earlier.columns() }).expect("valid");
            }
            let handle = p.register_candidates(&answer.columns()).expect("valid");
            let now = T0 + 1e6;
            let search = p.rank(handle, &RankContext { placement: Placement::Search, limit, ..RankContext::default() }, now).expect("ranked");
            let mut got = ids(&search);
            got.sort_unstable();
            let mut sent: Vec<&str> = answer.ids.iter().map(String::as_str).collect();
            sent.sort_unstable();
            prop_assert_eq!(got, sent);

            let current = answer.ids.first().cloned();
            let context = RankContext { placement: Placement::Product, current_item: current.clone(), limit, ..RankContext::default() };
            let list = p.rank(handle, &context, now).expect("ranked");
            prop_assert!(list.items.len() <= limit);
            let mut unique = ids(&list);
            unique.sort_unstable();
            unique.dedup();
            prop_assert_eq!(unique.len(), list.items.len(), "each item once");
            prop_assert!(current.is_none_or(|c| !ids(&list).contains(&c.as_str())));
            for item in &list.items {
                prop_assert!(item.score.is_finite() && !item.reason.is_empty());
                prop_assert_eq!(item.from_session, !answer.ids.contains(&item.id));
            }
        }
    }
}

#[test]
fn another_tabs_forget_also_clears_what_this_tab_learned() {
    let store = MemoryStore::new();
    let answer = Answer::new(6, 7);
    let mut tab_a = open(&store);
    let mut tab_b = open(&store);
    tab_a.set_consent(ConsentMode::Full, true);
    tab_b.set_consent(ConsentMode::Full, true);
    let handle = tab_a.register_candidates(&answer.columns()).expect("valid");
    for step in 0..3 {
        let at = T0 + 10_000.0 * f64::from(step);
        tab_a.rank(handle, &RankContext::default(), at).expect("ranked");
        click(&mut tab_a, "sku-5", at + 1.0);
    }
    tab_a.flush(T0 + 60_000.0).expect("flush");
    assert_eq!(tab_a.rank_learning_steps(), 3);
    tab_b.on_storage_changed(Some("shop-personalizer:acme:profile"));
    tab_b.forget().expect("forget");
    tab_a.on_storage_changed(Some("shop-personalizer:acme:profile"));
    assert_eq!(tab_a.rank_learning_steps(), 0, "the other tab's forget reached this tab's model");
    tab_a.flush(T0 + 70_000.0).expect("flush");
    assert_eq!(store.get(MODEL_KEY).expect("store"), None, "and nothing learned is written back");
}
