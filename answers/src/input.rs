//! What is shared by the log and catalogue readers: the item vocabulary, the line report, and
//! the choice between skipping and refusing malformed lines.

use std::collections::HashMap;

use thiserror::Error;

/// What to do with a malformed line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnBadLine {
    /// Leave it out and report it.
    #[default]
    Skip,
    /// Stop at the first one.
    Refuse,
}

impl OnBadLine {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "skip" => Some(Self::Skip),
            "refuse" => Some(Self::Refuse),
            _ => None,
        }
    }
}

/// One malformed line: 1-based number and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub line: usize,
    pub reason: String,
}

/// Why an input could not be read.
#[derive(Debug, Error)]
pub enum InputError {
    #[error("input_unreadable: cannot read {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("input_malformed_line: {what} line {line}: {reason} (pass --on-bad-line skip to leave such lines out)")]
    Malformed { what: &'static str, line: usize, reason: String },
    #[error("input_empty: {what} holds no usable line: check the file and its format")]
    Empty { what: &'static str },
    #[error("input_unknown_format: {0}")]
    Format(String),
}

impl InputError {
    /// The stable code, the message's first word.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unreadable { .. } => "input_unreadable",
            Self::Malformed { .. } => "input_malformed_line",
            Self::Empty { .. } => "input_empty",
            Self::Format(_) => "input_unknown_format",
        }
    }
}

/// Collects bad lines under a policy.
#[derive(Debug)]
pub struct LineReport {
    what: &'static str,
    policy: OnBadLine,
    pub bad: Vec<BadLine>,
}

impl LineReport {
    pub fn new(what: &'static str, policy: OnBadLine) -> Self {
        Self { what, policy, bad: Vec::new() }
    }

    /// Records line `line` (1-based) as malformed: an error under [`OnBadLine::Refuse`].
    pub fn bad(&mut self, line: usize, reason: impl Into<String>) -> Result<(), InputError> {
        let reason = reason.into();
        if self.policy == OnBadLine::Refuse {
            return Err(InputError::Malformed { what: self.what, line, reason });
        }
        self.bad.push(BadLine { line, reason });
        Ok(())
    }
}

/// Every item id seen, numbered densely in order of first appearance.
#[derive(Debug, Default, Clone)]
pub struct Vocabulary {
    index: HashMap<String, u32>,
    names: Vec<String>,
}

impl Vocabulary {
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(name.to_owned());
        self.index.insert(name.to_owned(), i);
        i
    }

    pub fn get(&self, name: &str) -> Option<u32> {
        self.index.get(name).copied()
    }

    pub fn name(&self, item: u32) -> &str {
        &self.names[item as usize]
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn heap_bytes(&self) -> usize {
        // Each name twice (list and map key) plus the map's slots.
        self.names.iter().map(|n| 2 * n.capacity() + 2 * 24 + 8).sum::<usize>() + self.index.capacity() * 8
    }
}

/// Reads a whole file as text.
pub fn read_text(path: &std::path::Path) -> Result<String, InputError> {
    std::fs::read_to_string(path)
        .map_err(|e| InputError::Unreadable { path: path.display().to_string(), reason: e.to_string() })
}
