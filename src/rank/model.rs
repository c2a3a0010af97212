//! The log-linear ranking model: a score is the dot product of a feature row with the weights.
//! Weights are the shared part (learned offline, updated by federated averaging) plus a
//! per-device personal adjustment. The weights of features that rise with the server's placement
//! ([`RISES_WITH_SERVER`]) are kept ≥ 0, in the shared copy and in shared plus personal, whatever
//! weights the model is given and after every learning step (projected gradient), so the server's
//! contribution to a score never falls as the server places a candidate higher.

use super::default_weights::DEFAULT_WEIGHTS;
use super::features::NUM_FEATURES;
use super::sources::{project_monotone, RISES_WITH_SERVER};
use super::RankError;

/// Shared weights, the baseline they were last synced at, and the personal adjustment.
#[derive(Debug, Clone, PartialEq)]
pub struct RankModel {
    shared: Vec<f32>,
    baseline: Vec<f32>,
    personal: Vec<f32>,
    combined: Vec<f32>,
}

impl Default for RankModel {
    fn default() -> Self {
        Self::from_shared(&DEFAULT_WEIGHTS)
    }
}

fn check_weights(weights: &[f32]) -> Result<(), RankError> {
    if weights.len() != NUM_FEATURES {
        return Err(RankError::WeightsLength { expected: NUM_FEATURES, got: weights.len() });
    }
    if let Some(index) = weights.iter().position(|w| !w.is_finite()) {
        return Err(RankError::NonFiniteWeight { index });
    }
    Ok(())
}

/// `weights` as the ranker keeps them as its shared weights: checked (one finite weight per
/// feature) and projected onto the weights the ranker allows.
pub fn kept_shared_weights(weights: &[f32]) -> Result<Vec<f32>, RankError> {
    check_weights(weights)?;
    let mut kept = weights.to_vec();
    project_monotone(&mut kept);
    Ok(kept)
}

impl RankModel {
    fn from_shared(shared: &[f32]) -> Self {
        let mut shared = shared.to_vec();
        project_monotone(&mut shared);
        let mut model =
            Self { baseline: shared.clone(), shared, personal: vec![0.0; NUM_FEATURES], combined: Vec::new() };
        model.recombine();
        model
    }

    /// A model starting from the given shared weights (length [`NUM_FEATURES`], all finite).
    /// Negative weights of features that rise with the server's placement are read as 0.
    pub fn with_weights(weights: &[f32]) -> Result<Self, RankError> {
        check_weights(weights)?;
        Ok(Self::from_shared(weights))
    }

    /// The shared weights as learned on this device so far.
    pub fn shared_weights(&self) -> &[f32] {
        &self.shared
    }

    /// Replaces the shared weights (e.g. after a federated round); they become the new baseline.
    /// Negative weights of features that rise with the server's placement are read as 0.
    pub fn set_shared_weights(&mut self, weights: &[f32]) -> Result<(), RankError> {
        check_weights(weights)?;
        self.shared.copy_from_slice(weights);
        project_monotone(&mut self.shared);
        self.baseline.copy_from_slice(&self.shared);
        self.project_personal();
        self.recombine();
        Ok(())
    }

    /// What local learning changed in the shared weights since the last sync (local − baseline).
    pub fn shared_delta(&self) -> Vec<f32> {
        self.shared.iter().zip(&self.baseline).map(|(l, b)| l - b).collect()
    }

    /// The per-device adjustment added on top of the shared weights; it never leaves the device.
    pub fn personal_weights(&self) -> &[f32] {
        &self.personal
    }

    /// Replaces the personal adjustment; where it would take a feature that rises with the server's
    /// placement below 0, it is raised to cancel the shared weight instead.
    pub fn set_personal_weights(&mut self, weights: &[f32]) -> Result<(), RankError> {
        check_weights(weights)?;
        self.personal.copy_from_slice(weights);
        self.project_personal();
        self.recombine();
        Ok(())
    }

