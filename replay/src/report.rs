//! The report: a markdown table, an SVG chart of HR@K for K = 1..50, and the JSON summary line.

use std::fmt::Write as _;

use serde_json::json;

use crate::baselines::Baseline;
use crate::metrics::{Accuracy, MAX_K};
use crate::run::Evaluation;

/// The ablation row that switches nothing off: every signal, refit like the other rows, so that
/// the rows compare with it rather than with the shipped weights.
pub const REFIT_ALL: &str = "nothing";

/// One row of an ablation: a family switched off and what the device reached without it.
#[derive(Debug, Clone)]
pub struct AblationRow {
    pub family: &'static str,
    pub device: Accuracy,
}

/// The server-side baselines' accuracy on the test file (see `baselines.rs`).
#[derive(Debug, Clone, Default)]
pub struct Baselines {
    pub overall: Vec<(Baseline, Accuracy)>,
    /// S-POP on the cases whose label returns to a session item, then on the others.
    pub session_pop_by_return: Vec<Accuracy>,
}

/// Facts about the run shown above the table.
#[derive(Debug, Clone, Default)]
pub struct RunFacts {
    pub train: String,
    pub test: String,
    pub train_sessions: usize,
    pub skipped_lines: usize,
    pub candidates: usize,
    pub categories: bool,
    pub seconds: f64,
}

fn row(name: &str, acc: &Accuracy, ks: &[usize]) -> String {
    let mut s = format!("| {name} |");
    for &k in ks {
        let a = acc.at(k);
        let _ = write!(s, " {:.2} | {:.2} |", a.hr, a.mrr);
    }
    s
}

/// The markdown report.
pub fn markdown(
    facts: &RunFacts,
    evaluation: &Evaluation,
    k: usize,
    baselines: &Baselines,
    ablation: &[AblationRow],
) -> String {
    let (server, device, by_length) = (&evaluation.server, &evaluation.device, &evaluation.by_length);
    let mut ks = vec![10, 20];
    if !ks.contains(&k) {
        ks.push(k);
    }
    let mut s = String::new();
    let _ = writeln!(s, "# Replay: the device's order vs the server's order\n");
    let _ = writeln!(s, "- train: `{}` ({} sessions)", facts.train, facts.train_sessions);
    let _ = writeln!(s, "- test: `{}` ({} cases, {} lines skipped)", facts.test, device.cases(), facts.skipped_lines);
    let _ = writeln!(
        s,
        "- candidates per server answer: {}; categories: {}",
        facts.candidates,
        if facts.categories { "yes" } else { "no" }
    );
    let _ = writeln!(s, "- replay time: {:.1} s\n", facts.seconds);
    let mut header = String::from("| order |");
    let mut rule = String::from("|---|");
    for k in &ks {
        let _ = write!(header, " HR@{k} | MRR@{k} |");
        rule.push_str("---|---|");
    }
    let _ = writeln!(s, "{header}\n{rule}");
    let _ = writeln!(s, "{}", row("server", server, &ks));
    for (baseline, acc) in &baselines.overall {
        let _ = writeln!(s, "{}", row(&format!("{} (server-side baseline)", baseline.name()), acc, &ks));
    }
    let _ = writeln!(s, "{}", row("device", device, &ks));
    if evaluation.rerank_only.cases() > 0 {
        let _ = writeln!(s, "{}", row("device, current answer only", &evaluation.rerank_only, &ks));
    }
    if !by_length.is_empty() {
        let _ = writeln!(s, "\n## By prefix length (HR@{k} / MRR@{k})\n");
        let _ = writeln!(s, "| prefix length | cases | server | device |\n|---|---|---|---|");
        for (name, sv, dv) in by_length {
            let (a, b) = (sv.at(k), dv.at(k));
            let _ =
                writeln!(s, "| {name} | {} | {:.2} / {:.2} | {:.2} / {:.2} |", dv.cases(), a.hr, a.mrr, b.hr, b.mrr);
        }
    }
    if !evaluation.by_return.is_empty() && !baselines.session_pop_by_return.is_empty() {
        let _ = writeln!(s, "\n## Return or explore (HR@{k} / MRR@{k})\n");
        let _ = writeln!(s, "| label | cases | server | S-POP | device |\n|---|---|---|---|---|");
        for ((name, sv, dv), pop) in evaluation.by_return.iter().zip(&baselines.session_pop_by_return) {
            let (a, p, b) = (sv.at(k), pop.at(k), dv.at(k));
            let _ = writeln!(
                s,
                "| {name} | {} | {:.2} / {:.2} | {:.2} / {:.2} | {:.2} / {:.2} |",
                dv.cases(),
                a.hr,
                a.mrr,
                p.hr,
                p.mrr,
                b.hr,
                b.mrr
            );
        }
    }
    if !ablation.is_empty() {
        let _ =
            writeln!(s, "\n## Ablation: each signal family switched off (weights refit on validation without it)\n");
        let _ = writeln!(s, "{header}\n{rule}");
        let _ = writeln!(s, "{}", row("all signals (shipped weights)", device, &ks));
        for a in ablation {
            let name = if a.family == REFIT_ALL {
                "all signals, refit like the rows below".to_owned()
            } else {
                format!("without {}", a.family)
            };
            let _ = writeln!(s, "{}", row(&name, &a.device, &ks));
        }
    }
    let _ = writeln!(s, "\nThe device ranks the current answer pooled with what earlier answers of the session offered;\n\"current answer only\" ranks just the server's answer about the last item.");
    let _ = writeln!(s, "\nHR and MRR in percent. Chart: `hr_at_k.svg`.");
    s
}

