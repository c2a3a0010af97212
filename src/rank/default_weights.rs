//! Shipped default weights (index-aligned with `features::FEATURE_NAMES`).
//! Placeholder priors until `replay --fit-weights` writes the learned values here.

pub const DEFAULT_WEIGHTS: [f32; 27] = [
    0.5, 0.2, 0.5, 0.0, 1.0, 0.2, 1.0, 0.5, 0.3, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.3, 0.3, 0.3, 0.5, 0.5, 1.0, 0.0,
    0.2, -3.0, -5.0, 0.1, 0.0,
];
