//! Why an item was ranked where it is: machine-readable codes plus a short human sentence.

use serde::{Deserialize, Serialize};

use super::features::Family;

/// One reason an item is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum ReasonCode {
    /// The shop's server chose it for this page.
    ServerPick,
    /// Often viewed together with something in this session.
    ViewedTogether,
    /// Similar to the session or to the shopper's long-term taste.
    Similar,
    /// Matches a category, brand, price band or tag the shopper likes.
    MatchesInterest,
    /// The shopper looked at it before.
    SeenBefore,
    /// Popular shop-wide.
    Popular,
    /// The shop pinned it here.
    Pinned,
    /// The shop boosted it.
    Boosted,
    /// Shown to learn more about the shopper (exploration).
    Explored,
}

impl ReasonCode {
    /// The reason a signal family stands for, if it is one a shopper would understand.
    pub fn of_family(family: Family) -> Option<ReasonCode> {
        match family {
            Family::Server => Some(ReasonCode::ServerPick),
            Family::LastNeighbour | Family::SessionCooc | Family::Sequence => Some(ReasonCode::ViewedTogether),
            Family::Embedding => Some(ReasonCode::Similar),
            Family::Affinity => Some(ReasonCode::MatchesInterest),
            Family::Repeat => Some(ReasonCode::SeenBefore),
            Family::Popularity => Some(ReasonCode::Popular),
            Family::Suppression | Family::Interaction => None,
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A small set of reason codes, copied without allocation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReasonSet(u16);

impl ReasonSet {
    pub fn insert(&mut self, code: ReasonCode) {
        self.0 |= code.bit();
    }

    pub fn contains(self, code: ReasonCode) -> bool {
        self.0 & code.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The set as bits: bit `k` stands for the `k`-th code in declaration order (the JS facade
    /// turns them back into names; see `src/wasm/ranked_list.rs`).
    pub fn bits(self) -> u16 {
        self.0
    }

    /// The codes, in declaration order.
    pub fn iter(self) -> impl Iterator<Item = ReasonCode> {
        const ALL: [ReasonCode; 9] = [
            ReasonCode::ServerPick,
            ReasonCode::ViewedTogether,
            ReasonCode::Similar,
            ReasonCode::MatchesInterest,
            ReasonCode::SeenBefore,
            ReasonCode::Popular,
            ReasonCode::Pinned,
            ReasonCode::Boosted,
            ReasonCode::Explored,
        ];
        ALL.into_iter().filter(move |c| self.contains(*c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_set_holds_what_was_inserted() {
        let mut set = ReasonSet::default();
        assert!(set.is_empty());
        set.insert(ReasonCode::Popular);
        set.insert(ReasonCode::Pinned);
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![ReasonCode::Popular, ReasonCode::Pinned]);
        assert!(!set.contains(ReasonCode::ServerPick));
        assert_eq!(set.bits(), (1 << 5) | (1 << 6));
    }

    #[test]
    fn bit_k_is_the_kth_code_in_the_order_the_js_facade_names_them() {
        // The same list as REASON_CODES in src/wasm/ranked_list.rs.
        let js_names = [
            "serverPick",
            "viewedTogether",
            "similar",
            "matchesInterest",
            "seenBefore",
            "popular",
            "pinned",
            "boosted",
            "explored",
        ];
        let mut all = ReasonSet::default();
        for (k, name) in js_names.iter().enumerate() {
            let mut set = ReasonSet(1 << k);
            let code = set.iter().next().expect("one code per bit");
            assert_eq!(serde_json::to_string(&code).expect("serializes"), format!("\"{name}\""));
            set.insert(code);
            all.insert(code);
            assert_eq!(set.bits(), 1 << k);
        }
        assert_eq!(all.iter().count(), js_names.len(), "every code has a name");
    }
}
