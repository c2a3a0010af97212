//! The profile's stored payload written by hand: byte for byte what `serde_json::to_string`
//! writes through the profile's `Serialize` derives (fields in declaration order, camelCase, maps
//! as objects in key order, `brand`, `price` and `lastOrderMs` left out when absent, affinities
//! rounded to 4 decimals, a non-finite float as `null`). serde's serializer of every profile type
//! was about 7 KB of the core module, for the one shape a save writes.

use crate::catalog::{AttributeKey, ItemAttributes};
use crate::collect::event::EventKind;
use crate::profile::{
    Affinity, CachedItem, DeviceClass, EventCounts, History, Profile, RecentItems, SessionState, VisitStats,
};
use crate::storage::json_text::{push_f64, push_list, push_object, push_raw, push_str, push_u64};

/// The profile's payload as compact JSON, as `serde_json::to_string(profile)` writes it.
pub fn payload_text(profile: &Profile) -> String {
    let mut text = String::with_capacity(4096);
    let out = &mut text;
    push_raw(out, "{\"affinities\":");
    push_list(out, profile.affinities.iter(), affinity);
    push_raw(out, ",\"session\":");
    session(out, &profile.session);
    push_raw(out, ",\"history\":");
    history(out, &profile.history);
    push_raw(out, ",\"interest\":");
    push_object(out, profile.interest.iter(), |out, interest| {
        push_raw(out, "{\"count\":");
        push_u64(out, u64::from(interest.count));
        push_raw(out, ",\"lastMs\":");
        push_u64(out, interest.last_ms);
        push_raw(out, "}");
    });
    push_raw(out, ",\"visits\":");
    visits(out, &profile.visits);
    push_raw(out, ",\"device\":");
    push_str(out, device_name(profile.device));
    push_raw(out, ",\"hourOfWeek\":");
    push_list(out, profile.hour_of_week.buckets(), |out, count| push_u64(out, u64::from(*count)));
    push_raw(out, ",\"cart\":");
    push_object(out, profile.cart.0.iter(), |out, quantity| push_u64(out, u64::from(*quantity)));
    push_raw(out, ",\"catalog\":");
    push_object(out, profile.catalog.iter(), cached_item);
    push_raw(out, ",\"eventCounts\":");
    event_counts(out, &profile.event_counts);
    push_raw(out, "}");
    text
}

/// Rounding of the stored affinity values, as `Affinities`' `Serialize` rounds them.
const STORED_DECIMALS: f64 = 1e4;

/// `{"kind":"brand","value":"Acme"}`: a key, adjacently tagged.
pub(crate) fn attribute_key(out: &mut String, key: &AttributeKey) {
    let (kind, text) = match key {
        AttributeKey::Category(path) => ("{\"kind\":\"category\",\"value\":", path.as_str()),
        AttributeKey::Brand(brand) => ("{\"kind\":\"brand\",\"value\":", brand.as_str()),
        AttributeKey::PriceBand(_) => ("{\"kind\":\"priceBand\",\"value\":", ""),
        AttributeKey::Tag(tag) => ("{\"kind\":\"tag\",\"value\":", tag.as_str()),
    };
    push_raw(out, kind);
    match key {
        AttributeKey::PriceBand(band) => push_u64(out, u64::from(*band)),
        _ => push_str(out, text),
    }
    push_raw(out, "}");
}

/// `{"key":{"kind":"brand","value":"Acme"},"value":1.5,"updatedMs":7}`.
fn affinity(out: &mut String, (key, affinity): (&AttributeKey, &Affinity)) {
    push_raw(out, "{\"key\":");
    attribute_key(out, key);
    push_raw(out, ",\"value\":");
    push_f64(out, (affinity.value * STORED_DECIMALS).round() / STORED_DECIMALS);
    push_raw(out, ",\"updatedMs\":");
    push_u64(out, affinity.updated_ms);
    push_raw(out, "}");
}

fn session(out: &mut String, session: &SessionState) {
    push_raw(out, "{\"startedMs\":");
    push_u64(out, session.started_ms);
    push_raw(out, ",\"lastActivityMs\":");
    push_u64(out, session.last_activity_ms);
    push_raw(out, ",\"items\":");
    push_list(out, &session.items, |out, item| {
        push_raw(out, "{\"itemId\":");
        push_str(out, &item.item_id);
        push_raw(out, ",\"kind\":");
        push_str(out, event_kind_name(item.kind));
        push_raw(out, ",\"atMs\":");
        push_u64(out, item.at_ms);
        push_raw(out, "}");
    });
    push_raw(out, "}");
}

