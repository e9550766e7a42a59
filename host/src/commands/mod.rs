//! The `smn` command line: one file per subcommand, each with its clap
//! `Args` and a `run` that returns the text to print; `Cli` ties them
//! together and `run_cli` parses (with `--config` files) and dispatches.
pub mod arch_args;
pub mod augment_args;
pub mod bench_train;
pub mod blob_file;
pub mod config_file;
pub mod data_args;
pub mod demo;
pub mod eval;
pub mod export;
pub mod infer;
pub mod inspect;
pub mod options;
pub mod quantize;
pub mod random_model;
pub mod simulate;
pub mod study;
pub mod synthesize;
pub mod train;

use anyhow::Result;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::ffi::OsString;

/// `smn` and its subcommands.
#[derive(Parser, Debug)]
#[command(
    name = "smn",
    version,
    about = "Separation Multi-task Networks: from training to int8 on a microcontroller"
)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train stage 1 (multi-task net) or stage 2 (SMN branches on a frozen stage-1 net).
    Train(Box<train::TrainArgs>),
    /// Evaluate a trained run: per-landmark NME and attribute accuracy.
    Eval(eval::EvalArgs),
    /// Write a trained run as the float model file that `smn quantize` reads (docs/float-model.md).
    Export(export::ExportArgs),
    /// Quantise a float model to an int8 blob (.smnq) for firmware-core, with a report.
    Quantize(quantize::QuantizeArgs),
    /// From nothing to a face model on a simulated Cortex-M4: data, two-stage training, int8, report.
    Demo(Box<demo::DemoArgs>),
    /// Seeds × variants with a fair control: does SMN help, with error bars (report.md, study.json, figures).
    Study(Box<study::StudyArgs>),
    /// Time training steps of the real network per backend (JSON lines; the PyTorch peer script calls this).
    BenchTrain(bench_train::BenchTrainArgs),
    /// Describe an int8 model blob: input, arena, flash, ops and MACs.
    Inspect(inspect::InspectArgs),
    /// Run an int8 model blob on the host (same code as the firmware).
    Infer(infer::InferArgs),
    /// Run a blob on a simulated microcontroller with flash and RAM budgets.
    Simulate(simulate::SimulateArgs),
    /// Write N synthetic faces in the CelebA layout (img_align_celeba/ + list files).
    Synthesize(synthesize::SynthesizeArgs),
    /// Write an SMN blob with random weights (for integration tests, not a trained model).
    RandomModel(random_model::RandomModelArgs),
}

/// Parses `argv` (program name first; `--config` files expanded) and runs
/// the subcommand; returns what to print. Parse errors come back as
/// `clap::Error` inside the `anyhow::Error`, so the caller can let clap
/// print them with its exit code.
pub fn run_cli(argv: Vec<OsString>) -> Result<String> {
    let cli = Cli::command();
    let argv = config_file::expand(argv, &cli)?;
    let matches = cli.clone().try_get_matches_from(argv)?;
    let parsed = Cli::from_arg_matches(&matches)?;
    match parsed.command {
        Command::Train(args) => {
            let sub = cli.find_subcommand("train");
            let used = matches.subcommand_matches("train");
            let toml = match (sub, used) {
                (Some(sub), Some(used)) => config_file::effective_config(used, sub, &["resume"]),
                _ => String::new(),
            };
            train::run(&args, &toml)
        }
        Command::Eval(args) => eval::run(&args),
        Command::Export(args) => export::run(&args),
        Command::Quantize(args) => quantize::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Study(args) => study::run(&args),
        Command::BenchTrain(args) => bench_train::run(&args),
        Command::Inspect(args) => inspect::run(&args),
        Command::Infer(args) => infer::run(&args),
        Command::Simulate(args) => simulate::run(&args),
        Command::Synthesize(args) => synthesize::run(&args),
        Command::RandomModel(args) => random_model::run(&args),
    }
}
