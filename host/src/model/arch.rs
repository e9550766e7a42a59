//! Architecture description: presets and stage-2 variants. They are the
//! types the float model file records (`smn_quantize::float_model`), so a
//! run's `config.json`/`model.json` and an exported file describe the network
//! the same way.
//!
//! Level `l`: `conv k×k (same padding) → batch norm (optional) → ReLU → 2×2
//! max pool`, `channels[l]` output channels. Heads: `flatten → fc(hidden) →
//! ReLU → fc(outputs)`. Presets: `paper` (128×128×3, 32-64-128-256, heads of
//! 256), `micro` (64×64×3, 16-32-32-64, heads of 64: a Cortex-M4), `tiny`
//! (32×32×3, 8-16, heads of 16: tests).
pub use smn_quantize::float_model::{Arch, Variant, ATTRIBUTE_OUTPUTS, LANDMARK_OUTPUTS};