    /// Shared plus personal: the weights used for scoring.
    pub fn weights(&self) -> &[f32] {
        &self.combined
    }

    pub fn score(&self, row: &[f32]) -> f32 {
        self.combined.iter().zip(row).map(|(w, x)| w * x).sum()
    }

    /// One step of listwise softmax SGD over the `rows` of `matrix` with non-negative `gains`
    /// (e.g. 1 for the clicked row, 0 elsewhere). Updates the shared copy with `lr_shared` and
    /// the personal adjustment with `lr_personal` and an L2 pull `l2`, then projects both back onto
    /// the monotone constraint. Returns the loss.
    pub fn softmax_step(
        &mut self,
        matrix: &[f32],
        rows: &[usize],
        gains: &[f32],
        lr_shared: f32,
        lr_personal: f32,
        l2: f32,
    ) -> f32 {
        let mut gradient = [0.0f32; NUM_FEATURES];
        let loss = softmax_gradient(matrix, rows, gains, &self.combined, &mut gradient);
        for ((shared, personal), g) in self.shared.iter_mut().zip(self.personal.iter_mut()).zip(gradient) {
            *shared -= lr_shared * g;
            *personal -= lr_personal * (g + l2 * *personal);
        }
        project_monotone(&mut self.shared);
        self.project_personal();
        self.recombine();
        loss
    }

    /// Keeps shared + personal ≥ 0 for the features that rise with the server's placement (the
    /// shared weight is ≥ 0 already).
    fn project_personal(&mut self) {
        for ((personal, shared), rises) in self.personal.iter_mut().zip(&self.shared).zip(RISES_WITH_SERVER) {
            if rises && *shared + *personal < 0.0 {
                *personal = -*shared;
            }
        }
    }

    fn recombine(&mut self) {
        self.combined.clear();
        self.combined.extend(self.shared.iter().zip(&self.personal).map(|(s, p)| s + p));
    }
}

