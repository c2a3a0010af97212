//! `exportProfile()`: everything this library keeps for the shop, section by section, each with
//! what it is for in plain words. The profile is given as it is now in this page (`profile`);
//! every other key the library wrote is given exactly as stored, in the section its key belongs to.
//! A key no section claims lands in an `unexplained` section, so nothing stored is ever left out.

use serde::Serialize;
use serde_json::value::RawValue;

use crate::profile::stored::payload_text;
use crate::profile::{Profile, ProfileSummary};
use crate::storage::json_layout::pretty;
use crate::storage::{KeyValueStore, StorageKeys};

/// The export's `format`.
pub const EXPORT_FORMAT: &str = "shop-personalizer/export";

/// One part of what is stored.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportSection {
    pub name: &'static str,
    pub explanation: &'static str,
    /// The storage keys of this part (empty when nothing of it is stored now).
    pub keys: Vec<String>,
    /// Each key's stored value (JSON as stored; a value that is not JSON as a string), in the
    /// order of `keys`. Left out for the profile, given above as it is now.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stored: Vec<Box<RawValue>>,
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

const UNEXPLAINED: &str = "Stored by this library under the shop's prefix but not described by this version.";

const EXPORT_EXPLANATION: &str = "Everything this shop's personalizer keeps on this device, section by \
section (see sections; each says what it is for). summary: what the shop's panel shows; profile: your \
shopping profile. Times are milliseconds since 1970-01-01 UTC. None of this leaves your device except \
as the anonymous, noised updates the sync section accounts for.";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Export {
    format: &'static str,
    version: u32,
    explanation: &'static str,
    exported_at_ms: u64,
    /// The summary and the profile are written compactly (the serializers `profileSummary()` and
    /// the profile's save use) and laid out as the pretty serializer would (`json_layout`): a
    /// pretty serializer of every profile type would cost the core module its own code.
    summary: Box<RawValue>,
    profile: Box<RawValue>,
    /// What `profile` says about its own fields.
    profile_explanation: &'static str,
    sections: Vec<ExportSection>,
}

/// `value` as the pretty serializer writes it as a member of the export.
fn laid_out<T: Serialize + ?Sized>(value: &T) -> Result<Box<RawValue>, serde_json::Error> {
    RawValue::from_string(pretty(&serde_json::to_string(value)?, 1))
}

/// A stored text as JSON: itself when it is JSON, else as a string.
fn as_json(raw: String) -> Option<Box<RawValue>> {
    RawValue::from_string(raw).ok()
}

/// The `recent` member of a stored profile (see `carried.rs`), when it has one.
fn recent_member(raw: &str) -> Option<Box<RawValue>> {
    let members = crate::storage::json_reading::object_members(raw).ok().flatten()?;
    let (_, recent) = members.into_iter().find(|(name, _)| name == "recent")?;
    as_json(recent.to_owned())
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
        let at = SECTIONS.iter().position(|(_, k, _)| if k.ends_with(':') { name.starts_with(k) } else { name == *k });
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
            let text = serde_json::to_string(&raw).unwrap_or_default();
            if let Some(value) = as_json(raw).or_else(|| as_json(text)) {
                section.stored.push(value);
            }
        }
        section.keys.push(key);
    }
    if !unexplained.keys.is_empty() {
        sections.push(unexplained);
    }
    sections
}

/// The export as indented JSON.
pub fn export_json(summary: ProfileSummary, profile: &Profile, now_ms: u64, sections: Vec<ExportSection>) -> String {
    let export = || {
        Ok::<_, serde_json::Error>(Export {
            format: EXPORT_FORMAT,
            version: 2,
            explanation: EXPORT_EXPLANATION,
            exported_at_ms: now_ms,
            summary: laid_out(&summary)?,
            profile: RawValue::from_string(pretty(&payload_text(profile), 1))?,
            profile_explanation: crate::profile::EXPORT_EXPLANATION,
            sections,
        })
    };
    export()
        .and_then(|export| serde_json::to_string_pretty(&export))
        .unwrap_or_else(|e| format!("{{\"error\":\"could not export: {e}\"}}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ItemAttributes;
    use crate::collect::event::{PurchaseLine, TrackEvent};
    use crate::config::PersonalizerConfig;
    use crate::consent::ConsentMode;
    use crate::personalizer::{view_time, Environment, Personalizer};
    use crate::storage::MemoryStore;

    /// The export as one pretty serializer over everything wrote it before `json_layout`.
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct OnePrettySerializer<'a> {
        format: &'static str,
        version: u32,
        explanation: &'static str,
        exported_at_ms: u64,
        summary: ProfileSummary,
        profile: &'a Profile,
        profile_explanation: &'static str,
        sections: Vec<ExportSection>,
    }

    fn shoe(price: f64) -> Option<ItemAttributes> {
        Some(ItemAttributes {
            category_path: vec!["Shoes".into(), "Trail \"X\"".into()],
            brand: Some("Summit, {Co}".into()),
            price: Some(price),
            tags: vec!["trail".into(), "wet: yes".into()],
        })
    }

    #[test]
    fn the_export_is_byte_for_byte_what_one_pretty_serializer_wrote() {
        let mut store = MemoryStore::new();
        // Stored values stand in the export as stored, whitespace and all.
        store.set("shop-personalizer:acme:custom", "{ \"spaced\" : [1, 2.50, {}] }").unwrap();
        store.set("shop-personalizer:acme:note", "not JSON, \"quoted\"").unwrap();
        let config = PersonalizerConfig { shop: "acme".into(), ..PersonalizerConfig::default() };
        let mut p = Personalizer::open(store.clone(), config, Environment::default()).unwrap();
        let mut at = 1_700_000_000_000.0;
        let empty = p.export_profile(at);
        let reference = |p: &Personalizer<MemoryStore>, now: f64| {
            serde_json::to_string_pretty(&OnePrettySerializer {
                format: EXPORT_FORMAT,
                version: 2,
                explanation: EXPORT_EXPLANATION,
                exported_at_ms: view_time(now),
                summary: p.profile_summary(now),
                profile: &p.profile,
                profile_explanation: crate::profile::EXPORT_EXPLANATION,
                sections: stored_sections(&p.ctx.store, &p.ctx.keys),
            })
            .unwrap()
        };
        assert_eq!(empty, reference(&p, at), "an empty profile");

        p.set_consent(ConsentMode::Full, true);
        for (i, id) in ["a", "b", "c", "ü-ñ"].into_iter().enumerate() {
            at += 45_000.0;
            let event = TrackEvent::View { item_id: id.into(), item: shoe(19.99 + i as f64 * 0.1) };
            p.track(event, at, 10 + i as u32).unwrap();
        }
        let search = TrackEvent::Search { query: "trail \\ shoes".into(), result_ids: vec!["a".into(), "b".into()] };
        p.track(search, at + 1_000.0, 11).unwrap();
        let cart = TrackEvent::AddToCart { item_id: "a".into(), quantity: 2, item: None };
        p.track(cart, at + 2_000.0, 11).unwrap();
        let order = TrackEvent::Purchase {
            items: vec![PurchaseLine { item_id: "a".into(), quantity: 2, price: Some(19.99) }],
            value: 39.98,
        };
        p.track(order, at + 3_000.0, 12).unwrap();
        p.flush(at + 4_000.0).unwrap();
        let now = at + 5_000.5;
        let export = p.export_profile(now);
        assert_eq!(export, reference(&p, now));
        assert!(export.contains("{ \"spaced\" : [1, 2.50, {}] }"), "{export}");
    }
}
