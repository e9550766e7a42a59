//! Training, evaluation and run directories.
pub mod backend;
pub mod batch;
pub mod best;
pub mod config;
pub mod dataset;
pub mod loss;
pub mod metrics;
pub mod run_dir;
pub mod step_bench;
pub mod target_stats;
pub mod trainer;
