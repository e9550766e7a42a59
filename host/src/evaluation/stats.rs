//! Statistics over repeated runs (seeds): mean ± sample standard deviation,
//! and a 95 % confidence interval of a paired difference (Student's t).
use serde::{Deserialize, Serialize};

/// Mean and sample standard deviation of `n` values.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MeanStd {
    /// Arithmetic mean (NaN for no values).
    pub mean: f64,
    /// Sample standard deviation (n − 1 in the denominator; 0 for one value).
    pub std: f64,
    /// Number of values.
    pub n: usize,
}

/// Mean ± standard deviation of `values`.
pub fn mean_std(values: &[f64]) -> MeanStd {
    let n = values.len();
    if n == 0 {
        return MeanStd {
            mean: f64::NAN,
            std: f64::NAN,
            n,
        };
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let std = if n > 1 {
        (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
    } else {
        0.0
    };
    MeanStd { mean, std, n }
}

/// Two-sided 95 % quantile of Student's t with `dof` degrees of freedom
/// (`dof` ≥ 1; the normal 1.960 beyond 30).
pub fn t95(dof: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    match dof {
        0 => f64::INFINITY,
        d => TABLE.get(d - 1).copied().unwrap_or(1.960),
    }
}

/// A paired difference over seeds: its mean and the half-width of the 95 %
/// confidence interval (`t₀.₉₇₅(n−1) · s / √n`; infinite for one pair).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairedDifference {
    /// Mean of `a − b` over the pairs.
    pub mean: f64,
    /// Half-width of the 95 % interval.
    pub ci95: f64,
    /// Number of pairs.
    pub n: usize,
}

impl PairedDifference {
    /// The difference of `a[i] − b[i]`, paired by index (extra values ignored).
    pub fn of(a: &[f64], b: &[f64]) -> PairedDifference {
        let diffs: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
        let s = mean_std(&diffs);
        let ci95 = if s.n > 1 {
            t95(s.n - 1) * s.std / (s.n as f64).sqrt()
        } else {
            f64::INFINITY
        };
        PairedDifference {
            mean: s.mean,
            ci95,
            n: s.n,
        }
    }

    /// Whether the interval excludes zero.
    pub fn significant(&self) -> bool {
        self.ci95.is_finite() && self.mean.abs() > self.ci95
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_sample_std() {
        let s = mean_std(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(s.mean, 5.0);
        assert!((s.std - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
        assert_eq!(mean_std(&[3.0]).std, 0.0);
        assert!(mean_std(&[]).mean.is_nan());
    }

    #[test]
    fn paired_interval_uses_students_t() {
        // Differences 1, 2, 3: mean 2, s = 1, t(2) = 4.303 → 4.303 / √3.
        let d = PairedDifference::of(&[11.0, 12.0, 13.0, 99.0], &[10.0, 10.0, 10.0]);
        assert_eq!(d.n, 3);
        assert!((d.mean - 2.0).abs() < 1e-12);
        assert!((d.ci95 - 4.303 / 3f64.sqrt()).abs() < 1e-9);
        assert!(!d.significant());
        let tight = PairedDifference::of(&[1.0, 1.1, 0.9, 1.0], &[0.0; 4]);
        assert!(tight.significant());
        assert!(!PairedDifference::of(&[1.0], &[0.0]).significant());
        assert_eq!(t95(1), 12.706);
        assert_eq!(t95(100), 1.960);
    }
}
