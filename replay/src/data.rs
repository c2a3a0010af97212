//! Reading session logs: training sessions (one per line, or `prefix<TAB>label[...]` lines that
//! are whole sessions), test cases (`prefix<TAB>label`, extra columns ignored), and an optional
//! `item<TAB>category` file. Item ids are kept as the file spells them and numbered densely.

use std::collections::HashMap;
use std::path::Path;

use crate::ReplayError;

/// Every item id seen, numbered in order of first appearance: the answers crate's, so replay and
/// service number items alike.
pub use answers::input::Vocabulary;

/// One test case: the items viewed so far and the one viewed next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    pub prefix: Vec<u32>,
    pub label: u32,
}

fn read(path: &Path) -> Result<String, ReplayError> {
    std::fs::read_to_string(path)
        .map_err(|e| ReplayError::Read { path: path.display().to_string(), reason: e.to_string() })
}

fn tokens(field: &str, vocab: &mut Vocabulary) -> Vec<u32> {
    field.split_whitespace().map(|t| vocab.intern(t)).collect()
}

/// Parses training sessions. A line with a tab is `prefix<TAB>label[<TAB>...]` and stands for
/// the session `prefix + label`; a line without one is the session's items.
pub fn parse_sessions(text: &str, vocab: &mut Vocabulary) -> Vec<Vec<u32>> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let mut session = tokens(fields.next().unwrap_or(""), vocab);
            if let Some(label) = fields.next() {
                session.extend(tokens(label, vocab));
            }
            (!session.is_empty()).then_some(session)
        })
        .collect()
}

/// Parses test cases. Lines without a label or prefix are skipped; the count of skipped lines is
/// returned so the report can say so.
pub fn parse_cases(text: &str, vocab: &mut Vocabulary) -> (Vec<Case>, usize) {
    let mut skipped = 0;
    let mut cases = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut fields = line.split('\t');
        let prefix = tokens(fields.next().unwrap_or(""), vocab);
        let label = fields.next().map(|f| tokens(f, vocab));
        match label.as_deref() {
            Some([label]) if !prefix.is_empty() => cases.push(Case { prefix, label: *label }),
            _ => skipped += 1,
        }
    }
    (cases, skipped)
}

/// Parses `item<TAB>category` lines into a category per item (items absent from the
/// vocabulary are added, so the table also covers items only the categories file knows).
pub fn parse_categories(text: &str, vocab: &mut Vocabulary) -> HashMap<u32, String> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let item = fields.next()?.trim();
            let category = fields.next()?.trim();
            (!item.is_empty() && !category.is_empty()).then(|| (vocab.intern(item), category.to_owned()))
        })
        .collect()
}

pub fn read_sessions(path: &Path, vocab: &mut Vocabulary) -> Result<Vec<Vec<u32>>, ReplayError> {
    let sessions = parse_sessions(&read(path)?, vocab);
    if sessions.is_empty() {
        return Err(ReplayError::Empty { path: path.display().to_string(), what: "training sessions" });
    }
    Ok(sessions)
}

pub fn read_cases(path: &Path, vocab: &mut Vocabulary) -> Result<(Vec<Case>, usize), ReplayError> {
    let (cases, skipped) = parse_cases(&read(path)?, vocab);
    if cases.is_empty() {
        return Err(ReplayError::Empty { path: path.display().to_string(), what: "test cases (prefix<TAB>label)" });
    }
    Ok((cases, skipped))
}

pub fn read_categories(path: &Path, vocab: &mut Vocabulary) -> Result<HashMap<u32, String>, ReplayError> {
    Ok(parse_categories(&read(path)?, vocab))
}

/// Validation cases cut from the training sessions: the last `share` of sessions (by file
/// order) are held out, and every next-item step of them becomes a case. Returns the sessions
/// kept for building the server side and the cases.
pub fn validation_split(sessions: &[Vec<u32>], share: f64) -> (Vec<Vec<u32>>, Vec<Case>) {
    let held = ((sessions.len() as f64) * share.clamp(0.0, 0.9)).round() as usize;
    let cut = sessions.len() - held;
    let kept = sessions[..cut].to_vec();
    let mut cases = Vec::new();
    for session in &sessions[cut..] {
        for t in 1..session.len() {
            cases.push(Case { prefix: session[..t].to_vec(), label: session[t] });
        }
    }
    (kept, cases)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_training_formats_and_test_cases() {
        let mut vocab = Vocabulary::default();
        let sessions = parse_sessions("1 2 3\n\n4 5\t6\t10 10\t11\n", &mut vocab);
        assert_eq!(sessions.len(), 2);
        assert_eq!(sessions[1].iter().map(|&i| vocab.name(i)).collect::<Vec<_>>(), vec!["4", "5", "6"]);
        let (cases, skipped) = parse_cases("1 2\t3\nbroken\n\t4\n5\t6\t7 7\t8\n", &mut vocab);
        assert_eq!(cases.len(), 2);
        assert_eq!(skipped, 2);
        assert_eq!(vocab.name(cases[1].label), "6");
        let cats = parse_categories("1\tshoes\n2\t\n", &mut vocab);
        assert_eq!(cats.get(&vocab.get("1").unwrap()).map(String::as_str), Some("shoes"));
        assert_eq!(cats.len(), 1);
    }

    #[test]
    fn validation_split_holds_out_the_last_sessions() {
        let sessions = vec![vec![1, 2], vec![3, 4, 5], vec![6, 7, 8], vec![9]];
        let (kept, cases) = validation_split(&sessions, 0.5);
        assert_eq!(kept, vec![vec![1, 2], vec![3, 4, 5]]);
        assert_eq!(cases, vec![Case { prefix: vec![6], label: 7 }, Case { prefix: vec![6, 7], label: 8 }]);
    }
}
