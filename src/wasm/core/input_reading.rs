//! The core module's plain arguments, read field by field off the JS value (`js_reading`): the
//! config, items and their attributes, consent options, an interest key, the `preferredHours`
//! tuning. Events are read in `event_input`. Each type is read as its serde derive reads it: the
//! same defaults, the same fields, `null` where an `Option` takes it. The config, consent options
//! and hours tuning refuse a field they do not have (a typo), at any depth, by its path.

use js_sys::Array;
use serde::de;
use wasm_bindgen::{JsError, JsValue};

use crate::adapt::HoursParams;
use crate::catalog::{AttributeKey, Item, ItemAttributes};
use crate::collect::PurchaseLine;
use crate::config::{NoiseConfig, PersonalizerConfig, SignalWeights};
use crate::error_code::ErrorCode;
use crate::wasm::js_reading::{
    checked_object, flag, invalid_type, is_object, nullable, number, required, set, text, texts, unknown_field,
    whole_u32, whole_u8, Problem,
};

use super::personalizer::ConsentOptions;

/// `value` as an object, or serde's "invalid type" naming `expected`.
fn object<'a>(value: &'a JsValue, expected: &str) -> Result<&'a JsValue, Problem> {
    if is_object(value) {
        Ok(value)
    } else {
        Err(invalid_type(value, expected))
    }
}

/// An item's attributes; fields it does not have are ignored.
pub fn attributes(value: &JsValue) -> Result<ItemAttributes, Problem> {
    let value = object(value, "struct ItemAttributes")?;
    let mut attributes = ItemAttributes::default();
    set(value, "categoryPath", &mut attributes.category_path, texts)?;
    set(value, "brand", &mut attributes.brand, |v| nullable(v, text))?;
    set(value, "price", &mut attributes.price, |v| nullable(v, number))?;
    set(value, "tags", &mut attributes.tags, texts)?;
    Ok(attributes)
}

/// One line of a purchase. Other fields are ignored, as the browser always read them (its reader
/// asked only for the declared fields; natively `deny_unknown_fields` refuses them).
pub fn purchase_line(value: &JsValue) -> Result<PurchaseLine, Problem> {
    let value = object(value, "struct PurchaseLine")?;
    let mut line = PurchaseLine { item_id: required(value, "itemId", text)?, quantity: 1, price: None };
    set(value, "quantity", &mut line.quantity, whole_u32)?;
    set(value, "price", &mut line.price, |v| nullable(v, number))?;
    Ok(line)
}

/// An item of `upsertItems`: its id beside its attributes (other fields are ignored).
fn item(value: &JsValue) -> Result<Item, Problem> {
    let value = object(value, "struct Item")?;
    let id = required(value, "id", text)?;
    Ok(Item { id, attributes: attributes(value)? })
}

/// The entries of a checked array of items; an error names the entry's index.
pub fn read_items(items: &Array) -> Result<Vec<Item>, JsError> {
    let mut read = Vec::with_capacity(items.length() as usize);
    for (index, entry) in items.iter().enumerate() {
        let what = format!("item {index} (no item of this call was kept)");
        checked_object(&entry, ErrorCode::InvalidItem, &what)?;
        read.push(item(&entry).map_err(|problem| problem.thrown(ErrorCode::InvalidItem, &what))?);
    }
    Ok(read)
}

/// The argument of `removeInterest`: `{ kind, value }`.
pub fn read_interest_key(value: &JsValue) -> Result<AttributeKey, JsError> {
    const WHAT: &str = "interest key";
    checked_object(value, ErrorCode::InvalidArgument, WHAT)?;
    interest_key(value).map_err(|problem| problem.thrown(ErrorCode::InvalidArgument, WHAT))
}

fn interest_key(value: &JsValue) -> Result<AttributeKey, Problem> {
    const KINDS: &[&str] = &["category", "brand", "priceBand", "tag"];
    let kind = required(value, "kind", |v| v.as_string().ok_or_else(|| invalid_type(v, "variant identifier")))?;
    let read_text = || required(value, "value", text);
    Ok(match kind.as_str() {
        "category" => AttributeKey::Category(read_text()?),
        "brand" => AttributeKey::Brand(read_text()?),
        "tag" => AttributeKey::Tag(read_text()?),
        "priceBand" => AttributeKey::PriceBand(required(value, "value", whole_u8)?),
        other => return Err(de::Error::unknown_variant(other, KINDS)),
    })
}

/// A nested settings object of the config at `path`, typos refused.
fn settings<'a>(value: &'a JsValue, path: &str, known: &[&str], expected: &str) -> Result<&'a JsValue, Problem> {
    let value = object(value, expected)?;
    unknown_field(value, known, path)?;
    Ok(value)
}

