//! 2-D convolution on `f32` NCHW slices as im2col + matrix product, with
//! its two gradients (input: product + col2im; weight: product over the
//! same columns) and the bias gradient.
//!
//! Per image `n`, with `K = C·k·k` and `P = Hₒ·Wₒ`:
//! - forward: `Y[n] (O×P) = W (O×K) · col(X[n]) (K×P) + b`;
//! - weight gradient: `dW (O×K) = Σₙ dY[n] (O×P) · col(X[n])ᵀ (P×K)`;
//! - input gradient: `dX[n] = col2im(Wᵀ (K×O) · dY[n] (O×P))`.
//!
//! Row `(c·k + ky)·k + kx` of `col` holds input channel `c` shifted by the
//! kernel tap `(ky, kx)`, so `W` is used in its own `[O, C, k, k]` layout
//! and no tensor is ever transposed or copied into another layout; a 1×1
//! stride-1 unpadded conv uses `X[n]` itself as `col`. Images run in
//! parallel (rayon), each product on one thread.
use super::lanes::sum_map;
use super::matmul::{matmul, MatRef};
use rayon::prelude::*;

/// A square-kernel, symmetrically padded, ungrouped, undilated convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    /// Kernel height and width.
    pub kernel: usize,
    /// Stride in both directions (≥ 1).
    pub stride: usize,
    /// Zero padding on every side.
    pub padding: usize,
}

/// Every size of one convolution call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvShape {
    /// Images.
    pub batch: usize,
    /// Input channels.
    pub in_channels: usize,
    /// Input height.
    pub height: usize,
    /// Input width.
    pub width: usize,
    /// Output channels.
    pub out_channels: usize,
    /// The kernel, stride and padding.
    pub geometry: ConvGeometry,
}

impl ConvShape {
    /// The shape of `x: [N, C, H, W]` convolved with `weight: [O, C, k, k]`,
    /// or `None` when they do not fit together (channels, kernel not
    /// square or larger than the padded input, stride 0).
    pub fn new(x: [usize; 4], weight: [usize; 4], stride: usize, padding: usize) -> Option<Self> {
        let [batch, in_channels, height, width] = x;
        let [out_channels, weight_in, kh, kw] = weight;
        let ok = weight_in == in_channels
            && kh == kw
            && kh >= 1
            && stride >= 1
            && height + 2 * padding >= kh
            && width + 2 * padding >= kh;
        ok.then_some(ConvShape {
            batch,
            in_channels,
            height,
            width,
            out_channels,
            geometry: ConvGeometry {
                kernel: kh,
                stride,
                padding,
            },
        })
    }

    /// Output height.
    pub fn out_height(&self) -> usize {
        let g = self.geometry;
        (self.height + 2 * g.padding - g.kernel) / g.stride + 1
    }

    /// Output width.
    pub fn out_width(&self) -> usize {
        let g = self.geometry;
        (self.width + 2 * g.padding - g.kernel) / g.stride + 1
    }

    /// `[N, O, Hₒ, Wₒ]`.
    pub fn out_dims(&self) -> [usize; 4] {
        [self.batch, self.out_channels, self.out_height(), self.out_width()]
    }

    fn image_len(&self) -> usize {
        self.in_channels * self.height * self.width
    }

    fn positions(&self) -> usize {
        self.out_height() * self.out_width()
    }

    fn taps(&self) -> usize {
        self.in_channels * self.geometry.kernel * self.geometry.kernel
    }

    /// Whether `col(X[n])` is `X[n]` itself.
    fn is_pointwise(&self) -> bool {
        self.geometry
            == ConvGeometry {
                kernel: 1,
                stride: 1,
                padding: 0,
            }
    }

    /// The output columns `ox` whose input column `ox·s + kx − p` lies inside
    /// the image, as a half-open range.
    fn valid_columns(&self, kx: usize) -> (usize, usize) {
        let g = self.geometry;
        let wo = self.out_width();
        let first = g.padding.saturating_sub(kx).div_ceil(g.stride).min(wo);
        // ox·s + kx − p ≤ W − 1  ⇔  ox ≤ (W − 1 + p − kx) / s
        let end = match (self.width + g.padding).checked_sub(kx + 1) {
            Some(last) => (last / g.stride + 1).min(wo),
            None => 0,
        };
        (first, end.max(first))
    }
}

/// What row `(c·k + ky)·k + kx` of `col` reads.
struct Tap {
    /// Input channel `c`.
    channel: usize,
    /// Kernel row `ky`.
    ky: usize,
    /// The output columns whose input column is inside the image.
    first: usize,
    end: usize,
    /// The input column of output column `first`.
    x0: usize,
}

