//! Library side of the `smn` CLI.
//!
//! Data (CelebA, synthetic faces, geometry), the network in burn, two-stage
//! training and evaluation, and device tools over int8 model blobs.
pub mod commands;
pub mod data;
pub mod evaluation;
pub mod files;
pub mod model;
pub mod report;
pub mod train;
