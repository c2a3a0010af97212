//! The device's DAP report of one model update natively (dimension 90): Prio3 sharding with its
//! proof, and the whole report (sharding plus HPKE sealing of both input shares plus encoding).
//! Prints the wire size of one report. The browser figure is for the bench page. Then the same for
//! a lift report (Prio3SumVec at the default lift settings, K = 1000): its measurement with the
//! discrete Gaussian noise shares, sharding with the proof, the whole report, and Prio3
//! preparation on both aggregators (what verifying one report costs the pair, without HPKE).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use prio::codec::Encode;
use prio::vdaf::Client;
use rand_core06::OsRng;
use shop_personalizer::sync::dap::{build_report, encode_measurement, model_update_vdaf, DapTask, HpkeKeypair};

fn task() -> DapTask {
    DapTask {
        task_id: janus_messages::TaskId::from([7; 32]),
        leader_config: HpkeKeypair::generate(1, &mut OsRng).config,
        helper_config: HpkeKeypair::generate(2, &mut OsRng).config,
        dimension: 90,
        clip_bound: 1.0,
        time_precision_secs: 3600,
    }
}

fn update() -> Vec<f32> {
    (0..90).map(|i| ((i as f32) * 0.37).sin() * 0.1).collect()
}

fn bench(c: &mut Criterion) {
    let task = task();
    let update = update();
    let report = build_report(&task, &update, 1_700_000_000, &mut OsRng).expect("report");
    let bytes = report.get_encoded().expect("encodes");
    println!(
        "report: {} bytes on the wire (public share {}, leader ciphertext {}, helper ciphertext {})",
        bytes.len(),
        report.public_share().len(),
        report.leader_encrypted_input_share().payload().len(),
        report.helper_encrypted_input_share().payload().len()
    );
    let vdaf = model_update_vdaf(90).expect("vdaf");
    let measurement = encode_measurement(&update, 1.0).expect("measurement");
    c.bench_function("prio3 shard + proof, dim 90", |b| {
        b.iter(|| vdaf.shard(black_box(&measurement), &[1; 16]).expect("shard"))
    });
    c.bench_function("DAP report (shard + 2 HPKE seals + encode), dim 90", |b| {
        b.iter(|| build_report(&task, black_box(&update), 1_700_000_000, &mut OsRng).expect("report"))
    });
}

fn lift_bench(c: &mut Criterion) {
    use prio::vdaf::{Aggregator, PrepareTransition};
    use shop_personalizer::measure::{LiftReportConfig, NoiseMode};
    use shop_personalizer::sync::dap::{build_lift_report, LiftEncoding};
    let config = LiftReportConfig { noise: NoiseMode::Local, ..LiftReportConfig::default() }.check().expect("valid");
    let encoding = LiftEncoding::new(&config, 1000).expect("encoding");
    let task = DapTask { dimension: encoding.length(), ..task() };
    let values = [3.0, 40.0, 4.0, 1.0, 0.0, 0.0, 100.0, 6.0, 2.0, 1.0, 45.0];
    let measurement = encoding.measurement(&values, &mut OsRng).expect("measurement");
    let report = build_lift_report(&task, &encoding, &measurement, 1_700_000_000, &mut OsRng).expect("report");
    println!(
        "lift report: {} bytes on the wire ({} entries of {} bits)",
        report.get_encoded().unwrap().len(),
        encoding.length(),
        encoding.bits()
    );
    let vdaf = encoding.vdaf().expect("vdaf");
    c.bench_function("lift measurement (discrete Gaussian shares), K 1000", |b| {
        b.iter(|| encoding.measurement(black_box(&values), &mut OsRng).expect("measurement"))
    });
    c.bench_function("lift prio3 SumVec shard + proof", |b| {
        b.iter(|| vdaf.shard(black_box(&measurement), &[1; 16]).expect("shard"))
    });
    c.bench_function("lift DAP report (measurement + shard + 2 HPKE seals + encode)", |b| {
        b.iter(|| {
            let measurement = encoding.measurement(black_box(&values), &mut OsRng).expect("measurement");
            build_lift_report(&task, &encoding, &measurement, 1_700_000_000, &mut OsRng).expect("report")
        })
    });
    let (public, shares) = vdaf.shard(&measurement, &[1; 16]).expect("shard");
    c.bench_function("lift prio3 preparation on both aggregators", |b| {
        b.iter(|| {
            let key = [5u8; 16];
            let (s0, m0) = vdaf.prepare_init(&key, 0, &(), &[1; 16], &public, &shares[0]).expect("leader");
            let (s1, m1) = vdaf.prepare_init(&key, 1, &(), &[1; 16], &public, &shares[1]).expect("helper");
            let message = vdaf.prepare_shares_to_prepare_message(&(), [m0, m1]).expect("valid");
            for state in [s0, s1] {
                assert!(matches!(vdaf.prepare_next(state, message.clone()), Ok(PrepareTransition::Finish(_))));
            }
        })
    });
}

criterion_group!(benches, bench, lift_bench);
criterion_main!(benches);
