use super::*;
use crate::dap::task_pair::{generate, PairSettings};
use shop_personalizer::measure::holdout::LiftBucket;

fn pair() -> (TaskFile, TaskFile) {
    let (leader, helper, _) = generate(&PairSettings { dimension: 90, ..PairSettings::default() }).expect("generates");
    (leader, helper)
}

fn refusal(file: TaskFile, role: DapRole) -> &'static str {
    file.check(role).err().expect("refused").code()
}

#[test]
fn a_generated_pair_loads_each_in_its_role() {
    let (leader, helper) = pair();
    let loaded = leader.clone().check(DapRole::Leader).expect("leader file");
    assert!(loaded.collector.is_some() && loaded.helper_url.as_deref() == Some("http://127.0.0.1:8789"));
    assert_eq!(loaded.task.min_batch_size, 100);
    let helper = helper.check(DapRole::Helper).expect("helper file");
    assert!(helper.collector.is_none());
    assert_eq!(helper.task.task_id, loaded.task.task_id);
    assert_eq!(helper.task.verify_key, loaded.task.verify_key);
    assert_ne!(helper.task.hpke.config, loaded.task.hpke.config);
    assert_eq!(refusal(leader, DapRole::Helper), "dap_task_role_mismatch");
}

#[test]
fn the_bound_is_the_devices_for_k_100_computed_by_hand() {
    // d = 90, C = 1, z = 1, K = 100: σ = 0.1; 90 + 2·√2880 + 64 = 261.33126; √ = 16.16575.
    let bound = device_bound(90, 1.0, 1.0).expect("valid");
    assert!((bound - 2.616_575).abs() < 1e-5, "{bound}");
    assert_eq!(pair().0.measurement_bound, bound);
}

#[test]
fn a_batch_below_the_devices_noise_cohort_is_refused() {
    let (_, helper) = pair();
    let small = TaskFile { min_batch_size: 99, ..helper.clone() };
    assert_eq!(small.check(DapRole::Helper).err(), Some(TaskFileError::MinBatchBelowK { got: 99, k: 100 }));
    assert_eq!(refusal(TaskFile { max_batch_size: 99, ..helper }, DapRole::Helper), "dap_task_max_batch");
}

#[test]
fn a_bound_other_than_the_devices_is_refused() {
    let (_, helper) = pair();
    let bound = helper.measurement_bound;
    assert_eq!(
        refusal(TaskFile { measurement_bound: 1.0, ..helper.clone() }, DapRole::Helper),
        "dap_task_bound_mismatch"
    );
    assert_eq!(
        refusal(TaskFile { measurement_bound: bound * 1.001, ..helper.clone() }, DapRole::Helper),
        "dap_task_bound_mismatch"
    );
    // The same bound under another noise multiplier is another task.
    assert_eq!(
        refusal(TaskFile { noise_multiplier: 2.0, ..helper.clone() }, DapRole::Helper),
        "dap_task_bound_mismatch"
    );
    assert_eq!(refusal(TaskFile { clip_bound: -1.0, ..helper }, DapRole::Helper), "dap_task_privacy");
}

#[test]
fn malformed_fields_and_keys_are_refused_with_their_codes() {
    let (leader, helper) = pair();
    let swapped = TaskFile { hpke_private_key: leader.hpke_private_key.clone(), ..helper.clone() };
    assert_eq!(refusal(swapped, DapRole::Helper), "dap_task_key_mismatch");
    assert_eq!(refusal(TaskFile { verify_key: "AAAA".into(), ..helper.clone() }, DapRole::Helper), "dap_task_field");
    assert_eq!(refusal(TaskFile { task_id: "short".into(), ..helper.clone() }, DapRole::Helper), "dap_task_field");
    assert_eq!(refusal(TaskFile { peer_token: "short".into(), ..helper.clone() }, DapRole::Helper), "dap_task_field");
    assert_eq!(refusal(TaskFile { dimension: 0, ..helper.clone() }, DapRole::Helper), "dap_task_dimension");
    assert_eq!(refusal(TaskFile { version: 2, ..helper.clone() }, DapRole::Helper), "dap_task_format");
    assert_eq!(refusal(TaskFile { helper_url: None, ..leader.clone() }, DapRole::Leader), "dap_task_field");
    let short = Some("short".to_owned());
    assert_eq!(refusal(TaskFile { collector_token: short, ..leader.clone() }, DapRole::Leader), "dap_task_field");
    let on_helper = TaskFile { collector_token: leader.collector_token.clone(), ..helper.clone() };
    assert_eq!(refusal(on_helper, DapRole::Helper), "dap_task_field");
    let loaded = leader.clone().check(DapRole::Leader).expect("the generated leader file");
    assert_eq!(loaded.task.collector_token.as_deref(), leader.collector_token.as_deref());
    assert!(leader.collector_token.as_ref().is_some_and(|token| token.len() >= MIN_PEER_TOKEN_LEN));
    let keyless = TaskFile { collector_hpke_private_key: None, ..leader.clone() };
    assert!(keyless.clone().check(DapRole::Leader).expect("a DAP collector collects").collector.is_none());
    let neither = TaskFile { collector_token: None, ..keyless };
    assert_eq!(refusal(neither, DapRole::Leader), "dap_task_field");
}

