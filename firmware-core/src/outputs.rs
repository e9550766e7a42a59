//! What a forward pass returns.

/// Facial landmarks: left eye, right eye, nose, left and right mouth corner.
pub const LANDMARK_COUNT: usize = 5;
/// CelebA binary attributes, in the order of `list_attr_celeba.txt`.
pub const ATTRIBUTE_COUNT: usize = 40;

/// Result of [`crate::Model::run`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outputs {
    /// `(x, y)` in pixels of the model input image, in landmark order.
    pub landmarks: [[f32; 2]; LANDMARK_COUNT],
    /// The int8 values the landmarks were dequantised from (`x0, y0, …`).
    pub landmarks_q: [i8; 2 * LANDMARK_COUNT],
    /// Attribute probabilities in `[0, 1]`.
    pub attribute_probs: [f32; ATTRIBUTE_COUNT],
    /// The int8 logits the probabilities come from.
    pub attribute_logits_q: [i8; ATTRIBUTE_COUNT],
    /// `logit > 0` (equivalently probability > 0.5), decided exactly on the integers.
    pub attribute_flags: [bool; ATTRIBUTE_COUNT],
}

impl Default for Outputs {
    fn default() -> Self {
        Outputs {
            landmarks: [[0.0; 2]; LANDMARK_COUNT],
            landmarks_q: [0; 2 * LANDMARK_COUNT],
            attribute_probs: [0.0; ATTRIBUTE_COUNT],
            attribute_logits_q: [0; ATTRIBUTE_COUNT],
            attribute_flags: [false; ATTRIBUTE_COUNT],
        }
    }
}

/// One op's output, handed to the observer of [`crate::Model::run_observed`].
#[derive(Clone, Copy, Debug)]
pub struct OpTrace<'t> {
    /// Index of the op in the graph.
    pub op_index: usize,
    /// Id of the tensor it wrote.
    pub tensor: usize,
    /// The tensor's int8 data (NHWC).
    pub data: &'t [i8],
}
