//! A [`RankContext`] read from its JSON tree by hand (`storage::derive_reading`): what
//! `serde_json::from_value` reads with the derive, accepted and refused alike, in the same words,
//! without the derive's generic code in the core module.

use serde_json::Value;

use super::context::{BusinessRules, Diversity, Pin, Placement, RankContext};
use crate::storage::derive_reading::{
    fields, flag, nullable, owned_string, single, strings, unit_variant, whole_u32, whole_usize, Mismatch,
};

const PLACEMENTS: [(&str, Placement); 4] = [
    ("home", Placement::Home),
    ("product", Placement::Product),
    ("cart", Placement::Cart),
    ("search", Placement::Search),
];

impl RankContext {
    /// The context `tree` holds, read as its serde derive reads it from the tree.
    pub fn from_tree(tree: &Value) -> Result<RankContext, Mismatch> {
        const NAMES: [&str; 7] = ["placement", "currentItem", "query", "limit", "rules", "diversity", "explore"];
        let mut context = RankContext::default();
        fields(tree, "struct RankContext", &NAMES, |index, value| {
            match index {
                0 => context.placement = placement(value)?,
                1 => context.current_item = nullable(value, owned_string)?,
                2 => context.query = nullable(value, owned_string)?,
                3 => context.limit = whole_usize(value)?,
                4 => context.rules = rules(value)?,
                5 => context.diversity = diversity(value)?,
                _ => context.explore = flag(value)?,
            }
            Ok(())
        })?;
        Ok(context)
    }
}

fn placement(value: &Value) -> Result<Placement, Mismatch> {
    let names = PLACEMENTS.map(|(name, _)| name);
    unit_variant(value, &names).map(|index| PLACEMENTS[index].1)
}

fn rules(value: &Value) -> Result<BusinessRules, Mismatch> {
    let mut rules = BusinessRules::default();
    fields(value, "struct BusinessRules", &["pins", "exclude", "boost", "bury"], |index, value| {
        match index {
            0 => rules.pins = crate::storage::derive_reading::list(value, pin)?,
            1 => rules.exclude = strings(value)?,
            2 => rules.boost = strings(value)?,
            _ => rules.bury = strings(value)?,
        }
        Ok(())
    })?;
    Ok(rules)
}

fn pin(value: &Value) -> Result<Pin, Mismatch> {
    let (mut id, mut position) = (None, None);
    let present = fields(value, "struct Pin", &["id", "position"], |index, value| {
        match index {
            0 => id = Some(owned_string(value)?),
            _ => position = Some(whole_u32(value)?),
        }
        Ok(())
    })?;
    Ok(Pin { id: present.required(id, 0, "id")?, position: present.required(position, 1, "position")? })
}

fn diversity(value: &Value) -> Result<Diversity, Mismatch> {
    let mut diversity = Diversity::default();
    fields(value, "struct Diversity", &["strength", "maxPerCategory"], |index, value| {
        match index {
            0 => diversity.strength = single(value)?,
            _ => diversity.max_per_category = nullable(value, whole_u32)?,
        }
        Ok(())
    })?;
    Ok(diversity)
}

#[cfg(test)]
#[path = "context_tree_tests.rs"]
mod tests;
