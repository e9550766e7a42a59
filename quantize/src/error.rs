//! Error values of this crate: reading a float model, and quantising it.
use smn_firmware_core::builder::BuildError;
use std::fmt;

/// What is wrong with a float model file (always reported with the file name).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ModelFileProblem {
    /// Reading or writing the file failed.
    Io(String),
    /// The bytes are not a valid safetensors file (truncated, bad header JSON, bad offsets…).
    Safetensors(String),
    /// A `__metadata__` key is missing.
    MissingMetadata {
        /// The key.
        key: String,
    },
    /// A `__metadata__` value cannot be used.
    BadMetadata {
        /// The key.
        key: String,
        /// The value found.
        value: String,
        /// Why it is rejected.
        reason: String,
    },
    /// A tensor the architecture and variant need is absent.
    MissingTensor {
        /// Tensor name.
        tensor: String,
        /// Shape it should have.
        expected: Vec<usize>,
    },
    /// A tensor the architecture and variant do not have.
    UnexpectedTensor {
        /// Tensor name.
        tensor: String,
        /// Its shape.
        shape: Vec<usize>,
    },
    /// A tensor that is not `F32`.
    WrongDtype {
        /// Tensor name.
        tensor: String,
        /// The dtype found.
        dtype: String,
    },
    /// A tensor whose shape is not the documented one.
    WrongShape {
        /// Tensor name.
        tensor: String,
        /// Documented shape.
        expected: Vec<usize>,
        /// Shape in the file.
        found: Vec<usize>,
    },
    /// A tensor whose element count disagrees with its shape (in-memory models).
    WrongLength {
        /// Tensor name.
        tensor: String,
        /// Elements the shape implies.
        expected: usize,
        /// Elements present.
        found: usize,
    },
    /// A NaN or infinite value.
    NonFinite {
        /// Tensor name.
        tensor: String,
        /// Flat index of the first bad value.
        index: usize,
    },
}

impl fmt::Display for ModelFileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelFileProblem::Io(e) => write!(f, "I/O error: {e}"),
            ModelFileProblem::Safetensors(e) => write!(f, "not a valid safetensors file: {e}"),
            ModelFileProblem::MissingMetadata { key } => write!(f, "metadata key `{key}` is missing"),
            ModelFileProblem::BadMetadata { key, value, reason } => {
                write!(f, "metadata key `{key}` = {value:?}: {reason}")
            }
            ModelFileProblem::MissingTensor { tensor, expected } => {
                write!(f, "tensor `{tensor}` (shape {expected:?}) is missing")
            }
            ModelFileProblem::UnexpectedTensor { tensor, shape } => write!(
                f,
                "unexpected tensor `{tensor}` (shape {shape:?}): not part of this architecture/variant"
            ),
            ModelFileProblem::WrongDtype { tensor, dtype } => {
                write!(f, "tensor `{tensor}` has dtype {dtype}, expected F32")
            }
            ModelFileProblem::WrongShape {
                tensor,
                expected,
                found,
            } => write!(f, "tensor `{tensor}` has shape {found:?}, expected {expected:?}"),
            ModelFileProblem::WrongLength {
                tensor,
                expected,
                found,
            } => write!(f, "tensor `{tensor}` holds {found} values, its shape needs {expected}"),
            ModelFileProblem::NonFinite { tensor, index } => {
                write!(f, "tensor `{tensor}` has a non-finite value at flat index {index}")
            }
        }
    }
}

/// A float model file could not be read, written or validated.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelFileError {
    /// The file (or the source name given to `from_bytes`).
    pub file: String,
    /// What is wrong.
    pub problem: ModelFileProblem,
}

impl ModelFileError {
    pub(crate) fn new(file: &str, problem: ModelFileProblem) -> Self {
        ModelFileError {
            file: file.to_string(),
            problem,
        }
    }
}

impl fmt::Display for ModelFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.problem)
    }
}

impl std::error::Error for ModelFileError {}

/// Why quantisation failed.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum QuantizeError {
    /// The float model is invalid.
    Model(ModelFileError),
    /// An input image has the wrong size, or none was given.
    Image(String),
    /// Calibration options or statistics cannot be used.
    Calibration(String),
    /// A layer cannot be represented by firmware-core (patch limit, bias range…).
    Unsupported {
        /// Layer name.
        layer: String,
        /// Why.
        reason: String,
    },
    /// The blob builder rejected a layer or the finished blob.
    Build {
        /// Layer name (or `finish`).
        layer: String,
        /// The builder's error.
        error: BuildError,
    },
    /// Running the int8 blob failed.
    Run(smn_firmware_core::Error),
    /// A bug in this crate (an inconsistent internal graph).
    Internal(String),
}

impl fmt::Display for QuantizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QuantizeError::Model(e) => write!(f, "{e}"),
            QuantizeError::Image(e) => write!(f, "input image: {e}"),
            QuantizeError::Calibration(e) => write!(f, "calibration: {e}"),
            QuantizeError::Unsupported { layer, reason } => write!(f, "layer {layer}: {reason}"),
            QuantizeError::Build { layer, error } => write!(f, "layer {layer}: {error}"),
            QuantizeError::Run(e) => write!(f, "running the int8 model: {e}"),
            QuantizeError::Internal(e) => write!(f, "internal error: {e}"),
        }
    }
}

impl std::error::Error for QuantizeError {}

impl From<ModelFileError> for QuantizeError {
    fn from(e: ModelFileError) -> Self {
        QuantizeError::Model(e)
    }
}

impl From<smn_firmware_core::Error> for QuantizeError {
    fn from(e: smn_firmware_core::Error) -> Self {
        QuantizeError::Run(e)
    }
}
