//! Architecture description: presets, stage-2 variants.
use serde::{Deserialize, Serialize};

/// Number of landmark outputs (5 points × (x, y)).
pub const LANDMARK_OUTPUTS: usize = 10;
/// Number of attribute logits.
pub const ATTRIBUTE_OUTPUTS: usize = 40;

/// The conv stack shared by the stage-1 net and every stage-2 branch.
///
/// Level `l`: `conv k×k (same padding) → batch norm (optional) → ReLU → 2×2 max pool`,
/// `channels[l]` output channels. Heads: `flatten → fc(hidden) → ReLU → fc(outputs)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchConfig {
    /// Input side (square RGB input).
    pub input_size: usize,
    /// Output channels of each conv level.
    pub channels: Vec<usize>,
    /// Conv kernel size (odd).
    pub kernel_size: usize,
    /// Batch norm after each conv.
    pub batch_norm: bool,
    /// Hidden units of each head.
    pub hidden: usize,
}

impl ArchConfig {
    /// The paper's input size: 128×128×3; four levels 32-64-128-256, heads of 256.
    pub fn paper() -> Self {
        ArchConfig {
            input_size: 128,
            channels: vec![32, 64, 128, 256],
            kernel_size: 3,
            batch_norm: true,
            hidden: 256,
        }
    }

    /// Sized for a Cortex-M4: 64×64×3, four levels 16-32-32-64, heads of 64.
    pub fn micro() -> Self {
        ArchConfig {
            input_size: 64,
            channels: vec![16, 32, 32, 64],
            kernel_size: 3,
            batch_norm: true,
            hidden: 64,
        }
    }

    /// A few-second model for tests: 32×32×3, two levels 8-16, heads of 16.
    pub fn tiny() -> Self {
        ArchConfig {
            input_size: 32,
            channels: vec![8, 16],
            kernel_size: 3,
            batch_norm: true,
            hidden: 16,
        }
    }

    /// A preset by name (`paper`, `micro`, `tiny`).
    pub fn preset(name: &str) -> Option<Self> {
        match name {
            "paper" => Some(Self::paper()),
            "micro" => Some(Self::micro()),
            "tiny" => Some(Self::tiny()),
            _ => None,
        }
    }

    /// Side length of the last level's output.
    pub fn final_size(&self) -> usize {
        self.input_size >> self.channels.len()
    }

    /// Flattened features entering a head (`C_L × s × s`).
    pub fn flat_features(&self) -> usize {
        let s = self.final_size();
        self.channels.last().copied().unwrap_or(0) * s * s
    }

    /// Checks the sizes are usable.
    pub fn validate(&self) -> Result<(), String> {
        if self.channels.is_empty() {
            return Err("at least one conv level is needed".into());
        }
        if self.kernel_size.is_multiple_of(2) {
            return Err(format!("kernel size {} must be odd", self.kernel_size));
        }
        if self.final_size() == 0 || !self.input_size.is_multiple_of(1 << self.channels.len()) {
            return Err(format!(
                "input size {} must be divisible by 2^{}",
                self.input_size,
                self.channels.len()
            ));
        }
        Ok(())
    }
}

/// What stage 2 builds (the stage-1 net itself is [`Variant::Mtl`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// Stage 1: shared layers + one head per task (the paper's MTL baseline).
    Mtl,
    /// SMN without the 1×1: branch layer l ≥ 2 takes the 2C-channel concat directly (wider layer), random init.
    Smn,
    /// SMN with a 1×1 channel-wise conv after each concat, random init.
    #[serde(rename = "smn-1x1")]
    Smn1x1,
    /// SMN with 1×1, branch layers initialised from stage 1 ("fine-tuning").
    #[serde(rename = "smn-1x1-ft")]
    Smn1x1Ft,
}

impl Variant {
    /// Parses the CLI name.
    pub fn parse(name: &str) -> Option<Variant> {
        match name {
            "mtl" => Some(Variant::Mtl),
            "smn" => Some(Variant::Smn),
            "smn-1x1" => Some(Variant::Smn1x1),
            "smn-1x1-ft" => Some(Variant::Smn1x1Ft),
            _ => None,
        }
    }

    /// The CLI name.
    pub fn name(&self) -> &'static str {
        match self {
            Variant::Mtl => "mtl",
            Variant::Smn => "smn",
            Variant::Smn1x1 => "smn-1x1",
            Variant::Smn1x1Ft => "smn-1x1-ft",
        }
    }

    /// True for the stage-2 variants with a channel-wise 1×1 conv.
    pub fn has_1x1(&self) -> bool {
        matches!(self, Variant::Smn1x1 | Variant::Smn1x1Ft)
    }
}
