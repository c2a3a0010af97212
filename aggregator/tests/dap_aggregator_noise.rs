//! Aggregator-side noise (task file `aggregatorNoiseEpsilon`) end to end: both aggregators noise
//! their aggregate shares, so the collected sum is the honest sum plus the two aggregators'
//! discrete Gaussian noise of the calibrated spread, and without the setting it is exact.

mod common;
mod dap_support;

use aggregator::dap::leader::{collect, run_aggregation_job};
use aggregator::dap::noise::noise_std_in_update_units;
use ed25519_dalek::SigningKey;

use dap_support::*;

/// The collected sum of 12 honest reports minus their exact sum, with `epsilon` on both sides.
async fn noise_of_a_batch(epsilon: Option<f64>) -> Vec<f64> {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = SigningKey::from_bytes(&[4; 32]);
    let mut keys = keys(10);
    keys.leader.aggregator_noise_epsilon = epsilon;
    keys.helper.aggregator_noise_epsilon = epsilon;
    let helper = helper_state(keys.helper.clone(), store(&dir.path().join("helper.sqlite3"), &key).await);
    let helper_url = serve_helper(helper).await;
    let leader = leader_state(&keys, store(&dir.path().join("leader.sqlite3"), &key).await, &helper_url, key);
    for i in 0..12 {
        assert_eq!(upload(&leader, &honest_report(&keys, i)).await, 200);
    }
    run_aggregation_job(&leader, 100).await.expect("job").expect("pending reports");
    let collected = collect(&leader).await.expect("collect").expect("a batch of 12 >= 10");
    collected.sum.iter().zip(honest_sum(0..12)).map(|(got, want)| got - want).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_aggregators_noise_the_sum_with_the_calibrated_spread_and_none_without_the_setting() {
    let exact = noise_of_a_batch(None).await;
    assert!(exact.iter().all(|d| d.abs() < 12.0 * CLIP * 2f64.powi(-14)), "no noise: {:?}", &exact[..3]);
    let epsilon = 4.0;
    let noised = noise_of_a_batch(Some(epsilon)).await;
    let rms = (noised.iter().map(|d| d * d).sum::<f64>() / noised.len() as f64).sqrt();
    // Two aggregators' noise of 2·B/(0.999·ε) each (B = CLIP in these tasks); 90 coordinates
    // estimate it within about 7%.
    let expected = 2f64.sqrt() * noise_std_in_update_units(epsilon, CLIP);
    assert!((rms / expected - 1.0).abs() < 0.3, "rms {rms} vs {expected}");
}
