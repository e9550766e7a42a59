//! Batch normalisation in training mode on `f32` NCHW slices, and its
//! gradients, without changing layout.
//!
//! Per channel `c`, over the `M = N·H·W` values of the batch: `μ` and the
//! biased variance `σ²` (accumulated in f64), `x̂ = (x − μ)/√(σ² + ε)`,
//! `y = γ·x̂ + β`. Gradients: `dβ = Σ dy`, `dγ = Σ dy·x̂`,
//! `dx = γ/√(σ² + ε) · (dy − dβ/M − x̂·dγ/M)`. burn's generic version
//! swaps the batch and channel axes (a copy) for every reduction; here each
//! channel reads its planes in place. Statistics run in parallel over
//! channels, element-wise passes over planes.
use super::lanes::{sum_map, sum_zip};
use rayon::prelude::*;

/// One channel's planes: `(n, c)` for every image `n`.
fn planes(dims: [usize; 4], x: &[f32], c: usize) -> impl Iterator<Item = &[f32]> {
    let [n, channels, h, w] = dims;
    (0..n).map(move |i| &x[(i * channels + c) * h * w..(i * channels + c + 1) * h * w])
}

/// The statistics of `x`: the `C` means, then the `C` biased variances.
pub fn moments(dims: [usize; 4], x: &[f32]) -> Vec<f32> {
    let (means, variances): (Vec<f32>, Vec<f32>) = channel_moments(dims, x).into_iter().unzip();
    [means, variances].concat()
}

/// Per channel: `(μ, σ²)` of `x` (biased variance).
fn channel_moments(dims: [usize; 4], x: &[f32]) -> Vec<(f32, f32)> {
    let [n, channels, h, w] = dims;
    let count = (n * h * w).max(1) as f64;
    (0..channels)
        .into_par_iter()
        .map(|c| {
            let sum: f64 = planes(dims, x, c).flatten().map(|&v| v as f64).sum();
            let mean = sum / count;
            let sq: f64 = planes(dims, x, c).flatten().map(|&v| (v as f64 - mean).powi(2)).sum();
            (mean as f32, (sq / count) as f32)
        })
        .collect()
}

/// `(μ, σ²)` per channel from [`moments`]' layout (missing values read 0).
fn pairs(moments: &[f32], channels: usize) -> Vec<(f32, f32)> {
    let at = |i: usize| moments.get(i).copied().unwrap_or(0.0);
    (0..channels).map(|c| (at(c), at(channels + c))).collect()
}

/// `1/√(σ² + ε)` per channel.
fn inverse_std(stats: &[(f32, f32)], epsilon: f64) -> Vec<f32> {
    stats
        .iter()
        .map(|&(_, var)| (1.0 / (var as f64 + epsilon).sqrt()) as f32)
        .collect()
}

/// `y` from `x`, its [`moments`], `γ` and `β`.
pub fn forward(dims: [usize; 4], x: &[f32], moments: &[f32], gamma: &[f32], beta: &[f32], epsilon: f64) -> Vec<f32> {
    let [_, channels, h, w] = dims;
    let stats = pairs(moments, channels);
    let inv = inverse_std(&stats, epsilon);
    let mut y = vec![0.0f32; x.len()];
    if h * w == 0 || channels == 0 {
        return y;
    }
    y.par_chunks_mut(h * w)
        .zip(x.par_chunks(h * w))
        .enumerate()
        .for_each(|(plane, (out, inp))| {
            let c = plane % channels;
            let scale = gamma[c] * inv[c];
            let shift = beta[c] - stats[c].0 * scale;
            for (o, v) in out.iter_mut().zip(inp) {
                *o = v * scale + shift;
            }
        });
    y
}

/// Per channel: `(Σ dy, Σ dy·x̂)`, with the statistics of `x`.
fn grad_sums(dims: [usize; 4], x: &[f32], dy: &[f32], stats: &[(f32, f32)], inv: &[f32]) -> Vec<(f64, f64)> {
    (0..dims[1])
        .into_par_iter()
        .map(|c| {
            let (mean, inv) = (stats[c].0, inv[c]);
            planes(dims, x, c)
                .zip(planes(dims, dy, c))
                .fold((0.0f64, 0.0f64), |(sum, dot), (xs, gs)| {
                    let centred = sum_zip(gs, xs, |g, v| g * (v - mean));
                    (sum + sum_map(gs, |g| g), dot + centred * inv as f64)
                })
        })
        .collect()
}

/// `(dγ, dβ)`, with `x`'s [`moments`].
pub fn param_grads(dims: [usize; 4], x: &[f32], moments: &[f32], dy: &[f32], epsilon: f64) -> (Vec<f32>, Vec<f32>) {
    let stats = pairs(moments, dims[1]);
    let inv = inverse_std(&stats, epsilon);
    grad_sums(dims, x, dy, &stats, &inv)
        .into_iter()
        .map(|(sum, dot)| (dot as f32, sum as f32))
        .unzip()
}

