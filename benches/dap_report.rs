//! The device's DAP report of one model update natively (dimension 90): Prio3 sharding with its
//! proof, and the whole report (sharding plus HPKE sealing of both input shares plus encoding).
//! Prints the wire size of one report. The browser figure is for the bench page.

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

criterion_group!(benches, bench);
criterion_main!(benches);
