//! The personalizer's settings: what JS passes to `new Personalizer(config)`, and the checked form
//! the core works with.
//!
//! Every field has a documented default, so `{ shop: "my-shop" }` is a complete config.
//! [`PersonalizerConfig::validate`] checks everything once and returns a [`ValidConfig`]; nothing
//! downstream re-checks.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::error_code::{Coded, ErrorCode};
use crate::float_text::Decimal;

#[path = "config_text.rs"]
mod text;

/// Longest accepted shop namespace.
pub const MAX_SHOP_LEN: usize = 64;
/// Smallest accepted storage budget: an empty profile with its envelope must fit.
pub const MIN_STORAGE_BUDGET_BYTES: u32 = 4096;
/// Largest accepted storage budget (localStorage gives about 5 MB per site, shared with the shop).
pub const MAX_STORAGE_BUDGET_BYTES: u32 = 1_048_576;
/// Most sensitive categories accepted.
pub const MAX_SENSITIVE_CATEGORIES: usize = 256;

/// Why a config was rejected.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ConfigError {
    #[error("shop is empty: pass a namespace such as \"my-shop\" so profiles of different shops stay apart")]
    EmptyShop,
    #[error("shop is {0} characters long; use at most 64")]
    ShopTooLong(usize),
    #[error("shop {0:?} contains characters other than letters, digits, '.', '_' and '-': pick a plain namespace")]
    ShopCharacters(String),
    #[error("{field} must be a finite number {rule}, got {}", Decimal(*.value))]
    OutOfRange { field: &'static str, rule: &'static str, value: f64 },
    #[error("storageBudgetBytes is {0}; choose a value from 4096 to 1048576")]
    StorageBudget(u32),
    #[error("sensitiveCategories has {0} entries; the limit is 256")]
    TooManySensitiveCategories(usize),
    #[error("sensitiveCategories contains an empty name: drop empty entries")]
    EmptySensitiveCategory,
    #[error("weights.{field} is {} but must be {rule}", Decimal(*.value))]
    WeightSign { field: &'static str, rule: &'static str, value: f64 },
}

impl Coded for ConfigError {
    fn code(&self) -> ErrorCode {
        match self {
            ConfigError::EmptyShop
            | ConfigError::ShopTooLong(_)
            | ConfigError::ShopCharacters(_)
            | ConfigError::OutOfRange { .. }
            | ConfigError::StorageBudget(_)
            | ConfigError::TooManySensitiveCategories(_)
            | ConfigError::EmptySensitiveCategory
            | ConfigError::WeightSign { .. } => ErrorCode::InvalidConfig,
        }
    }
}

/// Settings for the noise and bot filter that runs before anything reaches the profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", default)]
pub struct NoiseConfig {
    /// A second view of the same item within this many ms is a refresh, not new interest. Default 30 000.
    pub duplicate_view_window_ms: f64,
    /// Most shopper actions recorded per rolling minute. Default 60.
    pub max_events_per_minute: u32,
    /// More than `burstMaxEvents` actions within `burstWindowMs` is implausible for a person. Default 8.
    pub burst_max_events: u32,
    /// Default 1 000 ms.
    pub burst_window_ms: f64,
    /// Dwell shorter than this is a bounce and is ignored. Default 2 000 ms.
    pub min_dwell_ms: f64,
    /// Inactivity after which the next event starts a new session. Default 1 800 000 ms (30 min).
    pub session_timeout_ms: f64,
    /// Drop every event when the browser reports automation (`navigator.webdriver`). Default true;
    /// switch off to run tests in headless browsers.
    pub bot_heuristic: bool,
}

impl Default for NoiseConfig {
    fn default() -> Self {
        NoiseConfig {
            duplicate_view_window_ms: 30_000.0,
            max_events_per_minute: 60,
            burst_max_events: 8,
            burst_window_ms: 1_000.0,
            min_dwell_ms: 2_000.0,
            session_timeout_ms: 1_800_000.0,
            bot_heuristic: true,
        }
    }
}

