//! Activation statistics over calibration images and the per-tensor int8
//! ranges derived from them.
//!
//! Every tensor keeps its exact min/max and a histogram of `2 × BINS` bins
//! anchored at 0 (negative and non-negative halves) whose bin width doubles
//! whenever a value falls outside it, so one pass over the images suffices.
use crate::error::QuantizeError;
use crate::float_forward::forward_all;
use crate::graph::FloatGraph;
use rayon::prelude::*;
use serde::Serialize;
use smn_firmware_core::format::Quant;

/// Bins per half of a histogram.
const BINS: usize = 8192;
/// Images forwarded together (in parallel) before their values are binned.
const BATCH: usize = 16;

/// How a tensor's clip range is chosen from its statistics.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum CalibrationMethod {
    /// The full observed range.
    MinMax,
    /// The `p`-th and `(100 − p)`-th percentiles of all values (e.g. 99.99).
    Percentile(f64),
    /// The scaled range `[f · min, f · max]`, over `f = 2^(−k/8)`, that minimises
    /// the histogram's int8 quantisation mean squared error.
    Mse,
}

impl CalibrationMethod {
    /// Short name for reports (`minmax`, `percentile(99.99)`, `mse`).
    pub fn name(&self) -> String {
        match self {
            CalibrationMethod::MinMax => "minmax".into(),
            CalibrationMethod::Percentile(p) => format!("percentile({p})"),
            CalibrationMethod::Mse => "mse".into(),
        }
    }
}

/// Statistics of one tensor's values.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorStats {
    /// Smallest value seen.
    pub min: f32,
    /// Largest value seen.
    pub max: f32,
    /// Values seen.
    pub count: u64,
    /// Bin width (0 until a non-zero value is seen).
    width: f64,
    /// `neg[i]`: values in `[−(i+1)·width, −i·width)`.
    neg: Vec<u64>,
    /// `pos[i]`: values in `[i·width, (i+1)·width)`.
    pos: Vec<u64>,
}

impl Default for TensorStats {
    fn default() -> Self {
        Self::new()
    }
}

fn halve(bins: &mut [u64]) {
    let n = bins.len();
    for i in 0..n / 2 {
        bins[i] = bins[2 * i] + bins[2 * i + 1];
    }
    for b in &mut bins[n / 2..] {
        *b = 0;
    }
}

impl TensorStats {
    /// No values yet.
    pub fn new() -> Self {
        TensorStats {
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
            count: 0,
            width: 0.0,
            neg: vec![0; BINS],
            pos: vec![0; BINS],
        }
    }

    /// Statistics of `values`.
    pub fn of(values: &[f32]) -> Self {
        let mut s = Self::new();
        s.add(values);
        s
    }

    /// Adds values (non-finite ones are ignored).
    pub fn add(&mut self, values: &[f32]) {
        let peak = values
            .iter()
            .filter(|v| v.is_finite())
            .fold(0f64, |m, &v| m.max(f64::from(v).abs()));
        if self.width == 0.0 && peak > 0.0 {
            self.width = 2.0 * peak / BINS as f64;
        }
        while self.width > 0.0 && peak >= self.width * BINS as f64 {
            halve(&mut self.neg);
            halve(&mut self.pos);
            self.width *= 2.0;
        }
        for &v in values.iter().filter(|v| v.is_finite()) {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
            self.count += 1;
            let x = f64::from(v);
            let i = if self.width > 0.0 {
                ((x.abs() / self.width) as usize).min(BINS - 1)
            } else {
                0
            };
            if x < 0.0 {
                self.neg[i] += 1;
            } else {
                self.pos[i] += 1;
            }
        }
    }

