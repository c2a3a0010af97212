//! Private lift measurement: on-device counters per bucket and placement, the noised vector
//! that is the only thing leaving the device, and the aggregation-side estimator that turns
//! many devices' noised vectors into lift with a confidence interval.

pub mod counters;
pub mod estimate;
pub mod report;

pub use counters::{CounterError, ItemClass, LiftCounters, LiftMetric, PlacementCounts, OTHER_PLACEMENT};
pub use estimate::{normal_quantile, EstimateError, LiftEstimate, LiftEstimator, MetricLift, RatioLift};
pub use report::{
    noised_report, CheckedReportConfig, LiftReport, LiftReportConfig, MetricCaps, NoiseMode, ReportError,
};
