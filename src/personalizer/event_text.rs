//! A tracked event as JSON text, as the core hands it to the on-demand module (`observe`):
//! written by hand byte for byte as `serde_json::to_string` writes its serde derive (internally
//! tagged by `type`, optional members left out when absent), so serde_json's serializer of every
//! event type is not in the core module. Items are written as the stored profile writes them.

use crate::collect::{PurchaseLine, TrackEvent};
use crate::profile::stored::{event_kind_name, item_attributes};
use crate::storage::json_text::{push_f64, push_list, push_raw, push_str, push_u64, JsonText};

fn item_id(out: &mut String, id: &str) {
    push_raw(out, ",\"itemId\":");
    push_str(out, id);
}

fn quantity(out: &mut String, quantity: u32) {
    push_raw(out, ",\"quantity\":");
    push_u64(out, quantity.into());
}

fn item(out: &mut String, item: &Option<crate::catalog::ItemAttributes>) {
    if let Some(attributes) = item {
        push_raw(out, ",\"item\":");
        item_attributes(out, attributes);
        push_raw(out, "}");
    }
}

fn ids(out: &mut String, ids: &[String]) {
    push_list(out, ids, |out, id| push_str(out, id));
}

fn line(out: &mut String, line: &PurchaseLine) {
    push_raw(out, "{\"itemId\":");
    push_str(out, &line.item_id);
    quantity(out, line.quantity);
    if let Some(price) = line.price {
        push_raw(out, ",\"price\":");
        push_f64(out, price);
    }
    push_raw(out, "}");
}

impl JsonText for TrackEvent {
    fn write_json(&self, out: &mut String) {
        push_raw(out, "{\"type\":");
        push_str(out, event_kind_name(self.kind()));
        match self {
            TrackEvent::View { item_id: id, item: attributes } => {
                item_id(out, id);
                item(out, attributes);
            }
            TrackEvent::Click { item_id: id, placement, position, item: attributes } => {
                item_id(out, id);
                if let Some(placement) = placement {
                    push_raw(out, ",\"placement\":");
                    push_str(out, placement);
                }
                if let Some(position) = position {
                    push_raw(out, ",\"position\":");
                    push_u64(out, (*position).into());
                }
                item(out, attributes);
            }
            TrackEvent::Impression { placement, item_ids, positions } => {
                push_raw(out, ",\"placement\":");
                push_str(out, placement);
                push_raw(out, ",\"itemIds\":");
                ids(out, item_ids);
                if let Some(positions) = positions {
                    push_raw(out, ",\"positions\":");
                    push_list(out, positions, |out, at| push_u64(out, (*at).into()));
                }
            }
            TrackEvent::AddToCart { item_id: id, quantity: count, item: attributes } => {
                item_id(out, id);
                quantity(out, *count);
                item(out, attributes);
            }
            TrackEvent::RemoveFromCart { item_id: id, quantity: count } => {
                item_id(out, id);
                quantity(out, *count);
            }
            TrackEvent::Purchase { items, value } => {
                push_raw(out, ",\"items\":");
                push_list(out, items, line);
                push_raw(out, ",\"value\":");
                push_f64(out, *value);
            }
            TrackEvent::Search { query, result_ids } => {
                push_raw(out, ",\"query\":");
                push_str(out, query);
                push_raw(out, ",\"resultIds\":");
                ids(out, result_ids);
            }
            TrackEvent::Rating { item_id: id, rating } => {
                item_id(out, id);
                push_raw(out, ",\"rating\":");
                push_u64(out, (*rating).into());
            }
            TrackEvent::WishlistAdd { item_id: id }
            | TrackEvent::WishlistRemove { item_id: id }
            | TrackEvent::Dismiss { item_id: id } => item_id(out, id),
            TrackEvent::Dwell { item_id: id, ms } => {
                item_id(out, id);
                push_raw(out, ",\"ms\":");
                push_f64(out, *ms);
            }
            TrackEvent::ScrollDepth { item_id: id, depth } => {
                if let Some(id) = id {
                    item_id(out, id);
                }
                push_raw(out, ",\"depth\":");
                push_f64(out, *depth);
            }
        }
        push_raw(out, "}");
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::catalog::ItemAttributes;

    fn float() -> impl Strategy<Value = f64> {
        prop_oneof![any::<f64>(), Just(f64::NAN), Just(1.0)]
    }

    fn attributes() -> impl Strategy<Value = Option<ItemAttributes>> {
        let strings = || proptest::collection::vec(any::<String>(), 0..3);
        let attributes = (strings(), proptest::option::of(any::<String>()), proptest::option::of(float()), strings())
            .prop_map(|(category_path, brand, price, tags)| ItemAttributes { category_path, brand, price, tags });
        proptest::option::of(attributes)
    }

    fn event() -> impl Strategy<Value = TrackEvent> {
        let id = || "[a-z0-9\"\\\\\\n]{0,6}";
        let ids = || proptest::collection::vec(id(), 0..4);
        let line = (id(), any::<u32>(), proptest::option::of(float()))
            .prop_map(|(item_id, quantity, price)| PurchaseLine { item_id, quantity, price });
        prop_oneof![
            (id(), attributes()).prop_map(|(item_id, item)| TrackEvent::View { item_id, item }),
            (id(), proptest::option::of(id()), proptest::option::of(any::<u32>()), attributes()).prop_map(
                |(item_id, placement, position, item)| TrackEvent::Click { item_id, placement, position, item }
            ),
            (id(), ids(), proptest::option::of(proptest::collection::vec(any::<u32>(), 0..4)))
                .prop_map(|(placement, item_ids, positions)| TrackEvent::Impression { placement, item_ids, positions }),
            (id(), any::<u32>(), attributes()).prop_map(|(item_id, quantity, item)| TrackEvent::AddToCart {
                item_id,
                quantity,
                item
            }),
            (id(), any::<u32>()).prop_map(|(item_id, quantity)| TrackEvent::RemoveFromCart { item_id, quantity }),
            (proptest::collection::vec(line, 0..3), float())
                .prop_map(|(items, value)| TrackEvent::Purchase { items, value }),
            (any::<String>(), ids()).prop_map(|(query, result_ids)| TrackEvent::Search { query, result_ids }),
            (id(), any::<u8>()).prop_map(|(item_id, rating)| TrackEvent::Rating { item_id, rating }),
            id().prop_map(|item_id| TrackEvent::WishlistAdd { item_id }),
            id().prop_map(|item_id| TrackEvent::WishlistRemove { item_id }),
            id().prop_map(|item_id| TrackEvent::Dismiss { item_id }),
            (id(), float()).prop_map(|(item_id, ms)| TrackEvent::Dwell { item_id, ms }),
            (proptest::option::of(id()), float())
                .prop_map(|(item_id, depth)| TrackEvent::ScrollDepth { item_id, depth }),
        ]
    }

    #[test]
    fn an_event_has_the_shape_the_on_demand_module_reads() {
        let event = TrackEvent::AddToCart { item_id: "sku-1".into(), quantity: 2, item: None };
        assert_eq!(event.json_text(), r#"{"type":"addToCart","itemId":"sku-1","quantity":2}"#);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1_000))]

        #[test]
        fn any_event_is_written_as_serde_json_writes_it(event in event()) {
            prop_assert_eq!(event.json_text(), serde_json::to_string(&event).unwrap());
        }
    }
}
