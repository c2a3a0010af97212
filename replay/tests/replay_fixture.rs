//! The replay on generated sessions: labels never change rankings, the device uses the session,
//! and the binary writes its report and JSON line.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

use replay::data::{parse_cases, parse_sessions, Case, Vocabulary};
use replay::run::{evaluate, replay_cases, Setup};
use replay::server::{Server, ServerConfig};
use shop_personalizer::rank::RankParams;

/// Sessions that browse one of 12 "themes" of 15 items each, jumping around inside the theme and
/// to popular items, so the whole session (not only the last item) tells the theme.
fn generated_sessions(count: usize, seed: u64) -> Vec<String> {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut next = move |m: u64| {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % m
    };
    (0..count)
        .map(|_| {
            let theme = next(12);
            let len = 3 + next(5) as usize;
            let items: Vec<String> = (0..len)
                .map(|_| {
                    // 1 in 3 views is a popular item outside the theme: after one of those, only
                    // the earlier items of the session tell the theme.
                    if next(3) == 0 {
                        format!("pop{}", next(5))
                    } else {
                        format!("t{theme}i{}", next(15))
                    }
                })
                .collect();
            items.join(" ")
        })
        .collect()
}

fn test_lines(sessions: &[String]) -> Vec<String> {
    sessions
        .iter()
        .flat_map(|s| {
            let items: Vec<&str> = s.split(' ').collect();
            (1..items.len()).map(move |t| format!("{}\t{}", items[..t].join(" "), items[t]))
        })
        .collect()
}

struct Fixture {
    vocab: Vocabulary,
    train: Vec<Vec<u32>>,
    cases: Vec<Case>,
}

fn fixture() -> Fixture {
    let mut vocab = Vocabulary::default();
    let train = parse_sessions(&generated_sessions(3000, 1).join("\n"), &mut vocab);
    let (cases, skipped) = parse_cases(&test_lines(&generated_sessions(300, 2)).join("\n"), &mut vocab);
    assert_eq!(skipped, 0);
    Fixture { vocab, train, cases }
}

fn setup<'a>(server: &'a Server, vocab: &'a Vocabulary) -> Setup<'a> {
    Setup {
        server,
        vocab,
        config: RankParams::default().check().unwrap(),
        weights: None,
        use_categories: false,
        threads: 2,
        progress: false,
        rerank_only: false,
    }
}

#[test]
fn changing_labels_leaves_rankings_unchanged() {
    let f = fixture();
    let server = Server::build(
        &f.train,
        f.vocab.len(),
        &HashMap::new(),
        ServerConfig { candidates: 30, ..ServerConfig::default() },
    );
    let setup = setup(&server, &f.vocab);
    let original = replay_cases(&setup, &f.cases, "a").unwrap();
    let relabelled: Vec<Case> = f
        .cases
        .iter()
        .enumerate()
        .map(|(i, c)| Case { prefix: c.prefix.clone(), label: (i % f.vocab.len()) as u32 })
        .collect();
    assert_ne!(relabelled, f.cases);
    let again = replay_cases(&setup, &relabelled, "b").unwrap();
    assert_eq!(original, again);
    assert!(original.iter().all(|o| !o.device.is_empty() && !o.server.is_empty()));
}