/// Adds the gradient of the listwise softmax cross-entropy to `gradient` and returns the loss.
/// The target distribution is `gains` normalized; rows with all-zero gains give no gradient.
pub fn softmax_gradient(matrix: &[f32], rows: &[usize], gains: &[f32], weights: &[f32], gradient: &mut [f32]) -> f32 {
    let total_gain: f32 = gains.iter().filter(|g| g.is_finite() && **g > 0.0).sum();
    if rows.is_empty() || total_gain <= 0.0 || rows.len() != gains.len() {
        return 0.0;
    }
    let row_of = |r: usize| &matrix[r * NUM_FEATURES..(r + 1) * NUM_FEATURES];
    let score = |r: usize| row_of(r).iter().zip(weights).map(|(x, w)| x * w).sum::<f32>();
    let max = rows.iter().map(|&r| score(r)).fold(f32::NEG_INFINITY, f32::max);
    let z: f32 = rows.iter().map(|&r| (score(r) - max).exp()).sum();
    let mut loss = 0.0;
    for (&r, &g) in rows.iter().zip(gains) {
        let s = score(r) - max;
        let p = s.exp() / z;
        let y = if g.is_finite() && g > 0.0 { g / total_gain } else { 0.0 };
        if y > 0.0 {
            loss -= y * (s - z.ln());
        }
        for (acc, x) in gradient.iter_mut().zip(row_of(r)) {
            *acc += (p - y) * x;
        }
    }
    loss
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_gradient_matches_hand_computation() {
        // Two rows, feature 0 only: x = [1, 0], w0 = 0 → p = [0.5, 0.5]; target row 0.
        let mut matrix = vec![0.0; 2 * NUM_FEATURES];
        matrix[0] = 1.0;
        let weights = vec![0.0; NUM_FEATURES];
        let mut gradient = vec![0.0; NUM_FEATURES];
        let loss = softmax_gradient(&matrix, &[0, 1], &[1.0, 0.0], &weights, &mut gradient);
        assert!((loss - std::f32::consts::LN_2).abs() < 1e-6);
        // (p0 - 1) * 1 + (p1 - 0) * 0 = -0.5
        assert!((gradient[0] + 0.5).abs() < 1e-6);
        assert!(gradient[1..].iter().all(|g| g.abs() < 1e-9));
    }

    #[test]
    fn learning_moves_towards_the_clicked_row_and_tracks_the_delta() {
        let mut matrix = vec![0.0; 2 * NUM_FEATURES];
        matrix[3] = 1.0;
        let mut model = RankModel::with_weights(&[0.0; NUM_FEATURES]).unwrap();
        model.softmax_step(&matrix, &[0, 1], &[1.0, 0.0], 0.1, 0.2, 0.0);
        assert!((model.shared_weights()[3] - 0.05).abs() < 1e-6);
        assert!((model.personal_weights()[3] - 0.1).abs() < 1e-6);
        assert!((model.weights()[3] - 0.15).abs() < 1e-6);
        assert!((model.shared_delta()[3] - 0.05).abs() < 1e-6);
        model.set_shared_weights(&[1.0; NUM_FEATURES]).unwrap();
        assert!(model.shared_delta().iter().all(|d| d.abs() < 1e-9));
        assert!(matches!(model.set_shared_weights(&[1.0; 3]), Err(RankError::WeightsLength { .. })));
        let mut nan = [0.0; NUM_FEATURES];
        nan[2] = f32::NAN;
        assert!(matches!(RankModel::with_weights(&nan), Err(RankError::NonFiniteWeight { index: 2 })));
    }

    #[test]
    fn shipped_weights_are_valid_and_already_monotone() {
        assert!(RankModel::with_weights(&DEFAULT_WEIGHTS).is_ok());
        for (f, w) in DEFAULT_WEIGHTS.iter().enumerate() {
            assert!(!RISES_WITH_SERVER[f] || *w >= 0.0, "{}: {w}", crate::rank::feature_name(f));
        }
    }

    #[test]
    fn weights_given_or_learned_never_turn_against_the_server() {
        use crate::rank::features::SERVER_RANK;
        let mut weights = [0.0; NUM_FEATURES];
        weights[SERVER_RANK] = -2.0;
        weights[5] = -2.0;
        let mut model = RankModel::with_weights(&weights).unwrap();
        assert!(model.weights()[SERVER_RANK].abs() < 1e-9 && (model.weights()[5] + 2.0).abs() < 1e-9);
        // A click on the row the server ranked lower pushes the rank weight down: it stops at 0.
        weights[SERVER_RANK] = 0.01;
        model.set_shared_weights(&weights).unwrap();
        let mut matrix = vec![0.0; 2 * NUM_FEATURES];
        matrix[SERVER_RANK] = 1.0;
        matrix[NUM_FEATURES + SERVER_RANK] = 0.5;
        for _ in 0..50 {
            model.softmax_step(&matrix, &[0, 1], &[0.0, 1.0], 0.5, 0.5, 0.0);
        }
        assert!(model.shared_weights()[SERVER_RANK] >= 0.0 && model.weights()[SERVER_RANK] >= 0.0);
        assert!(model.shared_weights()[SERVER_RANK] < 1e-6, "{}", model.shared_weights()[SERVER_RANK]);
        let mut personal = [0.0; NUM_FEATURES];
        personal[SERVER_RANK] = -3.0;
        model
            .set_shared_weights(&{
                let mut w = weights;
                w[SERVER_RANK] = 1.0;
                w
            })
            .unwrap();
        model.set_personal_weights(&personal).unwrap();
        assert!(
            model.weights()[SERVER_RANK].abs() < 1e-6 && (model.personal_weights()[SERVER_RANK] + 1.0).abs() < 1e-6
        );
    }
}
