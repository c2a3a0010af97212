//! Verification rate of the leader+helper pair over DAP-09 Prio3 reports of dimension 90: per
//! report both aggregators open their HPKE share, decode it, and run Prio3 preparation (the
//! leader's init, the helper's init + combine + finish, the leader's finish), and both accumulate
//! the output share. `cargo run --release -p aggregator --example dap_verify -- [reports] [threads]`
//! (threads split the reports, as two aggregator processes on two cores would).

use std::time::Instant;

use aggregator::dap::prepare::{helper_step, leader_finish, leader_init, merge_outputs, open_share};
use aggregator::dap::DapTaskConfig;
use janus_messages::{Report, Role, TaskId};
use rand_core06::OsRng;
use shop_personalizer::sync::dap::{build_report, DapTask, HpkeKeypair};

fn main() {
    let mut args = std::env::args().skip(1);
    let reports: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let collector = HpkeKeypair::generate(3, &mut OsRng);
    let config = |hpke| DapTaskConfig {
        task_id: TaskId::from([1; 32]),
        dimension: 90,
        clip_bound: 1.0,
        verify_key: [9; 16],
        min_batch_size: 100,
        max_batch_size: 100,
        hpke,
        peer_token: String::new(),
        collector_token: None,
        collector_config: collector.config.clone(),
        kind: aggregator::dap::TaskKind::ModelUpdate,
        aggregator_noise_epsilon: None,
    };
    let leader = config(HpkeKeypair::generate(1, &mut OsRng));
    let helper = config(HpkeKeypair::generate(2, &mut OsRng));
    let device = DapTask {
        task_id: leader.task_id,
        leader_config: leader.hpke.config.clone(),
        helper_config: helper.hpke.config.clone(),
        dimension: 90,
        clip_bound: 1.0,
        time_precision_secs: 3600,
    };
    let started = Instant::now();
    let made: Vec<Report> = (0..reports)
        .map(|i| {
            let update: Vec<f32> = (0..90).map(|j| (((i + j) % 13) as f32 - 6.0) * 0.01).collect();
            build_report(&device, &update, 1_700_000_000, &mut OsRng).expect("report")
        })
        .collect();
    let making = started.elapsed().as_secs_f64();
    println!(
        "made {reports} reports in {making:.2} s: {:.2} ms each (one thread, shard + proof + 2 HPKE seals)",
        making * 1e3 / reports as f64
    );

    let (started, cpu_before) = (Instant::now(), process_cpu_seconds());
    std::thread::scope(|scope| {
        for chunk in made.chunks(reports.div_ceil(threads)) {
            let (leader, helper) = (&leader, &helper);
            scope.spawn(move || {
                let vdaf = leader.model_vdaf();
                let (mut leader_outputs, mut helper_outputs) = (Vec::new(), Vec::new());
                for report in chunk {
                    let id = report.metadata().id().as_ref();
                    let meta = report.metadata();
                    let opened = open_share(
                        leader,
                        &vdaf,
                        &leader.hpke,
                        Role::Leader,
                        meta,
                        report.public_share(),
                        report.leader_encrypted_input_share(),
                    )
                    .expect("leader opens");
                    let (state, message) = leader_init(leader, &vdaf, id, &opened).expect("leader init");
                    let opened = open_share(
                        helper,
                        &vdaf,
                        &helper.hpke,
                        Role::Helper,
                        meta,
                        report.public_share(),
                        report.helper_encrypted_input_share(),
                    )
                    .expect("helper opens");
                    let (helper_output, reply) = helper_step(helper, &vdaf, id, &opened, &message).expect("valid");
                    leader_outputs.push(leader_finish(&vdaf, state, &reply).expect("finish"));
                    helper_outputs.push(helper_output);
                }
                merge_outputs(&vdaf, None, leader_outputs).expect("merge");
                merge_outputs(&vdaf, None, helper_outputs).expect("merge");
            });
        }
    });
    let verifying = started.elapsed().as_secs_f64();
    let cpu = process_cpu_seconds() - cpu_before;
    println!(
        "leader+helper verified {reports} reports on {threads} thread(s) in {verifying:.2} s: {:.0} reports/s; \
         {:.3} ms of CPU per report, so {:.0} reports/s on 2 cores of their own",
        reports as f64 / verifying,
        cpu * 1e3 / reports as f64,
        2.0 * reports as f64 / cpu
    );
}

/// User + system CPU seconds of this process so far (Linux `/proc/self/stat`; 0 elsewhere).
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line (11 and 12 after the command name), at 100 ticks/s.
    (ticks(11) + ticks(12)) / 100.0
}
