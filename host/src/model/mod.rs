//! The multi-task network in burn.
pub mod arch;
pub mod net;

pub use arch::{ArchConfig, Variant};
pub use net::{SmnNet, Task};
