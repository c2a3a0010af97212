//! Placing page sections under the shop's constraints: which sections fit, at which positions.
//!
//! Every section has a position window `[min, max]` (0-based, inclusive; `max` defaults to the
//! end of the page); required sections must be shown. A set of shown sections is valid when its
//! sections can occupy positions `0..n` one-to-one inside their windows. The search is a
//! bipartite matching (Kuhn's augmenting paths): required sections first, then the sections the
//! shopper is likely to want, then fillers for positions still empty; augmenting paths never
//! unmatch a vertex, so the result keeps every required section whenever any valid page exists
//! (Mendelsohn–Dulmage). When none exists, [`diagnose`] names the constraint to fix.

use thiserror::Error;

use crate::error_code::{Coded, ErrorCode};

/// Most sections accepted on one page.
pub const MAX_SECTIONS: usize = 32;

/// Why no valid layout exists, or the input was refused. Each message says what to change.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum LayoutError {
    #[error("no sections given: pass the page's candidate sections")]
    NoSections,
    #[error("{0} sections given; the limit is {MAX_SECTIONS}: merge or drop some")]
    TooManySections(usize),
    #[error("section #{0} has an empty id: give every section a unique, non-empty id")]
    EmptyId(usize),
    #[error("section id \"{0}\" appears twice: section ids must be unique")]
    DuplicateId(String),
    #[error("maxSections is 0: allow at least one section on the page")]
    NoSlots,
    #[error("section \"{id}\" has minPosition {min} > maxPosition {max}: swap or widen them")]
    MinAfterMax { id: String, min: u32, max: u32 },
    #[error(
        "{required} sections are required but the page holds only {slots}: raise maxSections or make some optional"
    )]
    TooManyRequired { required: usize, slots: usize },
    #[error("no section may take the first position (every minPosition is above 0): let at least one section start at position 0")]
    NothingFirst,
    #[error("required section \"{id}\" needs position ≥ {min}, but the page holds only {slots} sections: lower its minPosition, raise maxSections or add sections")]
    PositionBeyondPage { id: String, min: u32, slots: usize },
    #[error("required sections {ids:?} all need positions {first}..={last}, which hold only {room}: widen one's minPosition/maxPosition or make one optional")]
    Overbooked { ids: Vec<String>, first: u32, last: u32, room: u32 },
    #[error("required section \"{id}\" needs position ≥ {min}, but too few sections can fill the positions before it: lower its minPosition or add optional sections that may go first")]
    NotEnoughFillers { id: String, min: u32 },
}

impl Coded for LayoutError {
    /// Always `invalidArgument`: the sections or the page's limits cannot make a page.
    fn code(&self) -> ErrorCode {
        match self {
            LayoutError::NoSections
            | LayoutError::TooManySections(_)
            | LayoutError::EmptyId(_)
            | LayoutError::DuplicateId(_)
            | LayoutError::NoSlots
            | LayoutError::MinAfterMax { .. }
            | LayoutError::TooManyRequired { .. }
            | LayoutError::NothingFirst
            | LayoutError::PositionBeyondPage { .. }
            | LayoutError::Overbooked { .. }
            | LayoutError::NotEnoughFillers { .. } => ErrorCode::InvalidArgument,
        }
    }
}

/// A section reduced to what placement needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slotting {
    pub required: bool,
    pub min: u32,
    /// Inclusive; `u32::MAX` when unbounded.
    pub max: u32,
}

impl Slotting {
    fn fits(&self, position: usize) -> bool {
        (self.min as usize) <= position && position <= self.max as usize
    }
}

/// Kuhn's matching of sections to positions `0..n`.
struct Matching<'a> {
    sections: &'a [Slotting],
    section_at: Vec<Option<usize>>,
    position_of: Vec<Option<usize>>,
    seen: Vec<bool>,
}

impl<'a> Matching<'a> {
    fn new(sections: &'a [Slotting], n: usize) -> Self {
        Matching { sections, section_at: vec![None; n], position_of: vec![None; sections.len()], seen: vec![false; n] }
    }

    /// Tries to place `section`, moving others along augmenting paths.
    fn place_section(&mut self, section: usize) -> bool {
        self.seen.fill(false);
        self.augment_from_section(section)
    }

    fn augment_from_section(&mut self, section: usize) -> bool {
        for position in 0..self.section_at.len() {
            if !self.sections[section].fits(position) || self.seen[position] {
                continue;
            }
            self.seen[position] = true;
            let free = match self.section_at[position] {
                None => true,
                Some(other) => self.augment_from_section(other),
            };
            if free {
                self.section_at[position] = Some(section);
                self.position_of[section] = Some(position);
                return true;
            }
        }
        false
    }

    /// Tries to fill an empty `position`, preferring sections early in `order`; a placed
    /// section may move here if its old position can be refilled in turn.
    fn fill_position(&mut self, position: usize, order: &[usize], visited: &mut [bool]) -> bool {
        for &candidate in order {
            if visited[candidate] || !self.sections[candidate].fits(position) {
                continue;
            }
            visited[candidate] = true;
            let refilled = match self.position_of[candidate] {
                None => true,
                Some(from) => {
                    self.section_at[from] = None;
                    let ok = self.fill_position(from, order, visited);
                    if !ok {
                        self.section_at[from] = Some(candidate);
                    }
                    ok
                }
            };
            if refilled {
                self.section_at[position] = Some(candidate);
                self.position_of[candidate] = Some(position);
                return true;
            }
        }
        false
    }
}

