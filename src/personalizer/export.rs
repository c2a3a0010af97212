//! `exportProfile()`: everything this library keeps for the shop, section by section, each with
//! what it is for in plain words. The profile is given as it is now in this page (`profile`);
//! every other key the library wrote is given exactly as stored, in the section its key belongs to.
//! A key no section claims lands in an `unexplained` section, so nothing stored is ever left out.

use crate::profile::stored::payload_text;
use crate::profile::{Profile, ProfileSummary};
use crate::storage::json_layout::pretty;
use crate::storage::json_text::{push_raw, push_str, push_u64, JsonText};
use crate::storage::{raw_json, KeyValueStore, StorageKeys};

/// The export's `format`.
pub const EXPORT_FORMAT: &str = "shop-personalizer/export";

/// One part of what is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportSection {
    pub name: &'static str,
    pub explanation: &'static str,
    /// The storage keys of this part (empty when nothing of it is stored now).
    pub keys: Vec<String>,
    /// Each key's stored value as JSON text (as stored, without surrounding whitespace; a value
    /// that is not JSON as a string), in the order of `keys`. Left out of the export when empty:
    /// for the profile, given above as it is now.
    pub stored: Vec<String>,
}

/// The sections: name, the key (after `shop-personalizer:<shop>:`; a trailing `:` matches every
/// key that starts so), what it is.
const SECTIONS: [(&str, &str, &str); 5] = [
    (
        "profile",
        "profile",
        "Your shopping profile: the `profile` above, as it is now in this page. stored: what was done \
         in the last minutes, kept beside it so that another open tab of this shop that writes at the \
         same moment adds it to its copy instead of losing it (left out once an item in it is \
         forgotten).",
    ),
    (
        "adaptation",
        "adapt",
        "Which layouts, offers and texts you respond to. bandit: per option (section:deals, \
         offer:welcome-10, copy:trail) how you engaged with it; holdout: a random draw that puts some \
         visitors in a group that sees the shop's defaults; offerHistory: when each offer was shown, \
         so limits on repeats hold; lift: visits, shown recommendations and orders counted since the \
         last anonymous report; feedback: decisions on this page awaiting your response.",
    ),
    (
        "rankingModel",
        "model",
        "The weights that order products for you. shared: the shop's model; personal: what this \
         device learned from your clicks, carts and orders; steps: how often it learned.",
    ),
    (
        "sync",
        "sync",
        "The shop's private learning. ledger: the privacy budget spent by the anonymous, noised \
         updates sent from this device; updates and reports waiting to be sent; the shop's signed \
         model. Nothing in it names you.",
    ),
    (
        "backups",
        "backup:",
        "Stored values that could not be read (damaged, or from a newer version), kept so that \
         nothing is lost; forget() removes them too.",
    ),
];

/// The index in `SECTIONS` of the section a key's name belongs to (a name ending in `:` is a prefix).
fn section_of(name: &str) -> Option<usize> {
    SECTIONS.iter().position(|(_, k, _)| if k.ends_with(':') { name.starts_with(k) } else { name == *k })
}

const UNEXPLAINED: &str = "Stored by this library under the shop's prefix but not described by this version.";

const EXPORT_EXPLANATION: &str = "Everything this shop's personalizer keeps on this device, section by \
section (see sections; each says what it is for). summary: what the shop's panel shows; profile: your \
shopping profile. Times are milliseconds since 1970-01-01 UTC. None of this leaves your device except \
as the anonymous, noised updates the sync section accounts for.";

/// A stored text as JSON: itself (without surrounding whitespace) when it is JSON.
fn as_json(raw: &str) -> Option<String> {
    raw_json(raw).map(str::to_owned)
}

/// A stored text that is not JSON, as a JSON string.
fn as_string(raw: &str) -> String {
    let mut text = String::with_capacity(raw.len() + 2);
    push_str(&mut text, raw);
    text
}

/// The `recent` member of a stored profile (see `carried.rs`), when it has one.
fn recent_member(raw: &str) -> Option<String> {
    let members = crate::storage::json_reading::object_members(raw).ok().flatten()?;
    let (_, recent) = members.into_iter().find(|(name, _)| name == "recent")?;
    as_json(recent)
}