    /// Bins in ascending value order: `(lower edge, upper edge, count)`.
    fn bins(&self) -> impl Iterator<Item = (f64, f64, u64)> + '_ {
        let w = self.width;
        let neg = self
            .neg
            .iter()
            .enumerate()
            .rev()
            .map(move |(i, &c)| (-((i + 1) as f64) * w, -(i as f64) * w, c));
        let pos = self
            .pos
            .iter()
            .enumerate()
            .map(move |(i, &c)| (i as f64 * w, (i + 1) as f64 * w, c));
        neg.chain(pos)
    }

    /// Value below which a fraction `q` of the values lie (bin edge, within `[min, max]`).
    fn quantile(&self, q: f64, upper: bool) -> f64 {
        let target = (q * self.count as f64).ceil().max(1.0) as u64;
        let mut seen = 0u64;
        for (lo, hi, c) in self.bins() {
            seen += c;
            if seen >= target && c > 0 {
                let edge = if upper { hi } else { lo };
                return edge.clamp(f64::from(self.min), f64::from(self.max));
            }
        }
        f64::from(self.max)
    }

    /// Expected squared int8 error of the histogram's values for `quant`:
    /// values inside the representable range cost `s² / 12` (uniform
    /// rounding error), values outside cost their squared distance to it.
    fn quant_mse(&self, quant: Quant) -> f64 {
        let (s, zp) = (f64::from(quant.scale), f64::from(quant.zero_point));
        let (rmin, rmax) = (s * (-128.0 - zp), s * (127.0 - zp));
        let rounding = s * s / 12.0;
        self.bins()
            .filter(|b| b.2 > 0)
            .map(|(lo, hi, c)| {
                let x = 0.5 * (lo + hi);
                let e2 = if x < rmin {
                    (rmin - x).powi(2)
                } else if x > rmax {
                    (x - rmax).powi(2)
                } else {
                    rounding
                };
                e2 * c as f64
            })
            .sum()
    }

    /// Clip range chosen by `method` (before [`quant_for_range`] widens it to include 0).
    pub fn range(&self, method: CalibrationMethod) -> Result<(f32, f32), QuantizeError> {
        if self.count == 0 {
            return Err(QuantizeError::Calibration("no values seen for a tensor".into()));
        }
        match method {
            CalibrationMethod::MinMax => Ok((self.min, self.max)),
            CalibrationMethod::Percentile(p) => {
                if !(p > 0.0 && p <= 100.0) {
                    return Err(QuantizeError::Calibration(format!(
                        "percentile {p} must be in (0, 100]"
                    )));
                }
                let hi = self.quantile(p / 100.0, true);
                let lo = self.quantile(1.0 - p / 100.0, false);
                Ok((lo as f32, hi as f32))
            }
            CalibrationMethod::Mse => {
                // Coordinate descent: scale the upper end, then the lower end, twice.
                let (lo, hi) = (self.min.min(0.0), self.max.max(0.0));
                let cost = |r: (f32, f32)| self.quant_mse(quant_for_range(r.0, r.1));
                let mut best = (lo, hi);
                let mut best_cost = cost(best);
                for _ in 0..2 {
                    for upper in [true, false] {
                        for k in 1..=96 {
                            let f = 2f32.powf(-(k as f32) / 8.0);
                            let candidate = if upper { (best.0, hi * f) } else { (lo * f, best.1) };
                            let c = cost(candidate);
                            if c < best_cost {
                                (best, best_cost) = (candidate, c);
                            }
                        }
                    }
                }
                Ok((best.0.max(self.min), best.1.min(self.max)))
            }
        }
    }
}

/// Per-tensor asymmetric int8 quantisation for a clip range: the range is
/// widened to include 0, `scale = (max − min) / 255`,
/// `zero_point = round(−128 − min / scale)` clamped to int8 (so a range
/// starting at 0 gives `zero_point = −128`). An empty range (all zeros) gets
/// `[min, min + 1]`, which still represents its values exactly.
pub fn quant_for_range(min: f32, max: f32) -> Quant {
    let lo = f64::from(min.min(0.0));
    let mut hi = f64::from(max.max(0.0));
    let span = hi - lo;
    if span.is_nan() || span <= 1e-8 || !span.is_finite() {
        hi = lo + 1.0;
    }
    // The zero point is derived from the stored (f32) scale.
    let scale = ((hi - lo) / 255.0) as f32;
    let zp = (-128.0 - lo / f64::from(scale)).round().clamp(-128.0, 127.0);
    Quant {
        scale,
        zero_point: zp as i8,
    }
}