impl ConvShape {
    fn tap(&self, row: usize) -> Tap {
        let g = self.geometry;
        let k2 = g.kernel * g.kernel;
        let (ky, kx) = ((row % k2) / g.kernel, row % g.kernel);
        let (first, end) = self.valid_columns(kx);
        Tap {
            channel: row / k2,
            ky,
            first,
            end,
            x0: (first * g.stride + kx).saturating_sub(g.padding),
        }
    }

    /// The input row that output row `oy` reads through kernel row `ky`,
    /// if it is inside the image.
    fn input_row(&self, oy: usize, ky: usize) -> Option<usize> {
        let g = self.geometry;
        let iy = (oy * g.stride + ky).checked_sub(g.padding)?;
        (iy < self.height).then_some(iy)
    }
}

/// Fills `col` (`K × P`, row-major) from one image.
fn im2col(shape: &ConvShape, image: &[f32], col: &mut [f32]) {
    let (hw, w, wo, s) = (
        shape.height * shape.width,
        shape.width,
        shape.out_width(),
        shape.geometry.stride,
    );
    for (row, col_row) in col.chunks_exact_mut(shape.positions()).enumerate() {
        let t = shape.tap(row);
        let plane = &image[t.channel * hw..(t.channel + 1) * hw];
        for (oy, out) in col_row.chunks_exact_mut(wo).enumerate() {
            let Some(iy) = shape.input_row(oy, t.ky) else {
                out.fill(0.0);
                continue;
            };
            let src = &plane[iy * w..(iy + 1) * w];
            out[..t.first].fill(0.0);
            out[t.end..].fill(0.0);
            let valid = &mut out[t.first..t.end];
            if valid.is_empty() {
                continue;
            }
            if s == 1 {
                valid.copy_from_slice(&src[t.x0..t.x0 + valid.len()]);
            } else {
                for (o, x) in valid.iter_mut().zip((t.x0..).step_by(s)) {
                    *o = src[x];
                }
            }
        }
    }
}

/// Adds `col` (`K × P`) back onto one image's gradient: the transpose of
/// [`im2col`].
fn col2im(shape: &ConvShape, col: &[f32], image: &mut [f32]) {
    let (hw, w, wo, s) = (
        shape.height * shape.width,
        shape.width,
        shape.out_width(),
        shape.geometry.stride,
    );
    for (row, col_row) in col.chunks_exact(shape.positions()).enumerate() {
        let t = shape.tap(row);
        let plane = &mut image[t.channel * hw..(t.channel + 1) * hw];
        for (oy, grad) in col_row.chunks_exact(wo).enumerate() {
            let Some(iy) = shape.input_row(oy, t.ky) else {
                continue;
            };
            let dst = &mut plane[iy * w..(iy + 1) * w];
            for (x, v) in (t.x0..).step_by(s).zip(&grad[t.first..t.end]) {
                dst[x] += v;
            }
        }
    }
}

/// The forward pass: `y` (`[N, O, Hₒ, Wₒ]`) from `x`, `weight`
/// (`[O, C, k, k]`) and `bias` (`[O]`).
pub fn forward(shape: &ConvShape, x: &[f32], weight: &[f32], bias: &[f32]) -> Vec<f32> {
    let (o, k, p) = (shape.out_channels, shape.taps(), shape.positions());
    let mut y = vec![0.0f32; shape.batch * o * p];
    let w = MatRef::row_major(weight, o, k);
    y.par_chunks_mut(o * p)
        .zip(x.par_chunks(shape.image_len()))
        .for_each_init(Vec::new, |col, (out, image)| {
            let columns = columns_of(shape, image, col);
            matmul(out, w, MatRef::row_major(columns, k, p), false);
            for (row, b) in out.chunks_exact_mut(p).zip(bias) {
                row.iter_mut().for_each(|v| *v += b);
            }
        });
    y
}

/// `col(X[n])`: the image itself for a pointwise conv, else built in `col`.
fn columns_of<'a>(shape: &ConvShape, image: &'a [f32], col: &'a mut Vec<f32>) -> &'a [f32] {
    if shape.is_pointwise() {
        return image;
    }
    col.resize(shape.taps() * shape.positions(), 0.0);
    im2col(shape, image, col);
    col
}

