//! Two-stage training: configuration, the epoch loop, one optimisation
//! step, checkpoints, the best epoch and early stopping, per-epoch history.
pub mod best;
pub mod checkpoint;
pub mod config;
pub mod early_stopping;
pub mod history;
pub mod loss;
pub mod run_dir;
pub mod step;
pub mod step_bench;
pub mod target_stats;
pub mod trainer;
