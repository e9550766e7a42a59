//! Subcommands of `smn` that train and evaluate.
pub mod data_args;
pub mod demo;
pub mod eval;
pub mod export;
pub mod figures;
pub mod quantize;
pub mod train;
pub mod values;
