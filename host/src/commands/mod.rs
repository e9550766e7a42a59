//! Subcommands of `smn` that train and evaluate.
pub mod data_args;
pub mod eval;
pub mod train;