/// The sections of everything stored under `keys` in `store`.
pub fn stored_sections<S: KeyValueStore>(store: &S, keys: &StorageKeys) -> Vec<ExportSection> {
    let mut sections: Vec<ExportSection> = SECTIONS
        .iter()
        .map(|&(name, _, explanation)| ExportSection { name, explanation, keys: Vec::new(), stored: Vec::new() })
        .collect();
    let mut unexplained =
        ExportSection { name: "unexplained", explanation: UNEXPLAINED, keys: Vec::new(), stored: Vec::new() };
    // In the store's order (no sort: a generic sort costs the core module code for no reader).
    for key in store.keys().unwrap_or_default().into_iter().filter(|k| keys.owns(k)) {
        let name = keys.name_of(&key);
        let at = section_of(name);
        let section = match at {
            Some(i) => &mut sections[i],
            None => &mut unexplained,
        };
        if section.name == "profile" {
            // The profile is above; what its stored value keeps beside it for other tabs is here.
            let raw = store.get(&key).ok().flatten().unwrap_or_default();
            if let Some(recent) = recent_member(&raw) {
                section.stored.push(recent);
            }
        } else {
            let raw = store.get(&key).ok().flatten().unwrap_or_default();
            section.stored.push(as_json(&raw).unwrap_or_else(|| as_string(&raw)));
        }
        section.keys.push(key);
    }
    if !unexplained.keys.is_empty() {
        sections.push(unexplained);
    }
    sections
}

/// The export as indented JSON: what `serde_json::to_string_pretty` wrote of the export with
/// the summary and the profile as members (each written compactly, by the writer
/// `profileSummary()` uses and by the profile's save, and laid out by `json_layout`) and the
/// stored values as raw JSON. Written by hand, so serde_json's pretty serializer and its
/// `RawValue` check are not in the core module.
pub fn export_json(summary: ProfileSummary, profile: &Profile, now_ms: u64, sections: Vec<ExportSection>) -> String {
    let summary = summary.json_text();
    let profile = payload_text(profile);
    let stored: usize = sections.iter().flat_map(|s| s.keys.iter().chain(&s.stored)).map(|t| t.len() + 12).sum();
    let mut text = String::with_capacity(4096 + 3 * (summary.len() + profile.len()) / 2 + stored);
    let out = &mut text;
    push_raw(out, "{\n  \"format\": ");
    push_str(out, EXPORT_FORMAT);
    push_raw(out, ",\n  \"version\": 2,\n  \"explanation\": ");
    push_str(out, EXPORT_EXPLANATION);
    push_raw(out, ",\n  \"exportedAtMs\": ");
    push_u64(out, now_ms);
    push_raw(out, ",\n  \"summary\": ");
    push_raw(out, &pretty(&summary, 1));
    push_raw(out, ",\n  \"profile\": ");
    push_raw(out, &pretty(&profile, 1));
    push_raw(out, ",\n  \"profileExplanation\": ");
    push_str(out, crate::profile::EXPORT_EXPLANATION);
    push_raw(out, ",\n  \"sections\": [");
    for (n, section) in sections.iter().enumerate() {
        push_raw(out, if n == 0 { "\n    {\n      \"name\": " } else { ",\n    {\n      \"name\": " });
        push_str(out, section.name);
        push_raw(out, ",\n      \"explanation\": ");
        push_str(out, section.explanation);
        push_raw(out, ",\n      \"keys\": ");
        pretty_list(out, &section.keys, push_str);
        if !section.stored.is_empty() {
            push_raw(out, ",\n      \"stored\": ");
            pretty_list(out, &section.stored, push_raw);
        }
        push_raw(out, "\n    }");
    }
    push_raw(out, if sections.is_empty() { "]\n}" } else { "\n  ]\n}" });
    text
}

/// A section's list as the pretty serializer writes it three levels deep, each item by `write`.
fn pretty_list(out: &mut String, items: &[String], write: fn(&mut String, &str)) {
    if items.is_empty() {
        push_raw(out, "[]");
        return;
    }
    for (n, item) in items.iter().enumerate() {
        push_raw(out, if n == 0 { "[\n        " } else { ",\n        " });
        write(out, item);
    }
    push_raw(out, "\n      ]");
}

#[cfg(test)]
#[path = "export_tests.rs"]
mod tests;