/// How much each signal moves the affinities of the item's attributes. Explicit signals (cart,
/// purchase, rating, wishlist, dismiss) outweigh implicit ones (view, click, dwell, scroll, search).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", default)]
pub struct SignalWeights {
    /// Default 1.
    pub view: f64,
    /// Default 1.5.
    pub click: f64,
    /// Default 4.
    pub add_to_cart: f64,
    /// Must be ≤ 0. Default −2.
    pub remove_from_cart: f64,
    /// Per purchased line. Default 8.
    pub purchase: f64,
    /// Per star away from the neutral 3: 1★ = −2×, 2★ = −1×, 4★ = +1×, 5★ = +2×. Default 2.
    pub rating_per_star: f64,
    /// Default 5.
    pub wishlist_add: f64,
    /// Must be ≤ 0. Default −1.
    pub wishlist_remove: f64,
    /// "Not interested". Must be ≤ 0. Default −8.
    pub dismiss: f64,
    /// Per second of dwell on a product page. Default 0.1.
    pub dwell_per_second: f64,
    /// Most one dwell event can add. Default 2.
    pub dwell_cap: f64,
    /// Times the scroll depth (0–1) on a product page. Default 0.5.
    pub scroll: f64,
    /// Shared among the top 5 search results whose attributes are known. Default 1.
    pub search: f64,
}

impl Default for SignalWeights {
    fn default() -> Self {
        SignalWeights {
            view: 1.0,
            click: 1.5,
            add_to_cart: 4.0,
            remove_from_cart: -2.0,
            purchase: 8.0,
            rating_per_star: 2.0,
            wishlist_add: 5.0,
            wishlist_remove: -1.0,
            dismiss: -8.0,
            dwell_per_second: 0.1,
            dwell_cap: 2.0,
            scroll: 0.5,
            search: 1.0,
        }
    }
}

/// Everything `new Personalizer(config)` accepts. Missing fields take their defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", default)]
pub struct PersonalizerConfig {
    /// Namespace of the storage keys: letters, digits, `.`, `_`, `-`; at most 64. Default "default".
    pub shop: String,
    /// An affinity halves after this many days without new signals. Default 14.
    pub affinity_half_life_days: f64,
    /// Half-life of in-session signals, for ranking by what the shopper does right now. Default 20 min.
    pub session_half_life_minutes: f64,
    /// Most bytes the stored profile may take. Default 65 536.
    pub storage_budget_bytes: u32,
    /// Categories never stored or learned, matched case-insensitively at any level of an item's
    /// category path (so their subcategories are covered too). Default none.
    pub sensitive_categories: Vec<String>,
    pub noise: NoiseConfig,
    pub weights: SignalWeights,
}

impl Default for PersonalizerConfig {
    fn default() -> Self {
        PersonalizerConfig {
            shop: "default".into(),
            affinity_half_life_days: 14.0,
            session_half_life_minutes: 20.0,
            storage_budget_bytes: 65_536,
            sensitive_categories: Vec::new(),
            noise: NoiseConfig::default(),
            weights: SignalWeights::default(),
        }
    }
}

/// A config that passed [`PersonalizerConfig::validate`]; the only form the engine accepts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValidConfig(PersonalizerConfig);

const MS_PER_DAY: f64 = 86_400_000.0;
const MS_PER_MINUTE: f64 = 60_000.0;

impl ValidConfig {
    pub fn shop(&self) -> &str {
        &self.0.shop
    }
    pub fn affinity_half_life_ms(&self) -> f64 {
        self.0.affinity_half_life_days * MS_PER_DAY
    }
    pub fn session_half_life_ms(&self) -> f64 {
        self.0.session_half_life_minutes * MS_PER_MINUTE
    }
    pub fn storage_budget_bytes(&self) -> usize {
        self.0.storage_budget_bytes as usize
    }
    pub fn sensitive_categories(&self) -> &[String] {
        &self.0.sensitive_categories
    }
    pub fn noise(&self) -> &NoiseConfig {
        &self.0.noise
    }
    pub fn weights(&self) -> &SignalWeights {
        &self.0.weights
    }
    /// The config as the caller gave it (with defaults filled in).
    pub fn as_config(&self) -> &PersonalizerConfig {
        &self.0
    }
}

