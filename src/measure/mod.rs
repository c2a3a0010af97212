//! Private lift measurement: on-device counters per bucket and placement, the noised vector
//! that is the only thing leaving the device, and the aggregation-side estimator that turns
//! many devices' noised vectors into lift with a confidence interval.
//!
//! ```
//! use shop_personalizer::adapt::{Adapter, AdapterConfig};
//! use shop_personalizer::measure::{ItemClass, LiftEstimator, LiftReportConfig};
//! let config = LiftReportConfig::default().check().unwrap();
//! let mut aggregator = LiftEstimator::new(config.clone());
//! for device in 0..50u64 {
//!     // On each device: count, then send one noised report per period.
//!     let mut adapter = Adapter::new(AdapterConfig::default(), device).unwrap();
//!     adapter.lift_counters_mut().record_session();
//!     adapter.lift_counters_mut().record_order("home", ItemClass::Recommended, 30.0).unwrap();
//!     let report = adapter.take_lift_report(&config, 1000 + device); // seed from crypto in browsers
//!     aggregator.add(&report).unwrap();
//! }
//! let estimate = aggregator.estimate(0.95).unwrap();
//! assert_eq!(estimate.personalized_reports + estimate.holdout_reports, 50);
//! assert_eq!(estimate.metrics[0].metric, "orders per session");
//! ```

pub mod counters;
pub mod estimate;
pub mod gaussian;
pub mod holdout;
mod noise_mode_reading;
pub mod report;
pub mod shares;
pub mod sums;

pub use counters::{CounterError, ItemClass, LiftCounters, LiftMetric, PlacementCounts, OTHER_PLACEMENT};
pub use estimate::{
    fieller_interval, normal_quantile, EstimateError, LiftEstimate, LiftEstimator, MetricLift, RatioLift,
};
pub use report::{
    noised_report, CheckedReportConfig, LiftReport, LiftReportConfig, MetricCaps, NoiseMode, ReportError,
};
pub use shares::{ReportShares, ShareError};
pub use sums::LiftSums;
