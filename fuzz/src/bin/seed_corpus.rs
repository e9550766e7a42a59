//! Writes valid model blobs into `corpus/from_bytes_run/` (or the directory
//! given as the first argument) as the fuzzer's seed corpus.
use smn_firmware_core::builder::{random_smn_blob, SmnShape};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus/from_bytes_run"));
    std::fs::create_dir_all(&dir)?;
    // Smallest useful SMN: 8×8 input, one conv level, 2 hidden units.
    let nano = SmnShape {
        input_height: 8,
        input_width: 8,
        channels: vec![2],
        hidden: 2,
        fused_pool: false,
        lean_schedule: false,
        one_scale_concat: false,
    };
    let mut shapes = vec![("nano", nano.clone(), 0..4u64), ("tiny", SmnShape::tiny(), 0..4)];
    // A non-square, three-level variant.
    shapes.push((
        "odd",
        SmnShape {
            input_height: 12,
            input_width: 20,
            channels: vec![3, 4, 5],
            hidden: 3,
            fused_pool: false,
            lean_schedule: false,
            one_scale_concat: true,
        },
        0..2,
    ));
    for (name, shape, seeds) in shapes {
        for seed in seeds {
            let blob = random_smn_blob(&shape, seed)?;
            let path = dir.join(format!("{name}-{seed}.bin"));
            std::fs::write(&path, &blob)?;
            println!("{} ({} bytes)", path.display(), blob.len());
        }
    }
    Ok(())
}