fn check(field: &'static str, value: f64, rule: &'static str, ok: bool) -> Result<(), ConfigError> {
    if value.is_finite() && ok {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange { field, rule, value })
    }
}

fn positive(field: &'static str, value: f64) -> Result<(), ConfigError> {
    check(field, value, "above 0", value > 0.0)
}

fn sign(field: &'static str, value: f64, want_positive: bool) -> Result<(), ConfigError> {
    let (ok, rule) = if want_positive { (value >= 0.0, "0 or more") } else { (value <= 0.0, "0 or less") };
    if value.is_finite() && ok {
        Ok(())
    } else {
        Err(ConfigError::WeightSign { field, rule, value })
    }
}

impl PersonalizerConfig {
    /// Checks every field once; the first problem found is returned.
    pub fn validate(self) -> Result<ValidConfig, ConfigError> {
        validate_shop(&self.shop)?;
        positive("affinityHalfLifeDays", self.affinity_half_life_days)?;
        positive("sessionHalfLifeMinutes", self.session_half_life_minutes)?;
        if !(MIN_STORAGE_BUDGET_BYTES..=MAX_STORAGE_BUDGET_BYTES).contains(&self.storage_budget_bytes) {
            return Err(ConfigError::StorageBudget(self.storage_budget_bytes));
        }
        if self.sensitive_categories.len() > MAX_SENSITIVE_CATEGORIES {
            return Err(ConfigError::TooManySensitiveCategories(self.sensitive_categories.len()));
        }
        if self.sensitive_categories.iter().any(|c| c.trim().is_empty()) {
            return Err(ConfigError::EmptySensitiveCategory);
        }
        let noise = &self.noise;
        positive("noise.duplicateViewWindowMs", noise.duplicate_view_window_ms)?;
        check(
            "noise.maxEventsPerMinute",
            f64::from(noise.max_events_per_minute),
            "of at least 1",
            noise.max_events_per_minute >= 1,
        )?;
        check("noise.burstMaxEvents", f64::from(noise.burst_max_events), "of at least 1", noise.burst_max_events >= 1)?;
        positive("noise.burstWindowMs", noise.burst_window_ms)?;
        check("noise.minDwellMs", noise.min_dwell_ms, "of at least 0", noise.min_dwell_ms >= 0.0)?;
        positive("noise.sessionTimeoutMs", noise.session_timeout_ms)?;
        let w = &self.weights;
        for (field, value) in [
            ("view", w.view),
            ("click", w.click),
            ("addToCart", w.add_to_cart),
            ("purchase", w.purchase),
            ("ratingPerStar", w.rating_per_star),
            ("wishlistAdd", w.wishlist_add),
            ("dwellPerSecond", w.dwell_per_second),
            ("dwellCap", w.dwell_cap),
            ("scroll", w.scroll),
            ("search", w.search),
        ] {
            sign(field, value, true)?;
        }
        for (field, value) in
            [("removeFromCart", w.remove_from_cart), ("wishlistRemove", w.wishlist_remove), ("dismiss", w.dismiss)]
        {
            sign(field, value, false)?;
        }
        Ok(ValidConfig(self))
    }
}