/// The real `x` quantised with `quant` (exact f64 rounding, half away from
/// zero), as a float in `[−128, 127]`.
pub(crate) fn quantised(x: f64, quant: Quant) -> f64 {
    ((x / f64::from(quant.scale)).round() + f64::from(quant.zero_point)).clamp(-128.0, 127.0)
}

/// Statistics of every node of a graph over a set of images.
#[derive(Clone, Debug)]
pub struct Calibration {
    /// One entry per graph node (node order).
    pub stats: Vec<TensorStats>,
    /// Number of images seen.
    pub images: usize,
}

/// Forwards every image through `graph` (in parallel batches) and collects
/// per-node statistics.
pub fn calibrate(graph: &FloatGraph, images: &[Vec<u8>]) -> Result<Calibration, QuantizeError> {
    if images.is_empty() {
        return Err(QuantizeError::Image("no calibration images".into()));
    }
    let mut stats: Vec<TensorStats> = graph.nodes.iter().map(|_| TensorStats::new()).collect();
    for batch in images.chunks(BATCH) {
        let values: Vec<Vec<Vec<f32>>> = batch
            .par_iter()
            .map(|img| forward_all(graph, img))
            .collect::<Result<_, _>>()?;
        // Bin per node in parallel (nodes are independent).
        stats.par_iter_mut().enumerate().for_each(|(i, s)| {
            for v in &values {
                if let Some(node_values) = v.get(i) {
                    s.add(node_values);
                }
            }
        });
    }
    Ok(Calibration {
        stats,
        images: images.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use smn_firmware_core::builder::Rng;

    fn sample(seed: u64, n: usize) -> Vec<f32> {
        let mut rng = Rng::new(seed);
        // Roughly Gaussian (sum of uniforms), shifted positive.
        (0..n)
            .map(|_| ((0..4).map(|_| rng.unit()).sum::<f64>() - 1.5) as f32)
            .collect()
    }

    fn mse(values: &[f32], (lo, hi): (f32, f32)) -> f64 {
        let q = quant_for_range(lo, hi);
        let (s, zp) = (f64::from(q.scale), f64::from(q.zero_point));
        values
            .iter()
            .map(|&v| {
                let x = f64::from(v);
                let r = s * (((x / s).round() + zp).clamp(-128.0, 127.0) - zp);
                (x - r) * (x - r)
            })
            .sum::<f64>()
            / values.len() as f64
    }

    #[test]
    fn percentile_range_lies_inside_minmax() {
        for seed in 0..5 {
            let values = sample(seed, 20_000);
            let s = TensorStats::of(&values);
            let (lo, hi) = s.range(CalibrationMethod::MinMax).unwrap();
            assert_eq!((lo, hi), (s.min, s.max));
            for p in [99.0, 99.9, 99.99, 100.0] {
                let (plo, phi) = s.range(CalibrationMethod::Percentile(p)).unwrap();
                assert!(
                    lo <= plo && plo <= phi && phi <= hi,
                    "{p}: [{plo}, {phi}] vs [{lo}, {hi}]"
                );
            }
            let (plo, phi) = s.range(CalibrationMethod::Percentile(99.0)).unwrap();
            assert!(phi < hi && plo > lo, "99th percentile must clip something");
            // The upper 99th percentile really has ~1 % of the values above it.
            let above = values.iter().filter(|&&v| v > phi).count() as f64 / values.len() as f64;
            assert!((0.005..0.015).contains(&above), "{above}");
        }
        assert!(TensorStats::of(&[1.0])
            .range(CalibrationMethod::Percentile(0.0))
            .is_err());
        assert!(TensorStats::new().range(CalibrationMethod::MinMax).is_err());
    }

    /// Mean squared int8 error over the values that are not outliers (|v| < 100).
    fn bulk_mse(values: &[f32], range: (f32, f32)) -> f64 {
        let bulk: Vec<f32> = values.iter().copied().filter(|v| v.abs() < 100.0).collect();
        mse(&bulk, range)
    }

    #[test]
    fn robust_methods_beat_minmax_with_an_outlier() {
        // One huge activation among 50 000 ordinary ones: min/max spends the
        // int8 grid on it; the percentile range clips it and keeps resolution
        // for every other value.
        let mut values = sample(9, 50_000);
        values.push(400.0);
        let s = TensorStats::of(&values);
        let minmax_range = s.range(CalibrationMethod::MinMax).unwrap();
        let pct_range = s.range(CalibrationMethod::Percentile(99.99)).unwrap();
        let minmax = bulk_mse(&values, minmax_range);
        let pct = bulk_mse(&values, pct_range);
        assert!(pct < 0.01 * minmax, "percentile {pct} vs minmax {minmax}");
        // MSE minimises the total error: never worse than min/max, here on
        // everything including the outlier.
        let mse_range = s.range(CalibrationMethod::Mse).unwrap();
        assert!(mse(&values, mse_range) <= mse(&values, minmax_range) * 1.001);

        // Heavy tails (Laplace, 200 000 values): the MSE range is narrower than
        // min/max and its total error clearly lower.
        let mut rng = Rng::new(4);
        let laplace: Vec<f32> = (0..200_000)
            .map(|_| {
                let u = rng.unit() - 0.5;
                (-u.signum() * (1.0 - 2.0 * u.abs()).max(1e-300).ln()) as f32
            })
            .collect();
        let s = TensorStats::of(&laplace);
        let (m0, m1) = (
            s.range(CalibrationMethod::MinMax).unwrap(),
            s.range(CalibrationMethod::Mse).unwrap(),
        );
        let (e0, e1) = (mse(&laplace, m0), mse(&laplace, m1));
        assert!(m1.1 < m0.1 && m1.0 > m0.0, "{m1:?} vs {m0:?}");
        assert!(e1 < 0.8 * e0, "mse {e1} vs minmax {e0}");

        // Without an outlier, MSE keeps a range close to min/max.
        let clean = sample(3, 50_000);
        let s = TensorStats::of(&clean);
        let (lo, hi) = s.range(CalibrationMethod::Mse).unwrap();
        assert!(
            hi > 0.5 * s.max && lo < 0.5 * s.min,
            "[{lo}, {hi}] vs [{}, {}]",
            s.min,
            s.max
        );
    }

    #[test]
    fn histogram_grows_and_keeps_counts() {
        let mut s = TensorStats::new();
        s.add(&[0.0, 0.0]);
        s.add(&[0.1, -0.1]);
        s.add(&[1000.0, -3.0, f32::NAN]);
        assert_eq!(s.count, 6);
        assert_eq!(s.bins().map(|b| b.2).sum::<u64>(), 6);
        assert_eq!((s.min, s.max), (-3.0, 1000.0));
        assert!(s.width * BINS as f64 > 1000.0);
    }

    #[test]
    fn quant_params_follow_the_formula() {
        let q = quant_for_range(0.0, 2.55);
        assert_eq!(q.zero_point, -128);
        assert!((q.scale - 0.01).abs() < 1e-7);
        let q = quant_for_range(-1.0, 1.55);
        // scale 0.01, zp = round(−128 + 100) = −28
        assert_eq!(q.zero_point, -28);
        // Range must include 0.
        let q = quant_for_range(1.0, 2.55);
        assert_eq!(q.zero_point, -128);
        assert!((q.scale - 0.01).abs() < 1e-7);
        let q = quant_for_range(-2.55, -1.0);
        assert_eq!(q.zero_point, 127);
        let q = quant_for_range(0.0, 0.0);
        assert!(q.scale > 0.0);
    }
}
