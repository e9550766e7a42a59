//! Backend choice: burn's flex (default CPU), ndarray (deprecated upstream,
//! kept because users asked for it) and wgpu (GPU; CPU-only machines run it
//! on Mesa's lavapipe).
use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// A burn backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// burn-flex, pure-Rust CPU (the default: faster than ndarray on this net, see docs/benchmarks.md).
    Flex,
    /// burn-ndarray, CPU (deprecated upstream in 0.22).
    Ndarray,
    /// wgpu: Vulkan/Metal/DX12 GPUs, or lavapipe on CPU-only machines.
    Wgpu,
}

impl BackendKind {
    /// The name on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            BackendKind::Flex => "flex",
            BackendKind::Ndarray => "ndarray",
            BackendKind::Wgpu => "wgpu",
        }
    }

    /// The (non-autodiff) device.
    pub fn device(&self) -> Device {
        match self {
            BackendKind::Flex => Device::flex(),
            #[allow(deprecated)]
            BackendKind::Ndarray => Device::ndarray(),
            BackendKind::Wgpu => Device::wgpu(DeviceKind::DefaultDevice),
        }
    }
}
