//! The privacy accounting, stated once and used everywhere.
//!
//! Each update is a Gaussian mechanism: the device clips its model delta to L2 norm `C` and adds
//! `N(0, σ² I)` with `σ = z·C`. Under zero-concentrated differential privacy (zCDP, Bun & Steinke
//! 2016) a Gaussian mechanism with L2 sensitivity `Δ` and noise `σ` is `ρ = Δ² / (2σ²)`-zCDP.
//!
//! * Sensitivity: `Δ = C` under *zero-out* adjacency (this device's update versus no
//!   contribution at all, the usual user-level adjacency of federated learning). Against an
//!   observer comparing two arbitrary datasets of the same device (replace-one adjacency) the
//!   sensitivity is `2C` and every `ρ` below is four times larger; [`REPLACE_ONE_FACTOR`] records it.
//! * One update therefore costs `ρ = 1 / (2 z²)`.
//! * Composition: `ρ` adds up over updates.
//! * Conversion: `ρ`-zCDP implies `(ε, δ)`-DP with `ε = ρ + 2 √(ρ ln(1/δ))` for every `δ > 0`.
//!
//! Quantization (stochastic rounding of the noised vector) is post-processing and costs nothing.

/// How much larger `ρ` is under replace-one adjacency than under zero-out adjacency (`(2C)² / C²`).
pub const REPLACE_ONE_FACTOR: f64 = 4.0;

/// The one-line statement of the accounting, shown to shoppers and in reports.
pub const ACCOUNTING_STATEMENT: &str = "Gaussian mechanism under zero-concentrated DP: each update \
clipped to L2 norm C with noise sigma = z*C costs rho = 1/(2 z^2) (zero-out adjacency, sensitivity C); \
a lift report (at most one a period, every count clipped and noised) costs the rho of its configured epsilon; \
rho adds up over updates and lift reports; epsilon = rho + 2*sqrt(rho*ln(1/delta)).";

/// `ρ` of one Gaussian mechanism whose noise standard deviation is `noise_multiplier` times its
/// sensitivity. `noise_multiplier` must be positive (checked params guarantee it).
pub fn rho_per_update(noise_multiplier: f64) -> f64 {
    1.0 / (2.0 * noise_multiplier * noise_multiplier)
}

/// The `ε` at which `rho`-zCDP gives `(ε, δ)`-DP. Zero spend is zero `ε`.
pub fn epsilon_from_rho(rho: f64, delta: f64) -> f64 {
    if rho <= 0.0 {
        return 0.0;
    }
    rho + 2.0 * (rho * (1.0 / delta).ln()).sqrt()
}

/// The largest `ρ` whose `(ε, δ)` conversion stays within `epsilon` (the inverse of
/// [`epsilon_from_rho`]): `√ρ = √(L + ε) − √L` with `L = ln(1/δ)`.
pub fn rho_budget_for_epsilon(epsilon: f64, delta: f64) -> f64 {
    if epsilon <= 0.0 {
        return 0.0;
    }
    let log_term = (1.0 / delta).ln();
    let root = (log_term + epsilon).sqrt() - log_term.sqrt();
    root * root
}

/// The smallest noise multiplier whose single update stays within `epsilon` at `delta`.
pub fn min_noise_multiplier_for(epsilon: f64, delta: f64) -> f64 {
    let rho = rho_budget_for_epsilon(epsilon, delta);
    if rho <= 0.0 {
        return f64::INFINITY;
    }
    1.0 / (2.0 * rho).sqrt()
}

/// `ρ` of the Gaussian noise a server adds to a sum of clipped updates (sensitivity `C`, noise
/// `z_central · C`): the central guarantee of one round, not counting the devices' own noise.
pub fn central_rho(central_noise_multiplier: f64) -> f64 {
    rho_per_update(central_noise_multiplier)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOLERANCE: f64 = 1e-9;

    #[test]
    fn unit_noise_multiplier_costs_half_a_rho() {
        assert!((rho_per_update(1.0) - 0.5).abs() < TOLERANCE);
        assert!((rho_per_update(2.0) - 0.125).abs() < TOLERANCE);
    }

    #[test]
    fn epsilon_at_one_in_a_million_matches_hand_computation() {
        // ln(1e6) = 13.815510558; 0.5 * 13.815510558 = 6.907755279; sqrt = 2.628261;
        // eps = 0.5 + 2 * 2.628261 = 5.756522.
        let epsilon = epsilon_from_rho(0.5, 1e-6);
        assert!((epsilon - 5.756_522).abs() < 1e-5, "got {epsilon}");
        // Two updates compose to rho = 1: 1 + 2 * sqrt(13.815510558) = 1 + 7.433844 = 8.433844.
        let two = epsilon_from_rho(1.0, 1e-6);
        assert!((two - 8.433_844).abs() < 1e-5, "got {two}");
    }

    #[test]
    fn zero_spend_is_zero_epsilon() {
        assert_eq!(epsilon_from_rho(0.0, 1e-6), 0.0);
    }

    #[test]
    fn rho_budget_inverts_the_conversion() {
        for epsilon in [0.1, 1.0, 5.756_522, 8.0, 20.0] {
            let rho = rho_budget_for_epsilon(epsilon, 1e-6);
            assert!((epsilon_from_rho(rho, 1e-6) - epsilon).abs() < 1e-9);
        }
        assert!((rho_budget_for_epsilon(5.756_522_3, 1e-6) - 0.5).abs() < 1e-6);
    }

    #[test]
    fn min_noise_multiplier_meets_the_budget_exactly() {
        let z = min_noise_multiplier_for(5.756_522_3, 1e-6);
        assert!((z - 1.0).abs() < 1e-6, "got {z}");
    }
}
