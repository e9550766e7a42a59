//! Errors of building a blob.
use alloc::string::String;
use core::fmt;

/// Why a blob could not be built.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum BuildError {
    /// A tensor id that the builder did not hand out.
    UnknownTensor(u16),
    /// Shapes, weight counts or scales are inconsistent (the message says which).
    Shape(String),
    /// A requantisation scale that is negative, not finite, or ≥ 2^30.
    Scale(f64),
    /// More than 65,535 tensors, or more than the format allows.
    TooManyTensors,
    /// More than 65,535 ops.
    TooManyOps,
    /// The arena or payload exceeds 4 GiB.
    TooLarge,
    /// postcard failed to encode.
    Encode(String),
    /// The finished blob failed validation (a builder bug or limits exceeded).
    Invalid(crate::Error),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::UnknownTensor(t) => write!(f, "unknown tensor id {t}"),
            BuildError::Shape(msg) => write!(f, "inconsistent layer: {msg}"),
            BuildError::Scale(s) => write!(
                f,
                "requantisation scale {s} cannot be represented (must be finite, ≥ 0, < 2^30)"
            ),
            BuildError::TooManyTensors => write!(f, "too many tensors"),
            BuildError::TooManyOps => write!(f, "too many ops"),
            BuildError::TooLarge => write!(f, "arena or payload larger than 4 GiB"),
            BuildError::Encode(msg) => write!(f, "postcard encoding failed: {msg}"),
            BuildError::Invalid(e) => write!(f, "the built blob does not validate: {e}"),
        }
    }
}

impl std::error::Error for BuildError {}