/// The gradient of the input, `[N, C, H, W]`, from `dy` and `weight`.
pub fn input_grad(shape: &ConvShape, weight: &[f32], dy: &[f32]) -> Vec<f32> {
    let (o, k, p) = (shape.out_channels, shape.taps(), shape.positions());
    let mut dx = vec![0.0f32; shape.batch * shape.image_len()];
    let w_t = MatRef::row_major(weight, o, k).t();
    dx.par_chunks_mut(shape.image_len())
        .zip(dy.par_chunks(o * p))
        .for_each_init(Vec::new, |dcol, (image, grad)| {
            let grad = MatRef::row_major(grad, o, p);
            if shape.is_pointwise() {
                matmul(image, w_t, grad, false);
            } else {
                dcol.resize(k * p, 0.0);
                matmul(dcol, w_t, grad, false);
                col2im(shape, dcol, image);
            }
        });
    dx
}

/// Images per partial weight gradient: the batch is cut into fixed groups
/// whatever the thread count, and the partial sums are added in group order,
/// so the gradient is the same bits on every run and machine.
const WEIGHT_GRAD_GROUP: usize = 4;

/// The gradient of the weight, `[O, C, k, k]`, from `x` and `dy`.
pub fn weight_grad(shape: &ConvShape, x: &[f32], dy: &[f32]) -> Vec<f32> {
    let (o, k, p) = (shape.out_channels, shape.taps(), shape.positions());
    let group_x = WEIGHT_GRAD_GROUP * shape.image_len();
    let group_dy = WEIGHT_GRAD_GROUP * o * p;
    let partials: Vec<Vec<f32>> = x
        .par_chunks(group_x.max(1))
        .zip(dy.par_chunks(group_dy.max(1)))
        .map(|(images, grads)| {
            let mut dw = vec![0.0f32; o * k];
            let mut col = Vec::new();
            for (image, grad) in images
                .chunks(shape.image_len().max(1))
                .zip(grads.chunks((o * p).max(1)))
            {
                let columns = columns_of(shape, image, &mut col);
                let grad = MatRef::row_major(grad, o, p);
                matmul(&mut dw, grad, MatRef::row_major(columns, k, p).t(), true);
            }
            dw
        })
        .collect();
    let mut total = vec![0.0f32; o * k];
    for partial in partials {
        total.iter_mut().zip(&partial).for_each(|(t, v)| *t += v);
    }
    total
}

