//! The lift simulation: replayed sessions as many devices, a known injected lift, and the
//! library's private lift measurement end to end (bucket draw → counters → noised report →
//! aggregator estimate). See the `lift-sim` binary.

pub mod dap_sums;
pub mod random_groups;
pub mod sessions;
pub mod simulation;

#[cfg(test)]
mod tests;
