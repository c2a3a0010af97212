//! Session logs in two formats:
//! - **text** (the replay's): one session per line, item ids separated by spaces in click order;
//!   a line `prefix<TAB>label[<TAB>...]` is the session `prefix + label`;
//! - **JSON Lines** events: `{"session": "s1", "item": "sku-1", "type": "view", "timestamp": 1700000000}`
//!   (session and item as strings or numbers; timestamp in seconds or an RFC 3339-free number;
//!   `type` one of view, click, cart, purchase). Events are grouped by session and ordered by
//!   timestamp; sessions are ordered by their first event (oldest first, as VMIS-kNN needs).

use std::collections::HashMap;

use serde::Deserialize;
use shop_personalizer::catalog::validate_item_id;

use crate::input::{InputError, LineReport, Vocabulary};
use crate::recency::SECONDS_PER_DAY;

/// A log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    JsonLines,
}

impl LogFormat {
    /// From a flag value, or from the file name (`.jsonl` / `.ndjson` are JSON Lines).
    pub fn choose(flag: Option<&str>, path: &str) -> Result<Self, InputError> {
        match flag {
            Some("text") => Ok(Self::Text),
            Some("jsonl") => Ok(Self::JsonLines),
            Some(other) => Err(InputError::Format(format!("log format {other}: use text or jsonl"))),
            None if path.ends_with(".jsonl") || path.ends_with(".ndjson") => Ok(Self::JsonLines),
            None => Ok(Self::Text),
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Id {
    Text(String),
    Number(u64),
}

impl Id {
    fn into_string(self) -> String {
        match self {
            Id::Text(t) => t,
            Id::Number(n) => n.to_string(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Event {
    session: Id,
    item: Id,
    #[serde(rename = "type")]
    kind: String,
    timestamp: f64,
}

const EVENT_TYPES: [&str; 4] = ["view", "click", "cart", "purchase"];

/// Parses a log into sessions over `vocab`. Blank lines are ignored.
pub fn parse_log(
    text: &str,
    format: LogFormat,
    vocab: &mut Vocabulary,
    report: &mut LineReport,
) -> Result<Vec<Vec<u32>>, InputError> {
    Ok(parse_timed_log(text, format, vocab, report)?.0)
}

/// Sessions and, when the log has timestamps, each session's time in days.
pub type TimedLog = (Vec<Vec<u32>>, Option<Vec<f64>>);

/// As [`parse_log`], with each session's time in days (its last event's timestamp / 86,400)
/// when the format has timestamps (JSON Lines), `None` for a text log.
pub fn parse_timed_log(
    text: &str,
    format: LogFormat,
    vocab: &mut Vocabulary,
    report: &mut LineReport,
) -> Result<TimedLog, InputError> {
    let (sessions, times) = match format {
        LogFormat::Text => (parse_text(text, vocab, report)?, None),
        LogFormat::JsonLines => {
            let (sessions, times) = parse_events(text, vocab, report)?;
            (sessions, Some(times))
        }
    };
    if sessions.is_empty() {
        return Err(InputError::Empty { what: "the session log" });
    }
    Ok((sessions, times))
}

fn parse_text(text: &str, vocab: &mut Vocabulary, report: &mut LineReport) -> Result<Vec<Vec<u32>>, InputError> {
    let mut sessions = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut fields = line.split('\t');
        let prefix = fields.next().unwrap_or("");
        let label = fields.next().unwrap_or("");
        if prefix.chars().chain(label.chars()).any(|c| c.is_control() && c != '\r') {
            report.bad(n + 1, "control character in an item id")?;
            continue;
        }
        let mut tokens = prefix.split_whitespace().chain(label.split_whitespace());
        if let Some(e) = tokens.find_map(|t| validate_item_id(t).err()) {
            report.bad(n + 1, e.to_string())?;
            continue;
        }
        let session: Vec<u32> =
            prefix.split_whitespace().chain(label.split_whitespace()).map(|t| vocab.intern(t)).collect();
        if session.is_empty() {
            report.bad(n + 1, "no item id before the tab")?;
            continue;
        }
        sessions.push(session);
    }
    Ok(sessions)
}

type TimedSessions = (Vec<Vec<u32>>, Vec<f64>);

fn parse_events(text: &str, vocab: &mut Vocabulary, report: &mut LineReport) -> Result<TimedSessions, InputError> {
    // session → (first timestamp, first line, [(timestamp, line, item)])
    let mut by_session: HashMap<String, Vec<(f64, usize, u32)>> = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let event: Event = match serde_json::from_str(line) {
            Ok(event) => event,
            Err(e) => {
                report.bad(n + 1, e.to_string())?;
                continue;
            }
        };
        if !EVENT_TYPES.contains(&event.kind.as_str()) {
            report.bad(n + 1, format!("unknown event type {:?}: use one of {}", event.kind, EVENT_TYPES.join(", ")))?;
            continue;
        }
        if !event.timestamp.is_finite() {
            report.bad(n + 1, "timestamp is not a finite number")?;
            continue;
        }
        let item = event.item.into_string();
        if let Err(e) = validate_item_id(&item) {
            report.bad(n + 1, e.to_string())?;
            continue;
        }
        let item = vocab.intern(&item);
        by_session.entry(event.session.into_string()).or_default().push((event.timestamp, n, item));
    }
    let mut sessions: Vec<Vec<(f64, usize, u32)>> = by_session.into_values().collect();
    for events in &mut sessions {
        events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    }
    sessions.sort_by(|a, b| a[0].0.total_cmp(&b[0].0).then(a[0].1.cmp(&b[0].1)));
    let days = sessions.iter().map(|events| events[events.len() - 1].0 / SECONDS_PER_DAY).collect();
    Ok((sessions.into_iter().map(|events| events.into_iter().map(|e| e.2).collect()).collect(), days))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::OnBadLine;

    #[test]
    fn text_sessions_and_the_tab_form() {
        let mut vocab = Vocabulary::default();
        let mut report = LineReport::new("log", OnBadLine::Skip);
        let s = parse_log("1 2 3\n\n4 5\t6\t10 10\n\t7\n", LogFormat::Text, &mut vocab, &mut report).unwrap();
        assert_eq!(s.len(), 3, "a tab line without prefix is the session of its label");
        assert_eq!(s[1].iter().map(|&i| vocab.name(i)).collect::<Vec<_>>(), vec!["4", "5", "6"]);
        assert_eq!(report.bad.len(), 0);
        let mut refuse = LineReport::new("log", OnBadLine::Refuse);
        let long = format!("1 2\n{}\n", "x".repeat(5000));
        let error = parse_log(&long, LogFormat::Text, &mut vocab, &mut refuse).unwrap_err();
        assert!(error.to_string().contains("line 2"), "{error}");
    }

    #[test]
    fn events_group_by_session_in_time_order_and_bad_lines_have_numbers() {
        let log = concat!(
            "{\"session\":\"b\",\"item\":\"y\",\"type\":\"view\",\"timestamp\":20}\n",
            "{\"session\":\"a\",\"item\":7,\"type\":\"view\",\"timestamp\":11}\n",
            "not json\n",
            "{\"session\":\"a\",\"item\":\"x\",\"type\":\"view\",\"timestamp\":10}\n",
            "{\"session\":\"a\",\"item\":\"x\",\"type\":\"teleport\",\"timestamp\":12}\n",
        );
        let mut vocab = Vocabulary::default();
        let mut report = LineReport::new("log", OnBadLine::Skip);
        let s = parse_log(log, LogFormat::JsonLines, &mut vocab, &mut report).unwrap();
        let names: Vec<Vec<&str>> = s.iter().map(|s| s.iter().map(|&i| vocab.name(i)).collect()).collect();
        assert_eq!(names, vec![vec!["x", "7"], vec!["y"]]);
        let mut again = LineReport::new("log", OnBadLine::Skip);
        let (_, times) = parse_timed_log(log, LogFormat::JsonLines, &mut vocab, &mut again).unwrap();
        let expected = [11.0 / SECONDS_PER_DAY, 20.0 / SECONDS_PER_DAY];
        assert_eq!(times.as_deref(), Some(&expected[..]), "each session at its last event, in days");
        assert_eq!(report.bad.iter().map(|b| b.line).collect::<Vec<_>>(), vec![3, 5]);
        let mut refuse = LineReport::new("log", OnBadLine::Refuse);
        let error = parse_log(log, LogFormat::JsonLines, &mut Vocabulary::default(), &mut refuse).unwrap_err();
        assert_eq!(error.code(), "input_malformed_line");
        assert!(error.to_string().contains("line 3"), "{error}");
    }

    #[test]
    fn an_empty_log_is_an_error() {
        let mut report = LineReport::new("log", OnBadLine::Skip);
        let error = parse_log("\n\n", LogFormat::Text, &mut Vocabulary::default(), &mut report).unwrap_err();
        assert_eq!(error.code(), "input_empty");
    }
}
