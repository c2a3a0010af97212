//! Hostile devices: each sends the worst update the server's checks still admit, aimed against
//! what it learnt itself (its own honest delta, the best guess of where the round is going).
//!
//! * `flip`: the whole norm bound along minus its own delta, at the largest honest scale.
//! * `spike`: 127 steps of the largest honest scale (the largest honest coordinate) on the
//!   coordinates its delta moves most, against their sign, until the norm bound is spent.
//! * `inlier`: every coordinate one noise standard deviation against its delta's sign, a shift
//!   that hides inside the honest spread (aimed at trimmed means).

use aggregator::policy::{max_scale, norm_bound};
use shop_personalizer::sync::UpdateMessage;

/// Which worst-admissible update hostile devices send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attack {
    Flip,
    Spike,
    Inlier,
}

impl Attack {
    pub const ALL: [Attack; 3] = [Attack::Flip, Attack::Spike, Attack::Inlier];

    pub fn name(self) -> &'static str {
        match self {
            Attack::Flip => "flip",
            Attack::Spike => "spike",
            Attack::Inlier => "inlier",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|attack| attack.name() == text)
    }
}

/// What the server admits, from its settings alone.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub clip_bound: f64,
    pub noise_multiplier: f64,
    /// Largest admitted quantization scale.
    pub scale: f64,
    /// Largest admitted L2 norm.
    pub norm: f64,
}

impl Limits {
    pub fn new(clip_bound: f64, noise_multiplier: f64, dimension: usize) -> Self {
        Self {
            clip_bound,
            noise_multiplier,
            scale: max_scale(clip_bound, noise_multiplier, dimension),
            norm: norm_bound(clip_bound, noise_multiplier, dimension),
        }
    }
}

/// The hostile update against `version`, from the attacker's own delta `own`.
pub fn hostile_update(attack: Attack, own: &[f64], limits: &Limits, version: u64, nonce: [u8; 16]) -> UpdateMessage {
    // A hair below the bounds so f32 rounding of the scale cannot cross them.
    let scale = (limits.scale * 0.999_99) as f32;
    let step = f64::from(scale);
    let budget = (limits.norm * 0.999_9 / step).powi(2);
    let sign = |v: f64| if v > 0.0 { -1.0 } else { 1.0 };
    let values: Vec<f64> = match attack {
        Attack::Flip => {
            let length = own.iter().map(|v| v * v).sum::<f64>().sqrt().max(f64::MIN_POSITIVE);
            let levels = budget.sqrt() / length;
            own.iter().map(|v| -v * levels).collect()
        }
        Attack::Spike => {
            let mut order: Vec<usize> = (0..own.len()).collect();
            order.sort_by(|&a, &b| own[b].abs().total_cmp(&own[a].abs()));
            let mut left = budget;
            let mut values = vec![0.0; own.len()];
            for index in order {
                let level = left.sqrt().min(127.0).floor();
                if level < 1.0 {
                    break;
                }
                values[index] = sign(own[index]) * level;
                left -= level * level;
            }
            values
        }
        Attack::Inlier => {
            let sigma = limits.noise_multiplier * limits.clip_bound / step;
            let level = sigma.min((budget / own.len() as f64).sqrt());
            own.iter().map(|&v| sign(v) * level).collect()
        }
    };
    let mut quantized: Vec<i8> = values.iter().map(|v| v.round().clamp(-127.0, 127.0) as i8).collect();
    // Rounding up may cross the norm budget: shave the largest coordinate until it fits.
    while quantized.iter().map(|&q| f64::from(q).powi(2)).sum::<f64>() > budget {
        if let Some(largest) = quantized.iter_mut().max_by_key(|q| q.unsigned_abs()) {
            *largest -= largest.signum();
        }
    }
    UpdateMessage {
        model_version: version,
        clip_bound: limits.clip_bound as f32,
        noise_multiplier: limits.noise_multiplier as f32,
        quantization_scale: scale,
        nonce,
        values: quantized,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aggregator::policy::admit;
    use aggregator::ServerConfig;

    #[test]
    fn every_attack_is_admitted_and_aims_against_the_own_delta() {
        let config = ServerConfig { dimension: 90, clip_bound: 0.5, ..ServerConfig::default() }.check().expect("ok");
        let limits = Limits::new(0.5, 1.0, 90);
        let own: Vec<f64> = (0..90).map(|i| (f64::from(i) - 40.0) / 100.0).collect();
        for attack in Attack::ALL {
            let message = hostile_update(attack, &own, &limits, 1, [7; 16]);
            assert_eq!(admit(&message, &config, 1), Ok(()), "{attack:?}");
            let decoded: Vec<f64> =
                message.values.iter().map(|&q| f64::from(q) * f64::from(message.quantization_scale)).collect();
            let against: f64 = decoded.iter().zip(&own).map(|(d, o)| d * o).sum();
            assert!(against < 0.0, "{attack:?} pushes against the own delta");
            let norm = decoded.iter().map(|d| d * d).sum::<f64>().sqrt();
            if attack != Attack::Inlier {
                assert!(norm > 0.99 * limits.norm, "{attack:?} spends the norm budget: {norm} of {}", limits.norm);
            }
        }
        assert_eq!(Attack::parse("spike"), Some(Attack::Spike));
        assert_eq!(Attack::parse("nope"), None);
    }
}
