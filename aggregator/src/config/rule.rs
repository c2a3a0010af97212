//! `--round-rule`: how a closing round turns its updates into the model's change.

use std::fmt;
use std::str::FromStr;

/// The aggregation rule of a round.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RoundRule {
    /// `mean`: the plain FedAvg mean of the running sum; no individual update is kept.
    Mean,
    /// `trimmed-mean:β`: per coordinate, drop the `⌊β·n⌋` smallest and largest values and
    /// average the rest.
    TrimmedMean { trim_fraction: f64 },
    /// `median-window:k`: per coordinate, average the values within `C + k·z·C` of the
    /// coordinate's median (an honest coordinate is its clipped delta, at most `C`, plus noise
    /// of sd `zC`), dropping the rest.
    MedianWindow { sigmas: f64 },
    /// `screened:k`: drop every update farther from the coordinate-wise median than the median
    /// distance plus `k` robust standard deviations of the distances (at least `C`), then the
    /// median window (`median-window:4`) over the rest (see `screening.rs`).
    Screened { sigmas: f64 },
}

impl RoundRule {
    /// Whether the round must keep its updates (every rule but the plain mean).
    pub fn keeps_updates(&self) -> bool {
        !matches!(self, RoundRule::Mean)
    }

    /// Whether the rule's parameter is usable: `β` in (0, 0.5), `k` positive and finite.
    pub fn is_valid(&self) -> bool {
        match *self {
            RoundRule::Mean => true,
            RoundRule::TrimmedMean { trim_fraction } => trim_fraction > 0.0 && trim_fraction < 0.5,
            RoundRule::MedianWindow { sigmas } | RoundRule::Screened { sigmas } => sigmas.is_finite() && sigmas > 0.0,
        }
    }
}

impl fmt::Display for RoundRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RoundRule::Mean => f.write_str("mean"),
            RoundRule::TrimmedMean { trim_fraction } => write!(f, "trimmed-mean:{trim_fraction}"),
            RoundRule::MedianWindow { sigmas } => write!(f, "median-window:{sigmas}"),
            RoundRule::Screened { sigmas } => write!(f, "screened:{sigmas}"),
        }
    }
}

impl FromStr for RoundRule {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        let (name, parameter) = text.split_once(':').map_or((text, None), |(n, p)| (n, Some(p)));
        let number = |default: f64| parameter.map_or(Ok(default), |p| p.trim().parse::<f64>().map_err(|_| ()));
        match name.trim() {
            "mean" if parameter.is_none() => Ok(RoundRule::Mean),
            "trimmed-mean" => Ok(RoundRule::TrimmedMean { trim_fraction: number(0.1)? }),
            "median-window" => Ok(RoundRule::MedianWindow { sigmas: number(4.0)? }),
            "screened" => Ok(RoundRule::Screened { sigmas: number(3.0)? }),
            _ => Err(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_print_and_check_their_parameter() {
        for text in ["mean", "trimmed-mean:0.2", "median-window:3", "screened:2.5"] {
            assert_eq!(text.parse::<RoundRule>().expect("parses").to_string(), text);
        }
        assert_eq!("trimmed-mean".parse(), Ok(RoundRule::TrimmedMean { trim_fraction: 0.1 }));
        assert_eq!("median-window".parse(), Ok(RoundRule::MedianWindow { sigmas: 4.0 }));
        assert_eq!("screened".parse(), Ok(RoundRule::Screened { sigmas: 3.0 }));
        assert!(!RoundRule::Screened { sigmas: f64::NAN }.is_valid());
        assert!("mean:1".parse::<RoundRule>().is_err() && "median".parse::<RoundRule>().is_err());
        assert!(!RoundRule::TrimmedMean { trim_fraction: 0.5 }.is_valid());
        assert!(!RoundRule::MedianWindow { sigmas: 0.0 }.is_valid());
        assert!(RoundRule::Mean.is_valid() && !RoundRule::Mean.keeps_updates());
    }
}
