//! The multi-task network in burn, its input batches and its files.
pub mod arch;
pub mod backend;
pub mod batch;
pub mod export;
pub mod net;
pub mod ops;
pub mod store;

pub use arch::{Arch, Variant};
pub use net::{SmnNet, Task};
