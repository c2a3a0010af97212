//! The profile's results for JS, `profileSummary()` (also the export's `summary`) and
//! `shopperState()` (also the shopper the on-demand module's decisions read), written by hand
//! byte for byte as `serde_json::to_string` writes their serde derives (which stay, for the
//! on-demand module and as the tests' reference), so serde_json's serializer of each is not in
//! the core module. Keys, visits and devices are written as the stored profile writes them.

use crate::privacy::{LedgerSummary, PeriodSummary};
use crate::storage::json_text::{push_f64, push_list, push_raw, push_str, push_u64, JsonText};

use super::shopper_state::{Interest, ShopperState, VisitSegment};
use super::stored::{attribute_key, device_name, visits, whole_members};
use super::{InterestSummary, KeptCounts, ProfileSummary, Segment};

fn interest_summary(out: &mut String, interest: &InterestSummary) {
    push_raw(out, "{\"key\":");
    attribute_key(out, &interest.key);
    push_raw(out, ",\"label\":");
    push_str(out, &interest.label);
    push_raw(out, ",\"weight\":");
    push_f64(out, interest.weight);
    push_raw(out, "}");
}

fn kept(out: &mut String, kept: &KeptCounts) {
    let counts = [
        ("{\"interests\":", kept.interests as u64),
        (",\"sessionItems\":", kept.session_items as u64),
        (",\"viewed\":", kept.viewed as u64),
        (",\"carted\":", kept.carted as u64),
        (",\"purchased\":", kept.purchased as u64),
        (",\"dismissed\":", kept.dismissed as u64),
        (",\"wishlist\":", kept.wishlist as u64),
        (",\"cartItems\":", kept.cart_items as u64),
        (",\"rememberedItems\":", kept.remembered_items as u64),
        (",\"itemsWithRepeatInterest\":", kept.items_with_repeat_interest as u64),
        (",\"eventsRecorded\":", kept.events_recorded),
    ];
    whole_members(out, counts);
    push_raw(out, "}");
}

/// Members that are floats, each name with its punctuation before it.
fn float_members<'a>(out: &mut String, members: impl IntoIterator<Item = (&'a str, f64)>) {
    for (name, value) in members {
        push_raw(out, name);
        push_f64(out, value);
    }
}

fn period(out: &mut String, period: &PeriodSummary) {
    let whole = [
        ("{\"periodStartUnixSeconds\":", period.period_start_unix_seconds),
        (",\"updates\":", u64::from(period.updates)),
        (",\"liftReports\":", u64::from(period.lift_reports)),
    ];
    whole_members(out, whole);
    push_raw(out, ",\"epsilon\":");
    push_f64(out, period.epsilon);
    push_raw(out, "}");
}

fn ledger(out: &mut String, ledger: &LedgerSummary) {
    push_raw(out, "{\"accounting\":");
    push_str(out, &ledger.accounting);
    let noise = [
        (",\"noiseMultiplier\":", ledger.noise_multiplier),
        (",\"clipBound\":", ledger.clip_bound),
        (",\"delta\":", ledger.delta),
    ];
    float_members(out, noise);
    push_raw(out, ",\"periodSeconds\":");
    push_u64(out, ledger.period_seconds);
    let spend = [
        (",\"epsilonPerUpdate\":", ledger.epsilon_per_update),
        (",\"epsilonPerLiftReport\":", ledger.epsilon_per_lift_report),
        (",\"periodBudgetEpsilon\":", ledger.period_budget_epsilon),
    ];
    float_members(out, spend);
    let counts = [
        (",\"currentPeriodUpdates\":", u64::from(ledger.current_period_updates)),
        (",\"currentPeriodLiftReports\":", u64::from(ledger.current_period_lift_reports)),
    ];
    whole_members(out, counts);
    let current = [
        (",\"currentPeriodEpsilon\":", ledger.current_period_epsilon),
        (",\"currentPeriodRemainingEpsilon\":", ledger.current_period_remaining_epsilon),
    ];
    float_members(out, current);
    let lifetime = [
        (",\"currentPeriodEndsUnixSeconds\":", ledger.current_period_ends_unix_seconds),
        (",\"lifetimeUpdates\":", ledger.lifetime_updates),
        (",\"lifetimeLiftReports\":", ledger.lifetime_lift_reports),
    ];
    whole_members(out, lifetime);
    push_raw(out, ",\"lifetimeEpsilon\":");
    push_f64(out, ledger.lifetime_epsilon);
    push_raw(out, ",\"history\":");
    push_list(out, &ledger.history, period);
    push_raw(out, "}");
}

impl JsonText for ProfileSummary {
    fn write_json(&self, out: &mut String) {
        push_raw(out, "{\"topInterests\":");
        push_list(out, &self.top_interests, interest_summary);
        push_raw(out, ",\"avoided\":");
        push_list(out, &self.avoided, interest_summary);
        push_raw(out, ",\"visits\":");
        visits(out, &self.visits);
        push_raw(out, ",\"segment\":");
        let segments = ["\"new\"", "\"returning\"", "\"loyal\""];
        push_raw(out, segments[self.segment as usize]);
        push_raw(out, ",\"device\":");
        push_str(out, device_name(self.device));
        if let Some(hour) = self.busiest_hour_of_week {
            push_raw(out, ",\"busiestHourOfWeek\":");
            push_u64(out, hour.into());
        }
        push_raw(out, ",\"kept\":");
        kept(out, &self.kept);
        if let Some(summary) = &self.privacy_ledger {
            push_raw(out, ",\"privacyLedger\":");
            ledger(out, summary);
        }
        push_raw(out, "}");
    }
}

/// An `f32` as its `f64`, as the shopper's `widened` fields are written.
fn widened(out: &mut String, value: f32) {
    push_f64(out, f64::from(value));
}

fn interest(out: &mut String, interest: &Interest) {
    push_raw(out, "{\"key\":");
    attribute_key(out, &interest.key);
    push_raw(out, ",\"weight\":");
    widened(out, interest.weight);
    push_raw(out, "}");
}

impl JsonText for ShopperState {
    fn write_json(&self, out: &mut String) {
        push_raw(out, "{\"segment\":");
        let segments = ["\"new\"", "\"returning\"", "\"loyal\""];
        push_raw(out, segments[self.segment as usize]);
        let counts = [(",\"visits\":", u64::from(self.visits)), (",\"orders\":", u64::from(self.orders))];
        whole_members(out, counts);
        if let Some(hours) = self.hours_since_last_order {
            push_raw(out, ",\"hoursSinceLastOrder\":");
            push_f64(out, hours);
        }
        push_raw(out, ",\"cartItems\":");
        push_u64(out, self.cart_items.into());
        push_raw(out, if self.cart_abandoned { ",\"cartAbandoned\":true" } else { ",\"cartAbandoned\":false" });
        if let Some(category) = &self.current_category {
            push_raw(out, ",\"currentCategory\":");
            push_str(out, category);
        }
        push_raw(out, ",\"topInterests\":");
        push_list(out, &self.top_interests, interest);
        push_raw(out, ",\"hourOfWeekActivity\":");
        push_list(out, &self.hour_of_week_activity, |out, value| widened(out, *value));
        push_raw(out, ",\"device\":");
        push_str(out, device_name(self.device));
        push_raw(out, "}");
    }
}

// Both segment types are written by their declaration order above.
const _: () = {
    assert!(Segment::Loyal as usize == 2 && Segment::Returning as usize == 1);
    assert!(VisitSegment::Loyal as usize == 2 && VisitSegment::Returning as usize == 1);
};

#[cfg(test)]
#[path = "result_text_tests.rs"]
mod tests;
