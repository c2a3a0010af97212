//! Layout 3's attention block, hand-computed on a three-view session with 2-d embeddings, and the
//! older layouts untouched by it: their columns and their rankings stay what they were.

use std::sync::Arc;

use shop_personalizer::collect::EventKind;
use shop_personalizer::rank::features::*;
use shop_personalizer::rank::*;
use shop_personalizer::sync::in_current_layout;

fn item(id: &str, score: f32, embedding: [f32; 2], neighbours: &[(&str, f32)]) -> CandidateInput {
    CandidateInput {
        id: id.into(),
        score,
        popularity: Some(10.0 + score),
        embedding: Some(embedding.to_vec()),
        neighbours: neighbours.iter().map(|&(id, score)| NeighbourInput { id: id.into(), score }).collect(),
        ..CandidateInput::default()
    }
}

const EMBEDDINGS: [[f32; 2]; 4] = [[1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [3.0, -1.0]];

/// A ranker that saw c0, c1, c2 (each with its answer remembered), and the current answer c0..c3.
fn session(config: RankConfig) -> (Ranker, CandidateSet, InMemoryShopper) {
    let mut ranker = Ranker::new(config);
    let answers: [&[(&str, f32)]; 3] = [&[("c3", 1.0)], &[("c0", 1.0), ("c3", 0.5)], &[("c0", 1.0)]];
    let mut shopper = InMemoryShopper::new(1.0);
    for (t, neighbours) in answers.iter().enumerate() {
        let id = format!("c{t}");
        let answer: Vec<CandidateInput> =
            neighbours.iter().map(|&(nb, s)| item(nb, s, EMBEDDINGS[nb[1..].parse::<usize>().unwrap()], &[])).collect();
        let answer = ranker.register(&answer).expect("valid answer");
        ranker.remember_answer(&id, Some(&EMBEDDINGS[t]), Arc::new(answer));
        shopper.record(&id, EventKind::View, t as f64, &[]);
    }
    let current: Vec<CandidateInput> = (0..4)
        .map(|i| item(&format!("c{i}"), 1.0 - i as f32 / 4.0, EMBEDDINGS[i], &[("c0", 1.0), ("c2", 0.5)]))
        .collect();
    let set = ranker.register(&current).expect("valid answer");
    (ranker, set, shopper)
}

fn unit(v: [f32; 2]) -> [f32; 2] {
    let n = (v[0] * v[0] + v[1] * v[1]).sqrt();
    [v[0] / n, v[1] / n]
}

fn cos(a: [f32; 2], b: [f32; 2]) -> f32 {
    let (a, b) = (unit(a), unit(b));
    a[0] * b[0] + a[1] * b[1]
}

#[test]
fn the_attention_block_is_hand_computed() {
    let (mut ranker, set, shopper) = session(RankParams::default().check().expect("valid"));
    let matrix = ranker.extract_features(&set, &shopper).to_vec();
    let row = |r: usize| &matrix[r * NUM_FEATURES..(r + 1) * NUM_FEATURES];
    // Weights: exp(4 (cos(i, c2) - 1)) / (1 + steps back): c0 2 steps back, c1 1, c2 the last.
    let raw: Vec<f32> =
        (0..3).map(|i| (4.0 * (cos(EMBEDDINGS[i], EMBEDDINGS[2]) - 1.0)).exp() / (3 - i) as f32).collect();
    let total: f32 = raw.iter().sum();
    let alpha: Vec<f32> = raw.iter().map(|w| w / total).collect();
    let pooled: [f32; 2] = [0, 1].map(|d| (0..3).map(|i| alpha[i] * unit(EMBEDDINGS[i])[d]).sum());
    for r in 0..4 {
        let e = EMBEDDINGS[r];
        let c: Vec<f32> = (0..3).map(|i| cos(e, EMBEDDINGS[i])).collect();
        let others: Vec<f32> = (0..3).filter(|&i| i != r).map(|i| c[i]).collect();
        let max = others.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
        let square = others.iter().map(|x| x.max(0.0).powi(2)).sum::<f32>() / others.len() as f32;
        // Scaled neighbour scores: the answer about c0 lists c3 (1.0), about c1 c0 (1.0) and c3
        // (0.5), about c2 c0 (1.0).
        let about = [[0.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.5], [1.0, 0.0, 0.0, 0.0]];
        // The other candidates' unit embeddings, weighted by their server score and `cooc_fast`.
        let centroid = |f: usize| -> [f32; 2] {
            [0, 1].map(|d| (0..4).filter(|&q| q != r).map(|q| row(q)[f] * unit(EMBEDDINGS[q])[d]).sum())
        };
        let expected = [
            cos(e, pooled),
            max,
            square,
            c[1],
            c[0],
            about[1][r],
            (0..3).map(|i| alpha[i] * about[i][r]).sum::<f32>(),
            cos(e, centroid(SERVER_SCORE)),
            cos(e, centroid(COOC_FAST)),
        ];
        let got = &row(r)[ATTENTION_START..];
        assert_eq!(got.len(), NUM_ATTENTION);
        for (k, (g, x)) in got.iter().zip(&expected).enumerate() {
            assert!((g - x).abs() < 1e-5, "row c{r}, {}: got {g}, expected {x}", ATTENTION_NAMES[k]);
        }
    }
    // The numbers themselves, for the outsider c3 = (3, -1): its largest cosine is to c0.
    assert!((row(3)[EMB_MAX] - 3.0 / 10f32.sqrt()).abs() < 1e-5);
    assert!((row(3)[EMB_PREV] + 1.0 / 10f32.sqrt()).abs() < 1e-5);
    assert!((row(3)[EMB_MEAN_SQUARE] - (0.9 + 0.2) / 3.0).abs() < 1e-5);
    // cooc_fast: c0 0.6 × 1 (answer about c1) + 1 (about c2), c3 0.36 × 1 + 0.6 × 0.5; c1, c2 none.
    let cooc: Vec<f32> = (0..4).map(|r| row(r)[COOC_FAST]).collect();
    assert!((cooc[0] - 1.6).abs() < 1e-5 && (cooc[3] - 0.66).abs() < 1e-5 && cooc[1] == 0.0 && cooc[2] == 0.0);
}

#[test]
fn the_attention_block_changes_no_column_of_layout_2_and_no_layout_2_ranking() {
    let on = RankParams::default().check().expect("valid");
    let off = on.clone().with_families_off(FamilyMask::none().without(Family::Attention));
    let (mut with, set, shopper) = session(on);
    let (mut without, set_without, _) = session(off);
    let full = with.extract_features(&set, &shopper).to_vec();
    let masked = without.extract_features(&set_without, &shopper).to_vec();
    assert!(full.chunks_exact(NUM_FEATURES).any(|r| r[ATTENTION_START..].iter().any(|x| *x != 0.0)));
    for (a, b) in full.chunks_exact(NUM_FEATURES).zip(masked.chunks_exact(NUM_FEATURES)) {
        assert_eq!(&a[..NUM_LAYOUT_2_FEATURES], &b[..NUM_LAYOUT_2_FEATURES], "a column of layout 2 moved");
        assert!(b[ATTENTION_START..].iter().all(|x| *x == 0.0));
    }
    // A model of layout 2 (or layout 1) read into layout 3 scores every row exactly as it did.
    for (format, len) in [(2u8, NUM_LAYOUT_2_FEATURES), (1, NUM_LAYOUT_1_FEATURES)] {
        let old: Vec<f32> = (0..len).map(|i| ((i * 37) % 11) as f32 / 5.0 - 1.0).collect();
        let weights = in_current_layout(format, old);
        for ranker in [&mut with, &mut without] {
            ranker.model_mut().set_shared_weights(&weights).expect("valid weights");
        }
        let context = RankContext { limit: 4, ..RankContext::default() };
        let a = with.rank(&set, &context, &shopper).expect("ranks");
        let b = without.rank(&set_without, &context, &shopper).expect("ranks");
        let order = |r: &Ranking| r.items.iter().map(|i| (i.item, i.score.to_bits())).collect::<Vec<_>>();
        assert_eq!(order(&a), order(&b), "format {format}");
        assert_eq!(a.items.len(), 4);
    }
}