fn history(out: &mut String, history: &History) {
    let lists: [(&str, &RecentItems); 5] = [
        ("{\"viewed\":", &history.viewed),
        (",\"carted\":", &history.carted),
        (",\"purchased\":", &history.purchased),
        (",\"dismissed\":", &history.dismissed),
        (",\"wishlist\":", &history.wishlist),
    ];
    for (name, list) in lists {
        push_raw(out, name);
        push_list(out, list.entries(), |out, entry| {
            push_raw(out, "{\"itemId\":");
            push_str(out, &entry.item_id);
            push_raw(out, ",\"atMs\":");
            push_u64(out, entry.at_ms);
            push_raw(out, "}");
        });
    }
    push_raw(out, "}");
}

/// Members that are whole numbers, each name with its punctuation before it.
pub(crate) fn whole_members<'a>(out: &mut String, members: impl IntoIterator<Item = (&'a str, u64)>) {
    for (name, value) in members {
        push_raw(out, name);
        push_u64(out, value);
    }
}

pub(crate) fn visits(out: &mut String, visits: &VisitStats) {
    let whole = [
        ("{\"firstSeenMs\":", visits.first_seen_ms),
        (",\"lastSeenMs\":", visits.last_seen_ms),
        (",\"visits\":", u64::from(visits.visits)),
        (",\"sessions\":", u64::from(visits.sessions)),
        (",\"orders\":", u64::from(visits.orders)),
    ];
    whole_members(out, whole.into_iter().chain(visits.last_order_ms.map(|at| (",\"lastOrderMs\":", at))));
    push_raw(out, ",\"revenue\":");
    push_f64(out, visits.revenue);
    push_raw(out, "}");
}

fn cached_item(out: &mut String, item: &CachedItem) {
    item_attributes(out, &item.attributes);
    push_raw(out, ",\"lastUsedMs\":");
    push_u64(out, item.last_used_ms);
    push_raw(out, "}");
}

/// `{"categoryPath":[…],"brand":…,"price":…,"tags":[…]` (brand and price when present), left
/// open for the members that follow.
pub(crate) fn item_attributes(out: &mut String, attributes: &ItemAttributes) {
    push_raw(out, "{\"categoryPath\":");
    push_list(out, &attributes.category_path, |out, level| push_str(out, level));
    if let Some(brand) = &attributes.brand {
        push_raw(out, ",\"brand\":");
        push_str(out, brand);
    }
    if let Some(price) = attributes.price {
        push_raw(out, ",\"price\":");
        push_f64(out, price);
    }
    push_raw(out, ",\"tags\":");
    push_list(out, &attributes.tags, |out, tag| push_str(out, tag));
}

fn event_counts(out: &mut String, counts: &EventCounts) {
    let fields = [
        ("{\"view\":", counts.view),
        (",\"click\":", counts.click),
        (",\"impression\":", counts.impression),
        (",\"addToCart\":", counts.add_to_cart),
        (",\"removeFromCart\":", counts.remove_from_cart),
        (",\"purchase\":", counts.purchase),
        (",\"search\":", counts.search),
        (",\"rating\":", counts.rating),
        (",\"wishlistAdd\":", counts.wishlist_add),
        (",\"wishlistRemove\":", counts.wishlist_remove),
        (",\"dismiss\":", counts.dismiss),
        (",\"dwell\":", counts.dwell),
        (",\"scrollDepth\":", counts.scroll_depth),
    ];
    whole_members(out, fields);
    push_raw(out, "}");
}

pub(crate) fn device_name(device: DeviceClass) -> &'static str {
    match device {
        DeviceClass::Unknown => "unknown",
        DeviceClass::Mobile => "mobile",
        DeviceClass::Tablet => "tablet",
        DeviceClass::Desktop => "desktop",
    }
}

pub(crate) fn event_kind_name(kind: EventKind) -> &'static str {
    match kind {
        EventKind::View => "view",
        EventKind::Click => "click",
        EventKind::Impression => "impression",
        EventKind::AddToCart => "addToCart",
        EventKind::RemoveFromCart => "removeFromCart",
        EventKind::Purchase => "purchase",
        EventKind::Search => "search",
        EventKind::Rating => "rating",
        EventKind::WishlistAdd => "wishlistAdd",
        EventKind::WishlistRemove => "wishlistRemove",
        EventKind::Dismiss => "dismiss",
        EventKind::Dwell => "dwell",
        EventKind::ScrollDepth => "scrollDepth",
    }
}

#[cfg(test)]
#[path = "payload_text_tests.rs"]
mod tests;
