//! Writes one honest update body (clipped, noised, quantized by the device code) for the
//! ingest benchmark: `cargo run --release -p aggregator --example bench_body -- OUT [DIMENSION]`.
//! The load script replaces its nonce (bytes 29..45) per request.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use shop_personalizer::privacy::sampling::standard_normal;
use shop_personalizer::privacy::{PrivacyConfig, PrivacyLedger, PrivacyParams, UpdateBuilder, UpdateInputs};
use shop_personalizer::sync::UpdateMessage;

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let out = args.next().ok_or("usage: bench_body OUT [DIMENSION]")?;
    let dimension: usize = args.next().map_or(Ok(4096), |d| d.parse()).map_err(|_| "DIMENSION must be a number")?;
    let params = PrivacyParams::new(PrivacyConfig::default()).map_err(|error| error.to_string())?;
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    let base = vec![0.0_f32; dimension];
    let local: Vec<f32> = (0..dimension).map(|_| (0.05 * standard_normal(&mut rng)) as f32).collect();
    let inputs = UpdateInputs {
        base_version: 1,
        base_weights: &base,
        local_weights: &local,
        labelled_impressions: 100,
        full_consent: true,
        now_unix_seconds: 0,
    };
    let noisy = UpdateBuilder::new(params)
        .build(&inputs, &mut PrivacyLedger::default(), &mut rng)
        .map_err(|error| error.to_string())?;
    let body = UpdateMessage::from_noisy(noisy, [0; 16]).encode();
    std::fs::write(&out, &body).map_err(|error| format!("could not write {out}: {error}"))?;
    println!("wrote {} bytes ({dimension} dimensions) to {out}", body.len());
    Ok(())
}