#[test]
fn files_that_are_not_task_json_are_refused_unparsed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("task.json");
    let (_, helper) = pair();
    let mut value = serde_json::to_value(&helper).expect("serializes");
    value["extra"] = serde_json::json!(1);
    std::fs::write(&path, value.to_string()).expect("write");
    assert_eq!(load(&path, DapRole::Helper).err().map(|e| e.code()), Some("dap_task_malformed"));
    std::fs::write(&path, vec![b' '; MAX_TASK_FILE_BYTES as usize + 1]).expect("write");
    assert_eq!(load(&path, DapRole::Helper).err(), Some(TaskFileError::TooLarge));
    assert_eq!(load(&dir.path().join("none"), DapRole::Helper).err().map(|e| e.code()), Some("dap_task_unreadable"));
    std::fs::write(&path, serde_json::to_string(&helper).expect("serializes")).expect("write");
    assert!(load(&path, DapRole::Helper).is_ok());
}

#[test]
fn a_lift_task_pair_loads_and_its_sizes_are_the_devices() {
    let args = ["--lift-min-cohort", "1000", "--lift-min-reports-per-bucket", "2000"].map(String::from);
    let settings = crate::dap::task_pair::settings_from_args(args).expect("flags");
    let (leader, helper, device) = generate(&settings).expect("generates");
    assert_eq!((leader.dimension, leader.min_batch_size), (77, 1000), "one bucket's 11 + 66 entries");
    let loaded = leader.clone().check(DapRole::Leader).expect("leader file");
    let TaskKind::Lift(lift) = &loaded.task.kind else { panic!("a lift task") };
    assert_eq!((lift.encoding.bits(), lift.min_reports_per_bucket), (13, 2000));
    assert_eq!(lift.bucket, LiftBucket::Personalized);
    // The holdout bucket's task: its own id and verify key, the same batch rule and keys.
    let holdout = loaded.holdout.as_ref().expect("a holdout task");
    let TaskKind::Lift(holdout_lift) = &holdout.kind else { panic!("a lift task") };
    assert_eq!(holdout_lift.bucket, LiftBucket::Holdout);
    assert_ne!(holdout.task_id, loaded.task.task_id);
    assert_ne!(holdout.verify_key, loaded.task.verify_key);
    assert_eq!((holdout.min_batch_size, &holdout.hpke.config), (1000, &loaded.task.hpke.config));
    let helper_loaded = helper.clone().check(DapRole::Helper).expect("helper file");
    assert_eq!(helper_loaded.holdout.expect("a holdout task").verify_key, holdout.verify_key);
    // The page's liftReport, ready for configureSync: one task per bucket.
    assert_eq!(device["noise"]["kind"], "secureAggregation");
    assert_eq!(device["noise"]["minCohort"], 1000);
    let tasks = &device["noise"]["tasks"];
    assert_eq!(tasks["personalized"]["taskId"], loaded.task.task_id.to_string());
    assert_eq!(tasks["holdout"]["taskId"], holdout.task_id.to_string());
    assert!(tasks["holdout"].get("minBatchSize").is_none() && device["noise"].get("task").is_none());
    // A file of the retired single lift task (no holdout task) is refused with its own code.
    let mut single = helper.clone();
    if let Some(lift) = single.lift.as_mut() {
        lift.holdout_task_id = None;
    }
    assert_eq!(refusal(single, DapRole::Helper), "dap_task_lift_single_task");
    // A file whose dimension is not the devices' measurement, or whose batch is below K, is refused.
    assert_eq!(refusal(TaskFile { dimension: 155, ..helper.clone() }, DapRole::Helper), "dap_task_dimension");
    assert_eq!(refusal(TaskFile { min_batch_size: 999, ..helper }, DapRole::Helper), "dap_task_min_batch_below_k");
}

#[test]
fn aggregator_noise_is_set_by_the_pair_and_checked_in_each_file() {
    let args = ["--dimension", "90", "--aggregator-noise-epsilon", "2"].map(String::from);
    let settings = crate::dap::task_pair::settings_from_args(args).expect("flags");
    let (leader, helper, _) = generate(&settings).expect("generates");
    assert_eq!((leader.aggregator_noise_epsilon, helper.aggregator_noise_epsilon), (Some(2.0), Some(2.0)));
    assert_eq!(helper.clone().check(DapRole::Helper).expect("loads").task.aggregator_noise_epsilon, Some(2.0));
    for bad in [0.0, -1.0, 0.001, 1e3, f64::NAN] {
        let file = TaskFile { aggregator_noise_epsilon: Some(bad), ..helper.clone() };
        assert_eq!(refusal(file, DapRole::Helper), "dap_task_field", "ε = {bad}");
    }
    // Without it, no noise; a lift task refuses it (its SumVec has no zCDP strategy in prio).
    assert_eq!(pair().1.check(DapRole::Helper).expect("loads").task.aggregator_noise_epsilon, None);
    let args = ["--lift-min-cohort", "1000", "--aggregator-noise-epsilon", "1"].map(String::from);
    let settings = crate::dap::task_pair::settings_from_args(args).expect("flags");
    assert!(generate(&settings).is_err(), "a lift pair with aggregator noise is not written");
}