#[test]
fn the_device_beats_the_last_item_server_when_the_session_tells_more() {
    let f = fixture();
    let server = Server::build(
        &f.train,
        f.vocab.len(),
        &HashMap::new(),
        ServerConfig { candidates: 30, ..ServerConfig::default() },
    );
    let (server_acc, device_acc) = evaluate(&setup(&server, &f.vocab), &f.cases, "fixture").unwrap();
    assert_eq!(device_acc.cases(), f.cases.len());
    let (s, d) = (server_acc.at(10), device_acc.at(10));
    assert!(d.hr > s.hr + 5.0, "device HR@10 {:.2} vs server {:.2}", d.hr, s.hr);
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("replay-test-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_binary_writes_report_chart_and_a_last_json_line() {
    let dir = temp_dir("bin");
    let train = dir.join("train.txt");
    let test = dir.join("test.tsv");
    std::fs::write(&train, generated_sessions(800, 3).join("\n")).unwrap();
    std::fs::write(&test, test_lines(&generated_sessions(60, 4)).join("\n")).unwrap();
    let out = dir.join("out");
    let run = Command::new(env!("CARGO_BIN_EXE_replay"))
        .args([
            "--train",
            train.to_str().unwrap(),
            "--test",
            test.to_str().unwrap(),
            "--json",
            "--no-progress",
            "--k",
            "10",
        ])
        .args(["--candidates", "20", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let stdout = String::from_utf8(run.stdout).unwrap();
    let last = stdout.lines().last().unwrap();
    let json: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(json["k"], 10);
    assert!(json["cases"].as_u64().unwrap() > 100);
    assert!(json["device"]["hr"].as_f64().unwrap() > 0.0);
    assert!(std::fs::read_to_string(out.join("report.md")).unwrap().contains("| device |"));
    assert!(std::fs::read_to_string(out.join("hr_at_k.svg")).unwrap().contains("<polyline"));
    let bad = Command::new(env!("CARGO_BIN_EXE_replay")).args(["--train", train.to_str().unwrap()]).output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--test is required"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fit_writes_a_model_file_that_replay_evaluates_and_nothing_else() {
    let dir = temp_dir("fit");
    let train = dir.join("train.txt");
    let test = dir.join("test.tsv");
    std::fs::write(&train, generated_sessions(1500, 5).join("\n")).unwrap();
    std::fs::write(&test, test_lines(&generated_sessions(60, 6)).join("\n")).unwrap();
    let model = dir.join("model.bin");
    let small = ["--no-progress", "--candidates", "20", "--fit-cases", "400", "--epochs", "3"];
    let replay = || Command::new(env!("CARGO_BIN_EXE_replay"));
    // Run where a src/rank/default_weights.rs exists: the fit must not touch it.
    let fake_src = dir.join("src/rank");
    std::fs::create_dir_all(&fake_src).unwrap();
    std::fs::write(fake_src.join("default_weights.rs"), "untouched").unwrap();
    let fit = replay()
        .current_dir(&dir)
        .args(["fit", "--train", train.to_str().unwrap(), "--out", model.to_str().unwrap()])
        .args(small)
        .output()
        .unwrap();
    assert!(fit.status.success(), "{}", String::from_utf8_lossy(&fit.stderr));
    assert_eq!(std::fs::read_to_string(fake_src.join("default_weights.rs")).unwrap(), "untouched");
    let weights = replay::model::load(&model).unwrap();
    assert_ne!(weights, shop_personalizer::rank::DEFAULT_WEIGHTS.to_vec());

    let evaluate = |model: &std::path::Path| {
        replay()
            .args(["--train", train.to_str().unwrap(), "--test", test.to_str().unwrap(), "--json"])
            .args(["--model", model.to_str().unwrap(), "--out", dir.join("out").to_str().unwrap()])
            .args(&small[..3])
            .output()
            .unwrap()
    };
    let run = evaluate(&model);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let last = String::from_utf8(run.stdout).unwrap().lines().last().unwrap().to_owned();
    assert!(serde_json::from_str::<serde_json::Value>(&last).unwrap()["device"]["hr"].as_f64().unwrap() > 0.0);

    let mut corrupt = std::fs::read(&model).unwrap();
    corrupt[40] ^= 1;
    let bad = dir.join("bad.bin");
    std::fs::write(&bad, corrupt).unwrap();
    let run = evaluate(&bad);
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("[model_file_bad_checksum]"));

    let nowhere = replay().args(["--train", train.to_str().unwrap(), "--fit-weights"]).output().unwrap();
    assert!(!nowhere.status.success());
    assert!(String::from_utf8_lossy(&nowhere.stderr).contains("somewhere to write"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shuffling_the_test_lines_changes_no_cases_result() {
    let mut lines = test_lines(&generated_sessions(300, 7));
    // Items the training sessions never saw: numbered in order of appearance in the test file,
    // so a shuffle renumbers them.
    for i in 0..40 {
        lines.push(format!("new{i} t{}i{} new{} t3i4\tt3i5", i % 12, i % 15, (i + 1) % 40));
    }
    let mut shuffled: Vec<(usize, String)> = lines.iter().cloned().enumerate().collect();
    let mut state = 0x2545_f491_u64;
    for i in (1..shuffled.len()).rev() {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        shuffled.swap(i, (state >> 33) as usize % (i + 1));
    }
    assert!(shuffled.iter().enumerate().filter(|(at, (from, _))| at != from).count() > lines.len() / 2);
    let train = generated_sessions(3000, 1).join("\n");
    // Each order replayed on its own, as two runs of the binary would: vocabulary, server, device.
    let replay = |text: &str| {
        let mut vocab = Vocabulary::default();
        let sessions = parse_sessions(&train, &mut vocab);
        let (cases, _) = parse_cases(text, &mut vocab);
        let server = Server::build(
            &sessions,
            vocab.len(),
            &HashMap::new(),
            ServerConfig { candidates: 30, ..ServerConfig::default() },
        );
        let orders = replay_cases(&setup(&server, &vocab), &cases, "shuffle").unwrap();
        let names = |order: &[u32]| order.iter().map(|&i| vocab.name(i).to_owned()).collect::<Vec<_>>();
        let baselines = replay::baselines::Baselines::build(&sessions, vocab.len());
        orders
            .iter()
            .zip(&cases)
            .map(|(o, case)| (names(&o.server), names(&o.device), names(&baselines.session_pop(&case.prefix))))
            .collect::<Vec<_>>()
    };
    let original = replay(&lines.join("\n"));
    let moved = replay(&shuffled.iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>().join("\n"));
    assert_eq!(original.len(), lines.len());
    for (at, (from, line)) in shuffled.iter().enumerate() {
        assert_eq!(moved[at], original[*from], "line {from} ({line}) ranks differently at position {at}");
    }
    assert!(original.iter().all(|(server, device, _)| !server.is_empty() && !device.is_empty()));
}
