//! `smn`: command-line tools for Separation Multi-task Networks.
use anyhow::Result;
use clap::{Parser, Subcommand};
use smn_firmware_core::Model;
use smn_host::device_tools;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "smn",
    version,
    about = "Separation Multi-task Networks: from training to int8 on a microcontroller"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train stage 1 (multi-task net) or stage 2 (SMN branches on a frozen stage-1 net).
    Train(Box<smn_host::commands::train::TrainArgs>),
    /// Evaluate a trained run: per-landmark NME and attribute accuracy.
    Eval(smn_host::commands::eval::EvalArgs),
    /// Write a trained run as the float model file that `smn quantize` reads (docs/float-model.md).
    Export(smn_host::commands::export::ExportArgs),
    /// Quantise a float model to an int8 blob for firmware-core, with a report.
    Quantize(smn_host::commands::quantize::QuantizeArgs),
    /// From nothing to a face model on a simulated Cortex-M4: data, two-stage training, int8, report.
    Demo(smn_host::commands::demo::DemoArgs),
    /// Time training steps of the real network per backend (JSON lines; the PyTorch peer script calls this).
    BenchTrain {
        /// Backends, comma-separated.
        #[arg(long, default_value = "flex,ndarray")]
        backends: String,
        /// Architecture preset.
        #[arg(long, default_value = "micro")]
        preset: String,
        /// Variant (mtl = stage 1).
        #[arg(long, default_value = "mtl")]
        variant: String,
        /// Batch size.
        #[arg(long, default_value_t = 32)]
        batch: usize,
        /// Timed steps.
        #[arg(long, default_value_t = 20)]
        steps: usize,
    },
    /// Describe an int8 model blob: input, arena, flash, ops and MACs.
    Inspect {
        /// Model blob (.bin).
        blob: PathBuf,
    },
    /// Run an int8 model blob on the host (same code as the firmware).
    Infer {
        /// Model blob (.bin).
        blob: PathBuf,
        /// Raw RGB image of the model's input size (default: built-in test image).
        #[arg(long)]
        image: Option<PathBuf>,
    },
    /// Run a blob on a simulated microcontroller with flash and RAM budgets.
    Simulate {
        /// Model blob (.bin).
        blob: PathBuf,
        /// Device profile: cortex-m4, cortex-m7, esp32-s3.
        #[arg(long, default_value = "cortex-m4")]
        device: String,
        /// Raw RGB image of the model's input size (default: built-in test image).
        #[arg(long)]
        image: Option<PathBuf>,
    },
    /// Write N synthetic faces in the CelebA layout (img_align_celeba/ + list files).
    Synthesize {
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Number of faces.
        #[arg(long, default_value_t = 1000)]
        count: usize,
        /// Generator seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Write an SMN blob with random weights (for integration tests, not a trained model).
    RandomModel {
        /// Graph size: micro (64×64, Cortex-M4) or tiny.
        #[arg(long, default_value = "micro")]
        shape: String,
        /// Seed of the random weights.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
}

fn run(cli: Cli) -> Result<String> {
    match cli.command {
        Command::Train(args) => smn_host::commands::train::run(&args),
        Command::Eval(args) => smn_host::commands::eval::run(&args),
        Command::Export(args) => smn_host::commands::export::run(&args),
        Command::Quantize(args) => smn_host::commands::quantize::run(&args),
        Command::Demo(args) => smn_host::commands::demo::run(&args),
        Command::BenchTrain {
            backends,
            preset,
            variant,
            batch,
            steps,
        } => bench_train(&backends, &preset, &variant, batch, steps),
        Command::Inspect { blob } => device_tools::inspect(&device_tools::read_blob(&blob)?),
        Command::Infer { blob, image } => {
            let bytes = device_tools::read_blob(&blob)?;
            let model = Model::from_bytes(&bytes)?;
            let image = device_tools::read_image(image.as_deref(), &model)?;
            let mut arena = vec![0u8; model.arena_bytes()];
            let out = model.run(&image, &mut arena)?;
            Ok(device_tools::format_outputs(&out))
        }
        Command::Simulate { blob, device, image } => {
            device_tools::simulate(&device_tools::read_blob(&blob)?, &device, image.as_deref())
        }
        Command::Synthesize { out, count, seed } => {
            let config = smn_host::data::synthetic::SyntheticConfig {
                seed,
                ..Default::default()
            };
            smn_host::data::synthetic::write_celeba_layout(&out, &config, count)
                .map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
            Ok(format!(
                "wrote {count} synthetic faces to {} (CelebA layout)\n",
                out.display()
            ))
        }
        Command::RandomModel { shape, seed, out } => device_tools::random_model(&shape, seed, &out),
    }
}

fn bench_train(backends: &str, preset: &str, variant: &str, batch: usize, steps: usize) -> Result<String> {
    use anyhow::Context;
    use smn_host::commands::values;
    use smn_host::model::Variant;
    let arch = values::preset(preset)?;
    let variant = Variant::parse(variant).with_context(|| format!("unknown variant '{variant}'"))?;
    let mut out = String::new();
    for name in backends.split(',') {
        let backend = values::backend(name)?;
        let rate = smn_host::train::step_bench::step_rate(backend, &arch, variant, batch, 3, steps)?;
        out.push_str(&serde_json::to_string(&rate)?);
        out.push('\n');
    }
    Ok(out)
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
