//! Collect: the events a storefront reports, checked and filtered before they reach the profile.

pub mod event;
pub(crate) mod event_reading;

pub use event::{EventError, EventKind, PurchaseLine, TrackEvent};
pub mod noise;

pub use noise::{FilterReason, NoiseDecision, NoiseFilter};
pub mod screen;

pub use screen::{ItemDirectory, Screened};
