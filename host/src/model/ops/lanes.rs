//! Vectorisable reductions: sums over a slice in 16 independent `f32`
//! lanes, combined in f64. A single running sum is one long dependency
//! chain that the compiler may not reorder; 16 lanes let it use SIMD
//! registers, and each lane adds only `len/16` values.

const LANES: usize = 16;

/// `Σ f(a[i], b[i])` over the common length of `a` and `b`.
pub fn sum_zip(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f64 {
    let len = a.len().min(b.len());
    let (a, b) = (&a[..len], &b[..len]);
    let mut acc = [0.0f32; LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (a_rest, b_rest) = (a_chunks.remainder(), b_chunks.remainder());
    for (ca, cb) in a_chunks.zip(b_chunks) {
        for i in 0..LANES {
            acc[i] += f(ca[i], cb[i]);
        }
    }
    let tail: f64 = a_rest.iter().zip(b_rest).map(|(&x, &y)| f(x, y) as f64).sum();
    acc.iter().map(|&v| v as f64).sum::<f64>() + tail
}

/// `Σ f(a[i])`.
pub fn sum_map(a: &[f32], f: impl Fn(f32) -> f32) -> f64 {
    sum_zip(a, a, |x, _| f(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lane_sums_equal_plain_sums() {
        for len in [0, 1, 15, 16, 17, 100, 1000] {
            let a: Vec<f32> = (0..len).map(|i| (i % 13) as f32 * 0.25 - 1.0).collect();
            let b: Vec<f32> = (0..len).map(|i| (i % 7) as f32 - 3.0).collect();
            let plain: f64 = a.iter().zip(&b).map(|(x, y)| (x * y) as f64).sum();
            assert!((sum_zip(&a, &b, |x, y| x * y) - plain).abs() < 1e-3, "{len}");
            let squares: f64 = a.iter().map(|x| (x * x) as f64).sum();
            assert!((sum_map(&a, |x| x * x) - squares).abs() < 1e-3, "{len}");
        }
    }
}