/// The gradient of the bias, `[O]`: `dy` (`[N, O, Hₒ, Wₒ]`, given as
/// `dims`) summed over images and positions.
pub fn bias_grad(dims: [usize; 4], dy: &[f32]) -> Vec<f32> {
    let [_, o, h, w] = dims;
    let mut db = vec![0.0f32; o];
    if o * h * w == 0 {
        return db;
    }
    for image in dy.chunks_exact(o * h * w) {
        for (sum, row) in db.iter_mut().zip(image.chunks_exact(h * w)) {
            *sum += sum_map(row, |v| v) as f32;
        }
    }
    db
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct convolution in f64: the definition, with no im2col.
    fn reference_forward(s: &ConvShape, x: &[f32], w: &[f32], b: &[f32]) -> Vec<f64> {
        let g = s.geometry;
        let (ho, wo) = (s.out_height(), s.out_width());
        let mut y = vec![0.0; s.batch * s.out_channels * ho * wo];
        for n in 0..s.batch {
            for o in 0..s.out_channels {
                for oy in 0..ho {
                    for ox in 0..wo {
                        let mut acc = b[o] as f64;
                        for c in 0..s.in_channels {
                            for ky in 0..g.kernel {
                                for kx in 0..g.kernel {
                                    let iy = (oy * g.stride + ky) as isize - g.padding as isize;
                                    let ix = (ox * g.stride + kx) as isize - g.padding as isize;
                                    if iy < 0 || ix < 0 || iy >= s.height as isize || ix >= s.width as isize {
                                        continue;
                                    }
                                    let xi = ((n * s.in_channels + c) * s.height + iy as usize) * s.width + ix as usize;
                                    let wi = ((o * s.in_channels + c) * g.kernel + ky) * g.kernel + kx;
                                    acc += x[xi] as f64 * w[wi] as f64;
                                }
                            }
                        }
                        y[((n * s.out_channels + o) * ho + oy) * wo + ox] = acc;
                    }
                }
            }
        }
        y
    }

    fn values(len: usize, seed: u64) -> Vec<f32> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state % 2001) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    fn shapes() -> Vec<ConvShape> {
        let mut shapes = Vec::new();
        for (batch, c, h, w, o, kernel, stride, padding) in [
            (2, 3, 8, 8, 4, 3, 1, 1),
            (3, 5, 7, 6, 2, 3, 1, 1),
            (2, 4, 9, 7, 3, 3, 2, 1),
            (1, 6, 5, 5, 4, 1, 1, 0),
            (2, 2, 6, 5, 3, 5, 1, 2),
            (1, 3, 4, 4, 2, 3, 1, 0),
            (2, 2, 5, 6, 2, 1, 2, 0),
            (1, 2, 3, 3, 2, 3, 3, 2),
        ] {
            shapes.push(ConvShape::new([batch, c, h, w], [o, c, kernel, kernel], stride, padding).unwrap());
        }
        shapes
    }

    fn sizes(s: &ConvShape) -> (usize, usize, usize) {
        let g = s.geometry;
        (
            s.batch * s.image_len(),
            s.out_channels * s.in_channels * g.kernel * g.kernel,
            s.batch * s.out_channels * s.positions(),
        )
    }

    #[test]
    fn forward_matches_the_direct_definition() {
        for (i, s) in shapes().iter().enumerate() {
            let (nx, nw, _) = sizes(s);
            let (x, w, b) = (
                values(nx, 1 + i as u64),
                values(nw, 50 + i as u64),
                values(s.out_channels, 99),
            );
            let got = forward(s, &x, &w, &b);
            let want = reference_forward(s, &x, &w, &b);
            assert_eq!(got.len(), want.len());
            for (g, r) in got.iter().zip(&want) {
                assert!((*g as f64 - r).abs() < 1e-4, "{s:?}: {g} vs {r}");
            }
        }
    }

    /// The gradients are the adjoints of the forward map: for every `dy`,
    /// `⟨dy, conv(x, w)⟩` is linear in `x` and in `w`, so
    /// `⟨input_grad(dy), x⟩ = ⟨dy, conv(x, w, 0)⟩ = ⟨weight_grad(x, dy), w⟩`,
    /// and each gradient entry is checked against a one-hot probe.
    #[test]
    fn gradients_are_the_adjoints_of_the_forward_pass() {
        for (i, s) in shapes().iter().enumerate() {
            let (nx, nw, ny) = sizes(s);
            let (x, w, dy) = (
                values(nx, 7 + i as u64),
                values(nw, 70 + i as u64),
                values(ny, 700 + i as u64),
            );
            let zero_bias = vec![0.0; s.out_channels];
            let dot = |a: &[f32], b: &[f64]| a.iter().zip(b).map(|(a, b)| *a as f64 * b).sum::<f64>();
            let dx = input_grad(s, &w, &dy);
            let dw = weight_grad(s, &x, &dy);
            for probe in [0, nx / 3, nx - 1] {
                let mut e = vec![0.0f32; nx];
                e[probe] = 1.0;
                let want = dot(&dy, &reference_forward(s, &e, &w, &zero_bias));
                assert!((dx[probe] as f64 - want).abs() < 1e-4, "{s:?} dx[{probe}]");
            }
            for probe in [0, nw / 2, nw - 1] {
                let mut e = vec![0.0f32; nw];
                e[probe] = 1.0;
                let want = dot(&dy, &reference_forward(s, &x, &e, &zero_bias));
                assert!((dw[probe] as f64 - want).abs() < 1e-3, "{s:?} dw[{probe}]");
            }
            let db = bias_grad(s.out_dims(), &dy);
            for (o, got) in db.iter().enumerate() {
                let mut e = vec![0.0f32; s.out_channels];
                e[o] = 1.0;
                let want = dot(&dy, &reference_forward(s, &vec![0.0; nx], &vec![0.0; nw], &e));
                assert!((*got as f64 - want).abs() < 1e-4, "{s:?} db[{o}]");
            }
        }
    }

    #[test]
    fn the_weight_gradient_does_not_depend_on_scheduling() {
        let s = ConvShape::new([13, 3, 6, 6], [4, 3, 3, 3], 1, 1).unwrap();
        let (nx, _, ny) = sizes(&s);
        let (x, dy) = (values(nx, 21), values(ny, 22));
        let first = weight_grad(&s, &x, &dy);
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            assert_eq!(pool.install(|| weight_grad(&s, &x, &dy)), first, "{threads} threads");
        }
    }

    #[test]
    fn mismatched_shapes_are_refused() {
        assert!(ConvShape::new([1, 3, 8, 8], [4, 2, 3, 3], 1, 1).is_none());
        assert!(ConvShape::new([1, 3, 8, 8], [4, 3, 3, 1], 1, 1).is_none());
        assert!(ConvShape::new([1, 3, 8, 8], [4, 3, 3, 3], 0, 1).is_none());
        assert!(ConvShape::new([1, 3, 2, 2], [4, 3, 5, 5], 1, 1).is_none());
    }
}