/// `dx`, with `x`'s [`moments`].
pub fn input_grad(dims: [usize; 4], x: &[f32], moments: &[f32], gamma: &[f32], dy: &[f32], epsilon: f64) -> Vec<f32> {
    let [n, channels, h, w] = dims;
    let stats = pairs(moments, channels);
    let inv = inverse_std(&stats, epsilon);
    let sums = grad_sums(dims, x, dy, &stats, &inv);
    let count = (n * h * w).max(1) as f64;
    let mut dx = vec![0.0f32; x.len()];
    if h * w == 0 || channels == 0 {
        return dx;
    }
    dx.par_chunks_mut(h * w)
        .zip(x.par_chunks(h * w).zip(dy.par_chunks(h * w)))
        .enumerate()
        .for_each(|(plane, (out, (xs, gs)))| {
            let c = plane % channels;
            let (mean, inv) = (stats[c].0, inv[c]);
            let scale = gamma[c] * inv;
            let mean_dy = (sums[c].0 / count) as f32;
            let mean_dot = (sums[c].1 / count) as f32;
            for ((o, &v), &g) in out.iter_mut().zip(xs).zip(gs) {
                *o = scale * (g - mean_dy - (v - mean) * inv * mean_dot);
            }
        });
    dx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, seed: u32) -> Vec<f32> {
        let mut s = seed;
        (0..len)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (s >> 8) as f32 / (1u32 << 24) as f32 * 4.0 - 1.5
            })
            .collect()
    }

    /// `Σ probe·y` as a function of one input, in f64, from the definition.
    fn objective(dims: [usize; 4], x: &[f64], gamma: &[f64], beta: &[f64], probe: &[f32], eps: f64) -> f64 {
        let [n, channels, h, w] = dims;
        let mut total = 0.0;
        for c in 0..channels {
            let idx: Vec<usize> = (0..n)
                .flat_map(|i| ((i * channels + c) * h * w)..((i * channels + c + 1) * h * w))
                .collect();
            let m = idx.len() as f64;
            let mean = idx.iter().map(|&i| x[i]).sum::<f64>() / m;
            let var = idx.iter().map(|&i| (x[i] - mean).powi(2)).sum::<f64>() / m;
            for &i in &idx {
                total += probe[i] as f64 * (gamma[c] * (x[i] - mean) / (var + eps).sqrt() + beta[c]);
            }
        }
        total
    }

    #[test]
    fn forward_and_gradients_match_the_definition() {
        let eps = 1e-5;
        for dims in [[2, 3, 4, 5], [3, 2, 3, 3], [1, 4, 2, 7]] {
            let len: usize = dims.iter().product();
            let c = dims[1];
            let (x, probe) = (values(len, 3), values(len, 11));
            let (gamma, beta) = (values(c, 5), values(c, 7));
            let f64s = |v: &[f32]| v.iter().map(|&a| a as f64).collect::<Vec<_>>();
            let (xd, gd, bd) = (f64s(&x), f64s(&gamma), f64s(&beta));
            // Forward: the objective with a one-hot probe is one output value.
            let stats = moments(dims, &x);
            let y = forward(dims, &x, &stats, &gamma, &beta, eps);
            for i in [0, len / 2, len - 1] {
                let mut e = vec![0.0f32; len];
                e[i] = 1.0;
                let want = objective(dims, &xd, &gd, &bd, &e, eps);
                assert!((y[i] as f64 - want).abs() < 1e-4, "{dims:?} y[{i}]");
            }
            // Gradients: central differences of the f64 objective, nudging
            // one entry of x, γ or β.
            let h = 1e-6;
            let slope = |which: usize, i: usize| {
                let at = |delta: f64| {
                    let mut v = [xd.clone(), gd.clone(), bd.clone()];
                    v[which][i] += delta;
                    objective(dims, &v[0], &v[1], &v[2], &probe, eps)
                };
                (at(h) - at(-h)) / (2.0 * h)
            };
            let dx = input_grad(dims, &x, &stats, &gamma, &probe, eps);
            for i in [0, len / 3, len - 1] {
                let want = slope(0, i);
                assert!(
                    (dx[i] as f64 - want).abs() < 1e-3,
                    "{dims:?} dx[{i}]: {} vs {want}",
                    dx[i]
                );
            }
            let (dgamma, dbeta) = param_grads(dims, &x, &stats, &probe, eps);
            for ch in 0..c {
                assert!((dgamma[ch] as f64 - slope(1, ch)).abs() < 1e-3, "{dims:?} dgamma[{ch}]");
                assert!((dbeta[ch] as f64 - slope(2, ch)).abs() < 1e-3, "{dims:?} dbeta[{ch}]");
            }
        }
    }
}
