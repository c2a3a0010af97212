//! The config as JSON text, as the core hands it to the on-demand module: written by hand byte
//! for byte as `serde_json::to_string` writes its serde derive (the on-demand module reads it
//! with that derive), so serde_json's serializer is not in the core module.

use crate::storage::json_text::{push_f64, push_list, push_raw, push_str, push_u64, JsonText};

use super::PersonalizerConfig;

/// Members that are floats, each name with its punctuation before it.
fn float_members<'a>(out: &mut String, members: impl IntoIterator<Item = (&'a str, f64)>) {
    for (name, value) in members {
        push_raw(out, name);
        push_f64(out, value);
    }
}

impl JsonText for PersonalizerConfig {
    fn write_json(&self, out: &mut String) {
        push_raw(out, "{\"shop\":");
        push_str(out, &self.shop);
        let half_lives = [
            (",\"affinityHalfLifeDays\":", self.affinity_half_life_days),
            (",\"sessionHalfLifeMinutes\":", self.session_half_life_minutes),
        ];
        float_members(out, half_lives);
        push_raw(out, ",\"storageBudgetBytes\":");
        push_u64(out, self.storage_budget_bytes.into());
        push_raw(out, ",\"sensitiveCategories\":");
        push_list(out, &self.sensitive_categories, |out, category| push_str(out, category));
        let noise = &self.noise;
        push_raw(out, ",\"noise\":{\"duplicateViewWindowMs\":");
        push_f64(out, noise.duplicate_view_window_ms);
        push_raw(out, ",\"maxEventsPerMinute\":");
        push_u64(out, noise.max_events_per_minute.into());
        push_raw(out, ",\"burstMaxEvents\":");
        push_u64(out, noise.burst_max_events.into());
        let windows = [
            (",\"burstWindowMs\":", noise.burst_window_ms),
            (",\"minDwellMs\":", noise.min_dwell_ms),
            (",\"sessionTimeoutMs\":", noise.session_timeout_ms),
        ];
        float_members(out, windows);
        push_raw(out, if noise.bot_heuristic { ",\"botHeuristic\":true}" } else { ",\"botHeuristic\":false}" });
        let w = &self.weights;
        let weights = [
            (",\"weights\":{\"view\":", w.view),
            (",\"click\":", w.click),
            (",\"addToCart\":", w.add_to_cart),
            (",\"removeFromCart\":", w.remove_from_cart),
            (",\"purchase\":", w.purchase),
            (",\"ratingPerStar\":", w.rating_per_star),
            (",\"wishlistAdd\":", w.wishlist_add),
            (",\"wishlistRemove\":", w.wishlist_remove),
            (",\"dismiss\":", w.dismiss),
            (",\"dwellPerSecond\":", w.dwell_per_second),
            (",\"dwellCap\":", w.dwell_cap),
            (",\"scroll\":", w.scroll),
            (",\"search\":", w.search),
        ];
        float_members(out, weights);
        push_raw(out, "}}");
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::config::{NoiseConfig, SignalWeights};

    #[test]
    fn the_default_config_is_written_as_serde_json_writes_it() {
        let config = PersonalizerConfig::default();
        assert_eq!(config.json_text(), serde_json::to_string(&config).unwrap());
        assert!(config.json_text().starts_with(r#"{"shop":"default","affinityHalfLifeDays":14.0,"#));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn any_config_is_written_as_serde_json_writes_it(
            shop in any::<String>(),
            halves in any::<(f64, f64)>(),
            budget in any::<u32>(),
            sensitive in proptest::collection::vec(any::<String>(), 0..3),
            f in proptest::collection::vec(prop_oneof![any::<f64>(), Just(f64::NAN), Just(2.0)], 17),
            counts in any::<(u32, u32, bool)>(),
        ) {
            let noise = NoiseConfig {
                duplicate_view_window_ms: f[0],
                max_events_per_minute: counts.0,
                burst_max_events: counts.1,
                burst_window_ms: f[1],
                min_dwell_ms: f[2],
                session_timeout_ms: f[3],
                bot_heuristic: counts.2,
            };
            let weights = SignalWeights {
                view: f[4],
                click: f[5],
                add_to_cart: f[6],
                remove_from_cart: f[7],
                purchase: f[8],
                rating_per_star: f[9],
                wishlist_add: f[10],
                wishlist_remove: f[11],
                dismiss: f[12],
                dwell_per_second: f[13],
                dwell_cap: f[14],
                scroll: f[15],
                search: f[16],
            };
            let config = PersonalizerConfig {
                shop,
                affinity_half_life_days: halves.0,
                session_half_life_minutes: halves.1,
                storage_budget_bytes: budget,
                sensitive_categories: sensitive,
                noise,
                weights,
            };
            prop_assert_eq!(config.json_text(), serde_json::to_string(&config).unwrap());
        }
    }
}