/// The sections to show (indices into `sections`) for a page of exactly `n` positions, or
/// `None` when no valid page of that size exists. `wanted` lists optional sections the shopper
/// likely wants, best first; `order` ranks every section, best first, for fillers.
fn select_for_size(sections: &[Slotting], n: usize, wanted: &[usize], order: &[usize]) -> Option<Vec<usize>> {
    let mut matching = Matching::new(sections, n);
    for (i, _) in sections.iter().enumerate().filter(|(_, s)| s.required) {
        if !matching.place_section(i) {
            return None;
        }
    }
    for &i in wanted {
        if matching.position_of[i].is_none() {
            matching.place_section(i);
        }
    }
    for position in 0..n {
        if matching.section_at[position].is_none() {
            let mut visited = vec![false; sections.len()];
            if !matching.fill_position(position, order, &mut visited) {
                return None;
            }
        }
    }
    Some(matching.section_at.iter().flatten().copied().collect())
}

/// Chooses the shown set: every required section, as many `wanted` ones as fit, and the fewest
/// fillers; `None` when no valid page exists within `slots` positions.
pub fn select_sections(sections: &[Slotting], slots: usize, wanted: &[usize], order: &[usize]) -> Option<Vec<usize>> {
    let required = sections.iter().filter(|s| s.required).count();
    let wanted_optional = wanted.iter().filter(|&&i| !sections[i].required).count();
    let largest = slots.min(sections.len());
    // Fast path: the page of exactly the required and wanted sections, when it holds them all.
    let natural = (required + wanted_optional).clamp(1, largest);
    if let Some(chosen) = select_for_size(sections, natural, wanted, order) {
        if chosen.iter().filter(|&&i| !sections[i].required && wanted.contains(&i)).count() == wanted_optional {
            return Some(chosen);
        }
    }
    let mut best: Option<(usize, usize, Vec<usize>)> = None;
    for n in required.max(1)..=largest {
        if let Some(chosen) = select_for_size(sections, n, wanted, order) {
            let wanted_shown = chosen.iter().filter(|&&i| !sections[i].required && wanted.contains(&i)).count();
            let fillers = chosen.iter().filter(|&&i| !sections[i].required && !wanted.contains(&i)).count();
            let better = match &best {
                None => true,
                Some((w, f, _)) => wanted_shown > *w || (wanted_shown == *w && fillers < *f),
            };
            if better {
                best = Some((wanted_shown, fillers, chosen));
            }
            // Every wanted section is shown: a larger page could only add fillers.
            if wanted_shown == wanted_optional {
                break;
            }
        }
    }
    best.map(|(_, _, chosen)| chosen)
}

/// True when `rest` can occupy positions `start..start + rest.len()` one-to-one
/// (earliest-deadline-first is exact for intervals).
fn fits_from(sections: &[Slotting], start: usize, rest: &[usize]) -> bool {
    let mut pending: Vec<usize> = rest.to_vec();
    for position in start..start + rest.len() {
        let next = pending
            .iter()
            .enumerate()
            .filter(|(_, &s)| sections[s].fits(position))
            .min_by_key(|(_, &s)| sections[s].max)
            .map(|(k, _)| k);
        match next {
            Some(k) => {
                pending.swap_remove(k);
            }
            None => return false,
        }
        if pending.iter().any(|&s| (sections[s].max as usize) <= position) {
            return false;
        }
    }
    true
}

/// Orders a valid shown set: at each position the best-ranked section (by `rank`, lower is
/// better) that fits there and leaves the rest placeable.
pub fn order_sections(sections: &[Slotting], shown: &[usize], rank: &[usize]) -> Vec<usize> {
    let mut rest: Vec<usize> = shown.to_vec();
    crate::ordering::sort_by_key(&mut rest, |&s| rank[s]);
    // Fast path: no shown section is constrained within this page, so any order is valid.
    if rest.iter().all(|&s| sections[s].min == 0 && sections[s].max as usize >= shown.len().saturating_sub(1)) {
        return rest;
    }
    let mut placed = Vec::with_capacity(rest.len());
    for position in 0..shown.len() {
        let pick = (0..rest.len()).find(|&k| {
            let candidate = rest[k];
            let mut others = rest.clone();
            others.remove(k);
            sections[candidate].fits(position) && fits_from(sections, position + 1, &others)
        });
        // A valid set always has a pick; fall back to the best-ranked to stay total.
        let k = pick.unwrap_or(0);
        placed.push(rest.remove(k));
    }
    placed
}

/// Explains why no valid page exists within `slots` positions.
pub fn diagnose(ids: &[String], sections: &[Slotting], slots: usize) -> LayoutError {
    let required: Vec<usize> = (0..sections.len()).filter(|&i| sections[i].required).collect();
    if required.len() > slots {
        return LayoutError::TooManyRequired { required: required.len(), slots };
    }
    if let Some(&i) = required.iter().find(|&&i| sections[i].min as usize >= slots) {
        return LayoutError::PositionBeyondPage { id: ids[i].clone(), min: sections[i].min, slots };
    }
    let last = slots.saturating_sub(1) as u32;
    for width in 0..=last {
        for first in 0..=(last - width) {
            let end = first + width;
            let inside: Vec<String> = required
                .iter()
                .filter(|&&i| sections[i].min >= first && sections[i].max.min(last) <= end)
                .map(|&i| ids[i].clone())
                .collect();
            if inside.len() as u32 > width + 1 {
                return LayoutError::Overbooked { ids: inside, first, last: end, room: width + 1 };
            }
        }
    }
    let Some(deepest) = required.iter().max_by_key(|&&i| sections[i].min).copied() else {
        return LayoutError::NothingFirst;
    };
    LayoutError::NotEnoughFillers { id: ids[deepest].clone(), min: sections[deepest].min }
}