fn noise(value: &JsValue) -> Result<NoiseConfig, Problem> {
    const FIELDS: &[&str] = &[
        "duplicateViewWindowMs",
        "maxEventsPerMinute",
        "burstMaxEvents",
        "burstWindowMs",
        "minDwellMs",
        "sessionTimeoutMs",
        "botHeuristic",
    ];
    let value = settings(value, "noise", FIELDS, "struct NoiseConfig")?;
    let mut noise = NoiseConfig::default();
    set(value, "duplicateViewWindowMs", &mut noise.duplicate_view_window_ms, number)?;
    set(value, "maxEventsPerMinute", &mut noise.max_events_per_minute, whole_u32)?;
    set(value, "burstMaxEvents", &mut noise.burst_max_events, whole_u32)?;
    set(value, "burstWindowMs", &mut noise.burst_window_ms, number)?;
    set(value, "minDwellMs", &mut noise.min_dwell_ms, number)?;
    set(value, "sessionTimeoutMs", &mut noise.session_timeout_ms, number)?;
    set(value, "botHeuristic", &mut noise.bot_heuristic, flag)?;
    Ok(noise)
}

fn weights(value: &JsValue) -> Result<SignalWeights, Problem> {
    let mut weights = SignalWeights::default();
    let slots: [(&str, &mut f64); 13] = [
        ("view", &mut weights.view),
        ("click", &mut weights.click),
        ("addToCart", &mut weights.add_to_cart),
        ("removeFromCart", &mut weights.remove_from_cart),
        ("purchase", &mut weights.purchase),
        ("ratingPerStar", &mut weights.rating_per_star),
        ("wishlistAdd", &mut weights.wishlist_add),
        ("wishlistRemove", &mut weights.wishlist_remove),
        ("dismiss", &mut weights.dismiss),
        ("dwellPerSecond", &mut weights.dwell_per_second),
        ("dwellCap", &mut weights.dwell_cap),
        ("scroll", &mut weights.scroll),
        ("search", &mut weights.search),
    ];
    let names = slots.iter().map(|(name, _)| *name).collect::<Vec<_>>();
    let value = settings(value, "weights", &names, "struct SignalWeights")?;
    for (name, slot) in slots {
        set(value, name, slot, number)?;
    }
    Ok(weights)
}

fn config(value: &JsValue) -> Result<PersonalizerConfig, Problem> {
    const FIELDS: &[&str] = &[
        "shop",
        "affinityHalfLifeDays",
        "sessionHalfLifeMinutes",
        "storageBudgetBytes",
        "sensitiveCategories",
        "noise",
        "weights",
    ];
    let value = settings(value, "", FIELDS, "struct PersonalizerConfig")?;
    let mut config = PersonalizerConfig::default();
    set(value, "shop", &mut config.shop, text)?;
    set(value, "affinityHalfLifeDays", &mut config.affinity_half_life_days, number)?;
    set(value, "sessionHalfLifeMinutes", &mut config.session_half_life_minutes, number)?;
    set(value, "storageBudgetBytes", &mut config.storage_budget_bytes, whole_u32)?;
    set(value, "sensitiveCategories", &mut config.sensitive_categories, texts)?;
    set(value, "noise", &mut config.noise, noise)?;
    set(value, "weights", &mut config.weights, weights)?;
    Ok(config)
}

/// The argument of `new Personalizer(config)`.
pub fn read_config(value: &JsValue) -> Result<PersonalizerConfig, JsError> {
    checked_object(value, ErrorCode::InvalidConfig, "config")?;
    config(value).map_err(|problem| problem.thrown(ErrorCode::InvalidConfig, "config"))
}

/// The options of `setConsent`.
pub fn read_consent_options(value: &JsValue) -> Result<ConsentOptions, JsError> {
    const WHAT: &str = "consent options";
    let read = || -> Result<ConsentOptions, Problem> {
        let value = settings(value, "", &["explicitOptIn"], "struct ConsentOptions")?;
        let mut options = ConsentOptions::default();
        set(value, "explicitOptIn", &mut options.explicit_opt_in, flag)?;
        Ok(options)
    };
    checked_object(value, ErrorCode::InvalidArgument, WHAT)?;
    read().map_err(|problem| problem.thrown(ErrorCode::InvalidArgument, WHAT))
}

/// The tuning of `preferredHours`.
pub fn read_hours_params(value: &JsValue) -> Result<HoursParams, JsError> {
    const WHAT: &str = "hours params";
    const FIELDS: &[&str] = &["minEvents", "minActiveDays", "dailyPooling", "lift", "maxHours"];
    let read = || -> Result<HoursParams, Problem> {
        let value = settings(value, "", FIELDS, "struct HoursParams")?;
        let mut params = HoursParams::default();
        set(value, "minEvents", &mut params.min_events, number)?;
        set(value, "minActiveDays", &mut params.min_active_days, whole_u32)?;
        set(value, "dailyPooling", &mut params.daily_pooling, number)?;
        set(value, "lift", &mut params.lift, number)?;
        set(value, "maxHours", &mut params.max_hours, |v| whole_u32(v).map(|n| n as usize))?;
        Ok(params)
    };
    checked_object(value, ErrorCode::InvalidArgument, WHAT)?;
    read().map_err(|problem| problem.thrown(ErrorCode::InvalidArgument, WHAT))
}
