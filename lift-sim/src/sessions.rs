//! Replay sessions (one per line, item ids separated by spaces) and the server-side
//! co-visitation neighbours that decide which clicks count as "recommended".

use std::collections::HashMap;

use thiserror::Error;

/// Items within this many positions of each other in a session co-occur.
const WINDOW: usize = 3;

#[derive(Debug, Error, PartialEq)]
pub enum SessionsError {
    #[error("line {line}: \"{token}\" is not an item id (expected unsigned integers separated by spaces)")]
    BadToken { line: usize, token: String },
    #[error("no sessions found: the file is empty")]
    Empty,
}

/// Parses `prefix` lines; blank lines are skipped.
pub fn parse_sessions(text: &str) -> Result<Vec<Vec<u32>>, SessionsError> {
    let mut sessions = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let items = line
            .split_whitespace()
            .map(|token| {
                token.parse::<u32>().map_err(|_| SessionsError::BadToken { line: i + 1, token: token.to_string() })
            })
            .collect::<Result<Vec<u32>, _>>()?;
        if !items.is_empty() {
            sessions.push(items);
        }
    }
    if sessions.is_empty() {
        return Err(SessionsError::Empty);
    }
    Ok(sessions)
}

/// Each item's strongest co-visited items, as a shop's server would compute and send them.
pub struct Neighbours {
    top: HashMap<u32, Vec<u32>>,
}

impl Neighbours {
    /// Counts co-occurrences within [`WINDOW`] positions and keeps the `k` strongest per item
    /// (ties broken by the smaller id).
    pub fn build(sessions: &[Vec<u32>], k: usize) -> Neighbours {
        let mut counts: HashMap<u32, HashMap<u32, u32>> = HashMap::new();
        for session in sessions {
            for (i, &a) in session.iter().enumerate() {
                for &b in session.iter().skip(i + 1).take(WINDOW) {
                    if a != b {
                        *counts.entry(a).or_default().entry(b).or_default() += 1;
                        *counts.entry(b).or_default().entry(a).or_default() += 1;
                    }
                }
            }
        }
        let top = counts
            .into_iter()
            .map(|(item, others)| {
                let mut ranked: Vec<(u32, u32)> = others.into_iter().collect();
                ranked.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
                (item, ranked.into_iter().take(k).map(|(other, _)| other).collect())
            })
            .collect();
        Neighbours { top }
    }

    /// Would the server have recommended `next` on the page of `previous`?
    pub fn recommends(&self, previous: u32, next: u32) -> bool {
        self.top.get(&previous).is_some_and(|list| list.contains(&next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_reports_the_bad_line() {
        assert_eq!(parse_sessions("1 2\n\n3\n").unwrap(), vec![vec![1, 2], vec![3]]);
        assert_eq!(parse_sessions("1 2\n3 x\n"), Err(SessionsError::BadToken { line: 2, token: "x".into() }));
        assert_eq!(parse_sessions("\n \n"), Err(SessionsError::Empty));
    }

    #[test]
    fn neighbours_follow_co_visitation() {
        // 1–2 co-occur 3 times, 1–3 twice, 1–4 once; 1–5 are 4 positions apart (outside the window).
        let sessions = parse_sessions("1 2\n2 1\n1 2 3\n3 1\n1 4\n1 6 7 8 5\n").unwrap();
        let n = Neighbours::build(&sessions, 2);
        assert!(n.recommends(1, 2));
        assert!(n.recommends(1, 3));
        assert!(!n.recommends(1, 4), "only the top 2 are kept");
        assert!(!n.recommends(1, 5));
        assert!(n.recommends(2, 1));
        assert!(!n.recommends(99, 1));
    }
}
