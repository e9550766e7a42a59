//! Flash, arena plans and MACs of every preset × variant, with random
//! weights (sizes do not depend on the weight values):
//! `cargo run --release -p smn-quantize --example preset_sizes [preset ...]`.
use smn_quantize::{quantize, Arch, FloatModel, QuantizeOptions, Variant};

fn main() {
    let presets: Vec<String> = std::env::args().skip(1).collect();
    let presets = if presets.is_empty() {
        vec!["micro".to_string(), "paper".to_string()]
    } else {
        presets
    };
    println!("| preset | variant | flash (blob) | arena | naive | materialised concat | lower bound | MACs |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for preset in &presets {
        let arch = match preset.as_str() {
            "paper" => Arch::paper(),
            "micro" => Arch::micro(),
            "tiny" => Arch::tiny(),
            other => {
                eprintln!("unknown preset {other}");
                std::process::exit(2);
            }
        };
        for variant in [Variant::Mtl, Variant::Smn, Variant::Smn1x1, Variant::Smn1x1Ft] {
            let model = FloatModel::random(&arch, variant, 1);
            // Mid-grey-ish varied images: enough for calibration ranges.
            let n = arch.input_size * arch.input_size * 3;
            let images: Vec<Vec<u8>> = (0..8u32)
                .map(|k| (0..n).map(|i| ((i as u32 * 31 + k * 57) % 251) as u8).collect())
                .collect();
            let options = QuantizeOptions {
                report_images: 2,
                ..QuantizeOptions::default()
            };
            match quantize(&model, &images, &options) {
                Ok(q) => {
                    let r = &q.report;
                    println!(
                        "| {preset} | {} | {} | {} | {} | {} | {} | {} |",
                        variant.name(),
                        r.flash_bytes,
                        r.arena_bytes,
                        r.arena.naive_bytes,
                        r.arena.best_materialised_arena_bytes,
                        r.arena.lower_bound_bytes,
                        r.macs
                    );
                }
                Err(e) => println!("| {preset} | {} | not emitted: {e} | | | | | |", variant.name()),
            }
        }
    }
}
