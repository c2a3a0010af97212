//! Adapt the shop beyond ranking, on the device: page layout, offers, copy variants and
//! engagement timing, all learned by one shared contextual bandit, plus the holdout bucket
//! that lets the shop measure the lift privately (see [`crate::measure`]).

pub mod bandit;
pub mod copy_variants;

pub use crate::profile::shopper_state::{
    DeviceClass, Interest, ShopperState, VisitSegment, CONTEXT_FEATURES, HOURS_PER_WEEK,
};
pub use bandit::{Bandit, BanditError, BanditParams, BanditPick, CheckedBanditParams};
pub mod adapter;
pub mod layout;
pub mod off_policy;
pub mod offers;
pub mod why;

pub use crate::measure::holdout::{HoldoutDraw, LiftBucket, DEFAULT_HOLDOUT_SHARE};
pub use adapter::{AdaptError, AdaptState, Adapter, AdapterConfig, CheckedAdapterConfig};
pub use copy_variants::{CopyVariant, VariantDecision, VariantError};
pub use layout::constraints::LayoutError;
pub use layout::{
    Density, HiddenSection, LayoutDecision, LayoutOptions, LayoutTuning, PlacedSection, SectionKind, SectionSpec,
};
pub use offers::history::OfferHistory;
pub use offers::{
    Audience, AudienceSpec, FrequencyCap, OfferContext, OfferDecision, OfferError, OfferLimits, OfferSpec, SkippedOffer,
};
pub mod engagement_hours;
pub use engagement_hours::{preferred_hours, ActiveHour, HoursError, HoursParams, PreferredHours};
pub use why::{DecisionCode, MIN_RATE_EVIDENCE};