/// An SVG line chart of HR@K, K = 1..=50, for the server and the device.
pub fn svg_chart(server: &Accuracy, device: &Accuracy) -> String {
    let (w, h, left, right, top, bottom) = (640.0, 400.0, 60.0, 20.0, 30.0, 50.0);
    let top_hr = (1..=MAX_K).map(|k| server.at(k).hr.max(device.at(k).hr)).fold(0.0, f64::max);
    let y_max = ((top_hr / 10.0).ceil() * 10.0).max(10.0);
    let x = |k: usize| left + (k - 1) as f64 / (MAX_K - 1) as f64 * (w - left - right);
    let y = |v: f64| top + (1.0 - v / y_max) * (h - top - bottom);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="18" text-anchor="middle" font-size="14">HR@K (%) for K = 1..{MAX_K}</text>"#,
        w / 2.0
    );
    for i in 0..=5 {
        let v = y_max * i as f64 / 5.0;
        let _ = writeln!(
            s,
            r##"<line x1="{left}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{v:.0}</text>"##,
            w - right,
            left - 6.0,
            y(v) + 4.0,
            y = y(v)
        );
    }
    for k in [1, 10, 20, 30, 40, 50] {
        let _ = writeln!(s, r#"<text x="{:.1}" y="{}" text-anchor="middle">{k}</text>"#, x(k), h - bottom + 18.0);
    }
    let _ = writeln!(s, r#"<text x="{}" y="{}" text-anchor="middle">K</text>"#, w / 2.0, h - 10.0);
    for (acc, colour, name, ly) in [(server, "#888888", "server", 40.0), (device, "#1f6feb", "device", 58.0)] {
        let points: Vec<String> = (1..=MAX_K).map(|k| format!("{:.1},{:.1}", x(k), y(acc.at(k).hr))).collect();
        let _ =
            writeln!(s, r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#, points.join(" "));
        let _ = writeln!(
            s,
            r#"<line x1="{}" x2="{}" y1="{ly}" y2="{ly}" stroke="{colour}" stroke-width="3"/><text x="{}" y="{}">{name}</text>"#,
            left + 10.0,
            left + 30.0,
            left + 36.0,
            ly + 4.0
        );
    }
    s.push_str("</svg>\n");
    s
}

/// The last stdout line with `--json` (percentages).
pub fn json_line(server: &Accuracy, device: &Accuracy, k: usize) -> String {
    let (s, d) = (server.at(k), device.at(k));
    let round = |v: f64| (v * 100.0).round() / 100.0;
    json!({
        "cases": device.cases(),
        "k": k,
        "server": { "hr": round(s.hr), "mrr": round(s.mrr) },
        "device": { "hr": round(d.hr), "mrr": round(d.mrr) },
    })
    .to_string()
}

/// One line of validation numbers (server vs device, HR and MRR at 10 and 20) for the log.
pub fn validation_line(evaluation: &Evaluation, cases: usize, epoch: usize) -> String {
    let (s10, s20, d10, d20) =
        (evaluation.server.at(10), evaluation.server.at(20), evaluation.device.at(10), evaluation.device.at(20));
    format!(
        "validation replay ({cases} cases of later sessions, never fitted on; best epoch {epoch}): server HR@10 {:.2} MRR@10 {:.2} HR@20 {:.2} MRR@20 {:.2} | device HR@10 {:.2} MRR@10 {:.2} HR@20 {:.2} MRR@20 {:.2}",
        s10.hr, s10.mrr, s20.hr, s20.mrr, d10.hr, d10.mrr, d20.hr, d20.mrr
    ) + &evaluation
        .by_length
        .iter()
        .map(|(bucket, server, device)| format!("\n  prefix {bucket}: {} cases, server {:.2}/{:.2}, device {:.2}/{:.2}", device.cases(), server.at(20).hr, server.at(20).mrr, device.at(20).hr, device.at(20).mrr))
        .collect::<String>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_carry_the_numbers() {
        let mut server = Accuracy::default();
        let mut device = Accuracy::default();
        server.add(Some(15));
        server.add(None);
        device.add(Some(0));
        device.add(Some(1));
        let line = json_line(&server, &device, 20);
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["cases"], 2);
        assert_eq!(value["server"]["hr"], 50.0);
        assert_eq!(value["device"]["mrr"], 75.0);
        let evaluation = Evaluation {
            server: server.clone(),
            device: device.clone(),
            rerank_only: Accuracy::default(),
            by_length: Vec::new(),
            by_return: Vec::new(),
        };
        let md = markdown(&RunFacts::default(), &evaluation, 20, &Baselines::default(), &[]);
        assert!(md.contains("| device | 100.00 | 75.00 | 100.00 | 75.00 |"), "{md}");
        let svg = svg_chart(&server, &device);
        assert!(svg.starts_with("<svg") && svg.matches("<polyline").count() == 2);
    }
}
