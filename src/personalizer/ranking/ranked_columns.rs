//! A ranked list in columns, the shape the facade hands to JS in one crossing: every item's id,
//! reason, title and explanation parameter in one text with their UTF-16 end offsets (JS slices
//! strings by UTF-16 units), and one column each of scores, reason bit sets, explanation codes,
//! interest kinds and from-session flags.

use crate::catalog::AttributeKey;
use crate::rank::ReasonSet;

use super::RankedList;

/// The columns of a [`RankedList`]; item `i`'s id, reason, title (`""` for none) and explanation
/// parameter (the interest's value or the viewed item's id, `""` for none) end at `ends[4i]` …
/// `ends[4i + 3]` UTF-16 units into `text`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RankedColumns {
    pub text: String,
    pub ends: Vec<u32>,
    pub scores: Vec<f32>,
    /// Bit `k` is the `k`-th `ReasonCode` in declaration order.
    pub reason_bits: Vec<u16>,
    /// The explanation's code, its index in `EXPLANATION_CODES`.
    pub explanation_codes: Vec<u8>,
    /// The kind of the explanation's interest: 0 none, 1 category, 2 brand, 3 price band, 4 tag.
    pub interest_kinds: Vec<u8>,
    pub from_session: Vec<u8>,
}

fn utf16_len(text: &str) -> u32 {
    let units = if text.is_ascii() { text.len() } else { text.encode_utf16().count() };
    u32::try_from(units).unwrap_or(u32::MAX)
}

impl RankedColumns {
    pub fn of(list: &RankedList) -> Self {
        let n = list.items.len();
        let mut columns = RankedColumns {
            text: String::with_capacity(n * 48),
            ends: Vec::with_capacity(4 * n),
            scores: Vec::with_capacity(n),
            reason_bits: Vec::with_capacity(n),
            explanation_codes: Vec::with_capacity(n),
            interest_kinds: Vec::with_capacity(n),
            from_session: Vec::with_capacity(n),
        };
        let mut at = 0u32;
        for item in &list.items {
            let explanation = &item.explanation;
            let band;
            let (kind, param) = match &explanation.interest {
                Some(AttributeKey::Category(v)) => (1, v.as_str()),
                Some(AttributeKey::Brand(v)) => (2, v.as_str()),
                Some(AttributeKey::PriceBand(b)) => {
                    band = b.to_string();
                    (3, band.as_str())
                }
                Some(AttributeKey::Tag(v)) => (4, v.as_str()),
                None => (0, explanation.item.as_deref().unwrap_or("")),
            };
            let parts = [item.id.as_str(), item.reason.as_str(), item.title.as_deref().unwrap_or(""), param];
            for part in parts {
                columns.text.push_str(part);
                at = at.saturating_add(utf16_len(part));
                columns.ends.push(at);
            }
            columns.scores.push(item.score);
            let mut reasons = ReasonSet::default();
            for &code in &item.reasons {
                reasons.insert(code);
            }
            columns.reason_bits.push(reasons.bits());
            columns.explanation_codes.push(explanation.code as u8);
            columns.interest_kinds.push(kind);
            columns.from_session.push(u8::from(item.from_session));
        }
        columns
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::personalizer::RankedProduct;
    use crate::rank::{Explanation, ExplanationCode, ReasonCode};

    #[test]
    fn offsets_count_utf16_units_and_reasons_are_bits() {
        let item =
            |id: &str, reason: &str, title: Option<&str>, reasons: Vec<ReasonCode>, from_session| RankedProduct {
                id: id.to_owned(),
                score: 0.5,
                reasons,
                reason: reason.to_owned(),
                explanation: Explanation {
                    code: ExplanationCode::Interest,
                    interest: title.map(|_| AttributeKey::PriceBand(3)),
                    item: None,
                    text: reason.to_owned(),
                },
                title: title.map(str::to_owned),
                from_session,
            };
        let list = RankedList {
            items: vec![
                item("a1", "popular", None, vec![ReasonCode::Popular], false),
                // "é" is one UTF-16 unit, "😀" two.
                item("é😀", "", Some("Ski"), vec![ReasonCode::ServerPick, ReasonCode::ViewedTogether], true),
            ],
            impression: 7,
            propensity: 1.0,
            explored: false,
        };
        let columns = RankedColumns::of(&list);
        assert_eq!(columns.text, "a1popularé😀Ski3");
        assert_eq!(columns.ends, [2, 9, 9, 9, 12, 12, 15, 16]);
        assert_eq!(columns.explanation_codes, [2, 2]);
        assert_eq!(columns.interest_kinds, [0, 3]);
        // ServerPick is bit 0, ViewedTogether bit 1, Popular bit 5 (declaration order).
        assert_eq!(columns.reason_bits, [1 << 5, 0b11]);
        assert_eq!(columns.from_session, [0, 1]);
        assert_eq!(columns.scores, [0.5, 0.5]);
    }
}