/// Checks a shop namespace: non-empty, at most 64 of `[A-Za-z0-9._-]`.
pub fn validate_shop(shop: &str) -> Result<(), ConfigError> {
    if shop.is_empty() {
        return Err(ConfigError::EmptyShop);
    }
    if shop.len() > MAX_SHOP_LEN {
        return Err(ConfigError::ShopTooLong(shop.len()));
    }
    if !shop.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
        return Err(ConfigError::ShopCharacters(shop.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shop_name_alone_is_a_complete_config() {
        let config: PersonalizerConfig = serde_json::from_str(r#"{"shop":"acme-store"}"#).unwrap();
        let valid = config.validate().unwrap();
        assert_eq!(valid.shop(), "acme-store");
        assert!((valid.affinity_half_life_ms() - 14.0 * 86_400_000.0).abs() < 1e-6);
        assert_eq!(valid.storage_budget_bytes(), 65_536);
        assert!(valid.noise().bot_heuristic);
        assert!((valid.noise().session_timeout_ms - 1_800_000.0).abs() < 1e-9);
    }

    #[test]
    fn reads_nested_camel_case_overrides() {
        let json = r#"{"shop":"s","sensitiveCategories":["Health"],"noise":{"botHeuristic":false},
                       "weights":{"dismiss":-20}}"#;
        let valid = serde_json::from_str::<PersonalizerConfig>(json).unwrap().validate().unwrap();
        assert!(!valid.noise().bot_heuristic);
        assert!((valid.noise().min_dwell_ms - 2_000.0).abs() < 1e-9);
        assert!((valid.weights().dismiss + 20.0).abs() < 1e-9);
        assert!((valid.weights().view - 1.0).abs() < 1e-9);
        assert_eq!(valid.sensitive_categories(), ["Health".to_string()]);
    }

    #[test]
    fn explicit_signals_outweigh_implicit_ones_by_default() {
        let w = SignalWeights::default();
        let strongest_implicit = [w.view, w.click, w.dwell_cap, w.scroll, w.search].into_iter().fold(0.0, f64::max);
        for explicit in [w.add_to_cart, w.purchase, w.wishlist_add, w.rating_per_star * 2.0, -w.dismiss] {
            assert!(explicit > strongest_implicit);
        }
    }

    #[test]
    fn rejects_bad_shops() {
        assert_eq!(validate_shop(""), Err(ConfigError::EmptyShop));
        assert_eq!(validate_shop(&"a".repeat(65)), Err(ConfigError::ShopTooLong(65)));
        assert!(validate_shop(&"a".repeat(64)).is_ok());
        assert!(matches!(validate_shop("my shop"), Err(ConfigError::ShopCharacters(_))));
        assert!(matches!(validate_shop("a:b"), Err(ConfigError::ShopCharacters(_))));
        assert!(validate_shop("Shop_1.eu-west").is_ok());
    }

    #[test]
    fn rejects_each_bad_number() {
        let bad = |edit: fn(&mut PersonalizerConfig)| {
            let mut config = PersonalizerConfig::default();
            edit(&mut config);
            config.validate().expect_err("should be rejected")
        };
        assert!(matches!(bad(|c| c.affinity_half_life_days = 0.0), ConfigError::OutOfRange { .. }));
        assert!(matches!(bad(|c| c.session_half_life_minutes = f64::NAN), ConfigError::OutOfRange { .. }));
        assert_eq!(bad(|c| c.storage_budget_bytes = 100), ConfigError::StorageBudget(100));
        assert!(matches!(bad(|c| c.noise.max_events_per_minute = 0), ConfigError::OutOfRange { .. }));
        assert!(matches!(bad(|c| c.noise.min_dwell_ms = -1.0), ConfigError::OutOfRange { .. }));
        assert!(matches!(bad(|c| c.weights.dismiss = 3.0), ConfigError::WeightSign { field: "dismiss", .. }));
        assert!(matches!(bad(|c| c.weights.view = -1.0), ConfigError::WeightSign { field: "view", .. }));
        assert!(matches!(bad(|c| c.weights.purchase = f64::INFINITY), ConfigError::WeightSign { .. }));
        assert_eq!(bad(|c| c.sensitive_categories = vec![" ".into()]), ConfigError::EmptySensitiveCategory);
        let err = bad(|c| c.shop = "has space".into());
        assert!(err.to_string().contains("namespace"));
    }
}
