//! ReLU followed by a 2×2, stride-2 max pool on `f32` NCHW slices, and its
//! gradient, in one pass each.
//!
//! `y = max(0, max(window))` (trailing odd rows and columns are dropped, as
//! burn's pool does). The gradient goes to the window's first maximum,
//! in row-major order, when that maximum is positive, and nowhere
//! otherwise: exactly burn's `max_pool2d(relu(x))` gradient, without the
//! index tensor, the zero-filled scatter target or the ReLU mask, since
//! every input position is written once. The backward pass finds the
//! maximum again from `x` instead of storing indices.
use rayon::prelude::*;

/// `[N, C, H, W]` → `[N, C, H/2, W/2]`.
pub fn out_dims(dims: [usize; 4]) -> [usize; 4] {
    let [n, c, h, w] = dims;
    [n, c, h / 2, w / 2]
}

/// The window's first maximum: its offset inside the 2×2 window (0..4,
/// row-major) and its value.
fn window_max(top: &[f32], bottom: &[f32], x: usize) -> (usize, f32) {
    let candidates = [top[2 * x], top[2 * x + 1], bottom[2 * x], bottom[2 * x + 1]];
    let mut best = (0, candidates[0]);
    for (i, v) in candidates.into_iter().enumerate().skip(1) {
        if v > best.1 {
            best = (i, v);
        }
    }
    best
}

/// The forward pass (`x`: `dims`).
pub fn forward(dims: [usize; 4], x: &[f32]) -> Vec<f32> {
    let [_, _, h, w] = dims;
    let [n, c, ho, wo] = out_dims(dims);
    let mut y = vec![0.0f32; n * c * ho * wo];
    if ho == 0 || wo == 0 {
        return y;
    }
    y.par_chunks_mut(ho * wo)
        .zip(x.par_chunks(h * w))
        .for_each(|(out, plane)| {
            for (oy, row) in out.chunks_exact_mut(wo).enumerate() {
                let top = &plane[2 * oy * w..(2 * oy + 1) * w];
                let bottom = &plane[(2 * oy + 1) * w..(2 * oy + 2) * w];
                for (ox, v) in row.iter_mut().enumerate() {
                    *v = window_max(top, bottom, ox).1.max(0.0);
                }
            }
        });
    y
}

/// The gradient of `x` (`dims`) from `dy` (`[N, C, H/2, W/2]`).
pub fn input_grad(dims: [usize; 4], x: &[f32], dy: &[f32]) -> Vec<f32> {
    let [_, _, h, w] = dims;
    let [n, c, ho, wo] = out_dims(dims);
    let mut dx = vec![0.0f32; n * c * h * w];
    if ho == 0 || wo == 0 {
        return dx;
    }
    dx.par_chunks_mut(h * w)
        .zip(x.par_chunks(h * w))
        .zip(dy.par_chunks(ho * wo))
        .for_each(|((grad_plane, plane), grad)| {
            for (oy, grad_row) in grad.chunks_exact(wo).enumerate() {
                let top = &plane[2 * oy * w..(2 * oy + 1) * w];
                let bottom = &plane[(2 * oy + 1) * w..(2 * oy + 2) * w];
                let (dst_top, rest) = grad_plane[2 * oy * w..].split_at_mut(w);
                let dst_bottom = &mut rest[..w];
                for (ox, g) in grad_row.iter().enumerate() {
                    let (at, max) = window_max(top, bottom, ox);
                    if max > 0.0 {
                        let dst = if at < 2 { &mut *dst_top } else { &mut *dst_bottom };
                        dst[2 * ox + at % 2] = *g;
                    }
                }
            }
        });
    dx
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, position by position: relu, then the pool, and the
    /// gradient by "first strict maximum" over the relu'd window.
    fn reference(dims: [usize; 4], x: &[f32], dy: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let [n, c, h, w] = dims;
        let [_, _, ho, wo] = out_dims(dims);
        let mut y = vec![0.0; n * c * ho * wo];
        let mut dx = vec![0.0; x.len()];
        for plane in 0..n * c {
            for oy in 0..ho {
                for ox in 0..wo {
                    let at = |dy_: usize, dx_: usize| plane * h * w + (2 * oy + dy_) * w + 2 * ox + dx_;
                    let mut best = at(0, 0);
                    for (a, b) in [(0, 1), (1, 0), (1, 1)] {
                        if x[at(a, b)] > x[best] {
                            best = at(a, b);
                        }
                    }
                    let o = (plane * ho + oy) * wo + ox;
                    y[o] = x[best].max(0.0);
                    if x[best] > 0.0 {
                        dx[best] = dy[o];
                    }
                }
            }
        }
        (y, dx)
    }

    #[test]
    fn forward_and_gradient_match_the_definition() {
        let mut state = 12345u32;
        let mut next = || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            // Few distinct values: ties and all-negative windows are common.
            ((state >> 24) % 7) as f32 - 3.0
        };
        for dims in [[2, 3, 4, 6], [1, 2, 5, 7], [3, 1, 2, 2], [1, 1, 1, 3]] {
            let x: Vec<f32> = (0..dims.iter().product()).map(|_| next()).collect();
            let dy: Vec<f32> = (0..out_dims(dims).iter().product()).map(|_| next() + 0.5).collect();
            let (y_ref, dx_ref) = reference(dims, &x, &dy);
            assert_eq!(forward(dims, &x), y_ref, "{dims:?}");
            assert_eq!(input_grad(dims, &x, &dy), dx_ref, "{dims:?}");
        }
    }
}
