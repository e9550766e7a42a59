//! Samples → tensors.
//!
//! Images become `[B, 3, S, S]` with `x = (pixel − 127.5) / 127.5` (the
//! normalisation the int8 input table reproduces). A landmark at pixel
//! coordinate `x` (pixel centres at integers) becomes `(x + 0.5) / S`, so the
//! image edges are 0 and 1. Attributes become 0/1 targets with a mask that is
//! 0 for unknown attributes.
use crate::data::FaceSample;
use crate::data::{ATTRIBUTE_COUNT, LANDMARK_OUTPUTS};
use burn::prelude::*;

/// Input normalisation: `(pixel − MEAN) / STD`.
pub const PIXEL_MEAN: f32 = 127.5;
/// See [`PIXEL_MEAN`].
pub const PIXEL_STD: f32 = 127.5;

/// One training or evaluation batch on a device.
pub struct Batch {
    /// `[B, 3, S, S]` normalised images.
    pub images: Tensor<4>,
    /// `[B, 10]` landmark targets in `[0, 1]`.
    pub landmarks: Tensor<2>,
    /// `[B, 40]` attribute targets (1 present, 0 absent or unknown).
    pub attributes: Tensor<2>,
    /// `[B, 40]` 1 where the attribute is known.
    pub mask: Tensor<2>,
}

/// Landmark pixel coordinate → normalised target.
pub fn normalise_coordinate(x: f32, size: usize) -> f32 {
    (x + 0.5) / size as f32
}

/// Normalised coordinate → pixel coordinate of an `size`-pixel side.
pub fn denormalise_coordinate(u: f32, size: usize) -> f32 {
    u * size as f32 - 0.5
}

/// Builds a batch from samples that are already `size × size`.
pub fn make_batch(samples: &[&FaceSample], size: usize, device: &Device) -> Batch {
    let b = samples.len();
    let plane = size * size;
    let mut images = vec![0f32; b * 3 * plane];
    let mut landmarks = Vec::with_capacity(b * LANDMARK_OUTPUTS);
    let mut attributes = Vec::with_capacity(b * ATTRIBUTE_COUNT);
    let mut mask = Vec::with_capacity(b * ATTRIBUTE_COUNT);
    for (i, s) in samples.iter().enumerate() {
        let base = i * 3 * plane;
        for (p, rgb) in s.image.pixels.chunks_exact(3).enumerate().take(plane) {
            for (c, &v) in rgb.iter().enumerate() {
                images[base + c * plane + p] = (f32::from(v) - PIXEL_MEAN) / PIXEL_STD;
            }
        }
        landmarks.extend(s.landmarks.iter().map(|&x| normalise_coordinate(x, size)));
        attributes.extend(s.attributes.iter().map(|&a| if a > 0 { 1.0f32 } else { 0.0 }));
        mask.extend(s.attributes.iter().map(|&a| if a != 0 { 1.0f32 } else { 0.0 }));
    }
    Batch {
        images: Tensor::from_data(TensorData::new(images, [b, 3, size, size]), device),
        landmarks: Tensor::from_data(TensorData::new(landmarks, [b, 10]), device),
        attributes: Tensor::from_data(TensorData::new(attributes, [b, 40]), device),
        mask: Tensor::from_data(TensorData::new(mask, [b, 40]), device),
    }
}
