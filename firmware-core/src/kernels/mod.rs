//! Fixed-point kernels, one per module, each with a bit-exact reference test.
//!
//! Kernels take already-validated shapes; they still never index out of
//! bounds (iterators, `chunks_exact`, checked `get`) and report an impossible
//! mismatch as [`crate::Error::Internal`].
#[cfg(target_arch = "arm")]
mod arm_pairs;
pub mod attribute_head;
pub mod avg_pool;
pub mod concat_conv1x1;
pub mod conv2d;
mod conv_gather;
pub mod dot;
pub mod dsp;
pub mod emit;
pub mod fully_connected;
pub mod global_avg_pool;
pub mod input;
pub mod landmark_head;
pub mod mac;
pub mod max_pool;
pub mod params;
pub mod pool_window;
pub mod portable;
pub mod requant;
pub mod scalar;
mod simd_dispatch;
#[cfg(test)]
mod test_util;

/// The engine the kernels run: [`dsp::Dsp`] on Armv7E-M with the `dsp`
/// feature, [`scalar::Scalar`] on other Arm builds, [`portable::Portable`]
/// elsewhere (see [`mac`]).
#[cfg(all(target_arch = "arm", feature = "dsp"))]
pub type Native = dsp::Dsp;
/// The engine the kernels run: [`dsp::Dsp`] on Armv7E-M with the `dsp`
/// feature, [`scalar::Scalar`] on other Arm builds, [`portable::Portable`]
/// elsewhere (see [`mac`]).
#[cfg(all(target_arch = "arm", not(feature = "dsp")))]
pub type Native = scalar::Scalar;
/// The engine the kernels run: [`dsp::Dsp`] on Armv7E-M with the `dsp`
/// feature, [`scalar::Scalar`] on other Arm builds, [`portable::Portable`]
/// elsewhere (see [`mac`]).
#[cfg(not(target_arch = "arm"))]
pub type Native = portable::Portable;

/// Height, width and channels of an NHWC tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// Channels.
    pub channels: usize,
}

impl Shape {
    /// Number of elements (`usize` overflow is excluded by validation; saturates otherwise).
    pub fn len(&self) -> usize {
        self.height.saturating_mul(self.width).saturating_mul(self.channels)
    }

    /// True when any dimension is zero.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Requantised output: zero point and clamp range, as `i32`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputStage {
    /// Output zero point.
    pub zero_point: i32,
    /// Lowest output value (≥ −128).
    pub min: i32,
    /// Highest output value (≤ 127).
    pub max: i32,
}

impl OutputStage {
    /// Adds the zero point to a requantised value, clamps and narrows.
    #[inline(always)]
    pub fn finish(&self, scaled: i32) -> i8 {
        // `max`/`min`, not `clamp`: `clamp` asserts `min <= max` (a panic path);
        // validation guarantees it.
        let v = scaled.saturating_add(self.zero_point).max(self.min).min(self.max);
        v.clamp(i8::MIN as i32, i8::MAX as i32) as i8
    }
}
