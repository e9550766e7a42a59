//! A bounds-checked, single-threaded `f32` matrix product over strided
//! views, on the `gemm` crate (the one burn-flex uses).
//!
//! The convolution kernels parallelise over images; each product here runs
//! on the calling thread.

/// A read-only `rows × cols` matrix inside a slice: element `(r, c)` is
/// `data[r * row_stride + c * col_stride]`.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    /// The backing values.
    pub data: &'a [f32],
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Distance between rows.
    pub row_stride: usize,
    /// Distance between columns.
    pub col_stride: usize,
}

impl<'a> MatRef<'a> {
    /// A contiguous row-major matrix.
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        MatRef {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose (no copy).
    pub fn t(self) -> Self {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }

    /// Whether every element lies inside `data`.
    fn in_bounds(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride < self.data.len()
    }
}

/// `dst = a · b` (`accumulate = false`) or `dst += a · b`, with `dst` the
/// contiguous row-major `a.rows × b.cols` matrix.
///
/// # Panics
/// When the shapes disagree or a view reaches past its slice; the callers
/// derive every shape from one tensor geometry, so this is an internal
/// invariant, checked before the unchecked product runs.
pub fn matmul(dst: &mut [f32], a: MatRef<'_>, b: MatRef<'_>, accumulate: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "matmul: inner dimensions differ");
    assert_eq!(dst.len(), m * n, "matmul: destination size");
    assert!(a.in_bounds() && b.in_bounds(), "matmul: view out of bounds");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst.fill(0.0);
        }
        return;
    }
    // SAFETY: the three matrices were checked above to lie inside their
    // slices (`dst` is m×n row-major: row stride n, column stride 1), `dst`
    // is borrowed mutably, so it aliases neither `a` nor `b`, and every
    // stride fits an `isize` because it indexes inside a slice.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: MatRef<'_>, b: MatRef<'_>) -> Vec<f64> {
        let mut out = vec![0.0; a.rows * b.cols];
        for r in 0..a.rows {
            for c in 0..b.cols {
                out[r * b.cols + c] = (0..a.cols)
                    .map(|i| {
                        a.data[r * a.row_stride + i * a.col_stride] as f64
                            * b.data[i * b.row_stride + c * b.col_stride] as f64
                    })
                    .sum();
            }
        }
        out
    }

    #[test]
    fn strided_products_match_a_naive_product() {
        let values: Vec<f32> = (0..2000).map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0).collect();
        for (m, k, n) in [(1, 1, 1), (3, 5, 7), (16, 27, 40), (9, 2, 1)] {
            let a = MatRef::row_major(&values[..m * k], m, k);
            let b = MatRef::row_major(&values[7..7 + k * n], k, n);
            for (a, b) in [(a, b), (a, MatRef::row_major(&values[3..3 + n * k], n, k).t())] {
                let expected = naive(a, b);
                let mut dst = vec![1.0f32; m * n];
                matmul(&mut dst, a, b, false);
                let mut acc = vec![1.0f32; m * n];
                matmul(&mut acc, a, b, true);
                for i in 0..m * n {
                    assert!((dst[i] as f64 - expected[i]).abs() < 1e-4, "{m}x{k}x{n} at {i}");
                    assert!((acc[i] as f64 - expected[i] - 1.0).abs() < 1e-4);
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "out of bounds")]
    fn a_view_past_its_slice_is_refused() {
        let values = [0.0f32; 4];
        let a = MatRef::row_major(&values, 2, 3);
        let b = MatRef::row_major(&values, 3, 1);
        matmul(&mut [0.0; 2], a, b, false);
    }
}
