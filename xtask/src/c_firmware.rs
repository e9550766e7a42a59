//! `cargo xtask c-firmware`: the C path into a product. Builds
//! `libsmn_firmware_ffi.a` for `thumbv7em-none-eabihf` (Debian's cargo,
//! `-Z build-std=core`, profile `firmware`: LTO, `panic = "abort"`), compiles
//! `tests/c-firmware/main.c` against the generated `smn.h` with
//! `arm-none-eabi-gcc` and newlib-nano, links it with start-up code and a
//! linker script of its own (`tests/c-support`, `tests/c-firmware/link.ld`),
//! runs it under QEMU and compares its transcript with the host's bit for
//! bit: the Rust firmware's lines, status codes of bad calls, and a QVGA
//! RGB565 frame through `smn_run_frame`. Reports flash, RAM and
//! instructions (`target/c-firmware-report.json`).

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;
use smn_firmware_core::frame::{crop_resize, CropBox, Frame, PixelFormat, ONE};
use smn_firmware_core::transcript::{fnv1a32, Transcript};
use smn_firmware_core::Model;
use smn_firmware_ffi::smn_status;

use crate::arm_c::{compile_all, CC, CFLAGS, C_SUPPORT_DIR, HARNESS_WARNINGS};
use crate::firmware::{self, device_value, flash_bytes, ram_bytes, Calibration, Report, DEVICE_PREFIX, ICOUNT_PREFIX};
use crate::{cmd, deps};

/// The C firmware's sources, relative to the repository root.
const C_FIRMWARE_DIR: &str = "tests/c-firmware";
/// The Rust crate built as the C library.
const FFI_PACKAGE: &str = "smn-firmware-ffi";
/// The generated header's folder.
const FFI_INCLUDE: &str = "firmware-ffi/include";
/// The Cortex-M4F target.
const TARGET: &str = "thumbv7em-none-eabihf";
/// The cargo profile of the library (root `Cargo.toml`).
const PROFILE: &str = "firmware";
/// Test frame: QVGA.
const FRAME_WIDTH: usize = 320;
const FRAME_HEIGHT: usize = 240;

/// The QVGA RGB565 test frame and the face box on it.
struct TestFrame {
    /// RGB565, little endian, stride = 2 × width.
    pixels: Vec<u8>,
    crop: CropBox,
}

/// A QVGA RGB565 frame holding `image` (`n × n` RGB) scaled ×2 at (96, 56)
/// on a colour gradient, and a sub-pixel box around it (partly odd
/// fractions, so the Q16.16 path is exercised).
fn test_frame(image: &[u8], n: usize) -> TestFrame {
    let (left, top, scale) = (96usize, 56usize, 2usize);
    let mut pixels = Vec::with_capacity(FRAME_WIDTH * FRAME_HEIGHT * 2);
    for y in 0..FRAME_HEIGHT {
        for x in 0..FRAME_WIDTH {
            let inside = (left..left + n * scale).contains(&x) && (top..top + n * scale).contains(&y);
            let rgb = if inside {
                let at = (((y - top) / scale) * n + (x - left) / scale) * 3;
                [image[at], image[at + 1], image[at + 2]]
            } else {
                [(x * 255 / FRAME_WIDTH) as u8, (y * 255 / FRAME_HEIGHT) as u8, 128]
            };
            let v = (u16::from(rgb[0] >> 3) << 11) | (u16::from(rgb[1] >> 2) << 5) | u16::from(rgb[2] >> 3);
            pixels.extend_from_slice(&v.to_le_bytes());
        }
    }
    let crop = CropBox {
        left: left as i32 * ONE + ONE / 3,
        top: top as i32 * ONE - ONE / 5,
        size: (n * scale) as i32 * ONE + ONE / 7,
    };
    TestFrame { pixels, crop }
}

impl TestFrame {
    fn frame(&self) -> Frame<'_> {
        Frame {
            pixels: &self.pixels,
            format: PixelFormat::Rgb565Le,
            width: FRAME_WIDTH,
            height: FRAME_HEIGHT,
            stride: FRAME_WIDTH * 2,
        }
    }
}

/// What the C firmware must print (`tests/c-firmware/main.c`; keep in
/// sync): the Rust firmware's transcript, then the status lines and the
/// frame section.
fn c_transcript(blob: &[u8], image: &[u8], frame: &TestFrame) -> Result<String, String> {
    let mut text = firmware::parity_transcript(blob, image)?;
    let model = Model::from_bytes(blob).map_err(|e| format!("host: the model blob does not load: {e}"))?;
    let side = model.input_width();
    let mut crop = vec![0u8; model.input_len()];
    crop_resize(&frame.frame(), frame.crop, side, &mut crop).map_err(|e| format!("host: crop_resize: {e}"))?;
    let mut arena = vec![0u8; model.frame_arena_bytes()];
    let framed = model
        .run_frame(&frame.frame(), frame.crop, &mut arena)
        .map_err(|e| format!("host: run_frame: {e}"))?;
    let mut t = Transcript::new(|bytes: &[u8]| text.extend_from_slice(bytes));
    for (key, status) in [
        ("status_short_blob", smn_status::SMN_ERR_BLOB_TOO_SHORT),
        ("status_null_image", smn_status::SMN_ERR_NULL_POINTER),
        ("status_small_arena", smn_status::SMN_ERR_ARENA_TOO_SMALL),
        ("status_overlap", smn_status::SMN_ERR_OVERLAPPING_BUFFERS),
        ("status_empty_box", smn_status::SMN_ERR_CROP_BOX),
    ] {
        t.line(key, status as u64);
    }
    let crop_hash = fnv1a32(&crop.iter().map(|&b| b as i8).collect::<Vec<i8>>());
    let mut text = String::from_utf8(text).map_err(|_| "host transcript is not UTF-8".to_string())?;
    let _ = writeln!(text, "frame_input {crop_hash:08x}");
    let mut tail = Vec::new();
    let mut t = Transcript::new(|bytes: &[u8]| tail.extend_from_slice(bytes));
    t.outputs(&framed);
    t.line("frame_done", 1);
    text.push_str(&String::from_utf8_lossy(&tail));
    Ok(text)
}

/// Builds the static library with Debian's cargo; returns its path.
fn build_library(root: &Path) -> Result<PathBuf, String> {
    let target_dir = firmware::firmware_target_dir(root)
        .map(|d| d.with_file_name("firmware-ffi"))
        .unwrap_or_else(|| root.join("target").join("firmware-ffi"));
    let mut build = Command::new(deps::FIRMWARE_CARGO);
    cmd::firmware_cargo_env(&mut build);
    build
        .current_dir(root)
        .env("RUSTC", deps::FIRMWARE_RUSTC)
        .env("RUSTC_BOOTSTRAP", "1")
        // The core's scheduling model, as README advises firmware builds.
        .env(
            "CARGO_TARGET_THUMBV7EM_NONE_EABIHF_RUSTFLAGS",
            "-C target-cpu=cortex-m4",
        )
        .args(["build", "--locked", "--lib", "-p", FFI_PACKAGE, "--features", "dsp"])
        .args(["--profile", PROFILE, "--target", TARGET, "-Z", "build-std=core"])
        .arg("--target-dir")
        .arg(&target_dir);
    cmd::run("C library build (Debian cargo, -Z build-std=core)", &mut build)?;
    let lib = target_dir.join(TARGET).join(PROFILE).join("libsmn_firmware_ffi.a");
    if lib.is_file() {
        Ok(lib)
    } else {
        Err(format!("the library build succeeded but {} is missing", lib.display()))
    }
}

/// Where the C objects, assets and ELF go.
fn out_dir(root: &Path) -> PathBuf {
    root.join("target").join("c-firmware")
}

/// A path as a C string literal for `-D` (refuses quotes and backslashes).
fn c_string(path: &Path) -> Result<String, String> {
    path.to_str()
        .filter(|p| !p.contains(['"', '\\']))
        .map(|p| format!("\"{p}\""))
        .ok_or_else(|| format!("{} cannot be named in a C string", path.display()))
}

/// Compiles and links the C firmware; returns the ELF.
fn build_c(
    root: &Path,
    lib: &Path,
    model: &Model<'_>,
    frame: &TestFrame,
    assets: [&Path; 3],
) -> Result<PathBuf, String> {
    let out = out_dir(root);
    let (src, support, include) = (
        root.join(C_FIRMWARE_DIR),
        root.join(C_SUPPORT_DIR),
        root.join(FFI_INCLUDE),
    );
    let defines = [
        format!("-DARENA_BYTES={}u", model.frame_arena_bytes()),
        format!("-DINPUT_BYTES={}u", model.input_len()),
        format!("-DFRAME_WIDTH={FRAME_WIDTH}u"),
        format!("-DFRAME_HEIGHT={FRAME_HEIGHT}u"),
        format!("-DBOX_LEFT={}", frame.crop.left),
        format!("-DBOX_TOP={}", frame.crop.top),
        format!("-DBOX_SIZE={}", frame.crop.size),
        format!("-DMODEL_BIN={}", c_string(assets[0])?),
        format!("-DIMAGE_BIN={}", c_string(assets[1])?),
        format!("-DFRAME_BIN={}", c_string(assets[2])?),
    ];
    let mut objects = Vec::new();
    let mut jobs = Vec::new();
    for (dir, file) in [
        (&src, "main.c"),
        (&src, "assets.S"),
        (&support, "support.c"),
        (&support, "startup.c"),
    ] {
        let obj = out.join(format!("{file}.o"));
        let mut cc = Command::new(CC);
        cc.args(CFLAGS).args(HARNESS_WARNINGS).arg("--specs=nano.specs");
        cc.arg("-I").arg(&include).arg("-I").arg(&support).args(&defines);
        cc.arg("-c").arg(dir.join(file)).arg("-o").arg(&obj);
        jobs.push(cc);
        objects.push(obj);
    }
    compile_all("C firmware compilation", jobs)?;
    let elf = out.join("smn-c-firmware.elf");
    let mut link = Command::new(CC);
    link.args(CFLAGS)
        .args(["--specs=nano.specs", "-nostartfiles", "-Wl,--gc-sections"])
        .arg(format!("-Wl,-Map={}", out.join("smn-c-firmware.map").display()))
        .arg("-L")
        .arg(&support)
        .arg("-T")
        .arg(src.join("link.ld"))
        .args(&objects)
        .arg(lib)
        .arg("-o")
        .arg(&elf);
    compile_all("C firmware link", vec![link]).map_err(|e| {
        format!(
            "{e}\n  (an `undefined reference to smn_firmware_ffi_has_a_reachable_panic_path` means a panic \
             path survived in the library; a RAM/FLASH overflow means the model, frame or arena do not fit \
             a 1 MiB / 192 KiB part)"
        )
    })?;
    Ok(elf)
}

/// What `cargo xtask c-firmware` measured.
pub struct CReport {
    sections: Vec<(String, u64)>,
    library_bytes: u64,
    transcript_lines: usize,
    run_instructions: u64,
    crop_instructions: u64,
    frame_run_instructions: u64,
    stack_bytes: u64,
    macs: u64,
    arena_bytes: u64,
}

impl CReport {
    fn json(&self, rust: Option<&Report>) -> String {
        let value = json!({
            "target": TARGET,
            "flash_bytes": flash_bytes(&self.sections),
            "ram_static_bytes": ram_bytes(&self.sections),
            "stack_bytes": self.stack_bytes,
            "frame_arena_bytes": self.arena_bytes,
            "library_archive_bytes": self.library_bytes,
            "transcript_lines": self.transcript_lines,
            "parity": true,
            "smn_run_instructions": self.run_instructions,
            "instructions_per_mac": self.run_instructions as f64 / self.macs.max(1) as f64,
            "qvga_crop_resize_instructions": self.crop_instructions,
            "smn_run_frame_instructions": self.frame_run_instructions,
            "rust_firmware": rust.map(|r| json!({
                "flash_bytes": r.flash_bytes(),
                "ram_static_bytes": r.ram_bytes(),
                "stack_bytes": r.stack_bytes(),
                "instructions": r.inference_instructions(),
            })),
        });
        serde_json::to_string_pretty(&value).unwrap_or_default()
    }

    fn print(&self, rust: Option<&Report>) {
        println!("\nC firmware (tests/c-firmware, libsmn_firmware_ffi.a via smn.h) under QEMU mps2-an386:");
        println!(
            "  parity with the host: {} transcript lines identical (Rust firmware lines, status codes, QVGA frame)",
            self.transcript_lines
        );
        let (flash, ram) = (flash_bytes(&self.sections), ram_bytes(&self.sections));
        println!(
            "  flash {flash} B, static RAM {ram} B (arena + crop {} B), stack high-water {} B",
            self.arena_bytes, self.stack_bytes
        );
        if let Some(r) = rust {
            println!(
                "  Rust firmware:   flash {} B, static RAM {} B, stack {} B, Model::run {} instructions",
                r.flash_bytes(),
                r.ram_bytes(),
                r.stack_bytes(),
                r.inference_instructions()
            );
        }
        println!(
            "  smn_run {} instructions ({:.2}/MAC); QVGA RGB565 -> 64x64 crop + resize {} ; smn_run_frame {} (= crop + run + landmark mapping)",
            self.run_instructions,
            self.run_instructions as f64 / self.macs.max(1) as f64,
            self.crop_instructions,
            self.frame_run_instructions
        );
    }
}

/// The whole `cargo xtask c-firmware` flow; `rust` (the Rust firmware's
/// report, when it ran first) is printed beside it.
pub fn c_firmware(root: &Path, rust: Option<&Report>) -> Result<CReport, String> {
    deps::install_deps()?;
    crate::ffi_header::check(root)?;
    let out = out_dir(root);
    fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let (blob, image) = firmware::micro_model()?;
    let model = Model::from_bytes(&blob).map_err(|e| format!("the generated blob does not load: {e}"))?;
    let frame = test_frame(&image, model.input_width());
    let paths = [out.join("model.smnq"), out.join("image.rgb"), out.join("frame.rgb565")];
    for (path, bytes) in paths.iter().zip([&blob, &image, &frame.pixels]) {
        firmware::write_if_changed(path, bytes)?;
    }
    let lib = build_library(root)?;
    let elf = build_c(root, &lib, &model, &frame, [&paths[0], &paths[1], &paths[2]])?;
    let sections = firmware::section_sizes(&elf);
    let (device, _seconds) = firmware::run_qemu("C firmware", &elf)?;
    let host = c_transcript(&blob, &image, &frame)?;
    fs::write(out.join("transcript-host.txt"), &host)
        .and_then(|()| fs::write(out.join("transcript-c-firmware.txt"), &device))
        .map_err(|e| format!("cannot save the transcripts: {e}"))?;
    let transcript_lines = firmware::compare(&host, &device)?;
    let calibration = Calibration::parse(&device)?;
    let icount = |key: &str| device_value(&device, ICOUNT_PREFIX, key).map(|t| calibration.instructions(t));
    let report = CReport {
        sections,
        library_bytes: fs::metadata(&lib).map_or(0, |m| m.len()),
        transcript_lines,
        run_instructions: icount("inference_ticks")?,
        crop_instructions: icount("frame_crop_ticks")?,
        frame_run_instructions: icount("frame_run_ticks")?,
        stack_bytes: device_value(&device, DEVICE_PREFIX, "stack_bytes")?,
        macs: model.macs(),
        arena_bytes: model.frame_arena_bytes() as u64,
    };
    report.print(rust);
    let json_path = root.join("target").join("c-firmware-report.json");
    fs::write(&json_path, report.json(rust)).map_err(|e| format!("cannot write {}: {e}", json_path.display()))?;
    println!("  report written to {}", json_path.display());
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use smn_firmware_core::builder::{random_smn_blob, synthetic_test_image, SmnShape};

    #[test]
    fn the_test_frame_holds_the_image_under_its_box() {
        let n = 8;
        let image: Vec<u8> = (0..n * n * 3).map(|i| (i * 37 % 256) as u8).collect();
        let frame = test_frame(&image, n);
        assert_eq!(frame.pixels.len(), FRAME_WIDTH * FRAME_HEIGHT * 2);
        // The pixel under the image's (0, 0), RGB565 of its colour.
        let v = u16::from_le_bytes([
            frame.pixels[(56 * FRAME_WIDTH + 96) * 2],
            frame.pixels[(56 * FRAME_WIDTH + 96) * 2 + 1],
        ]);
        assert_eq!(v >> 11, u16::from(image[0] >> 3));
        assert!(frame.crop.size > 16 * ONE && frame.crop.left % ONE != 0);
    }

    #[test]
    fn the_c_transcript_extends_the_rust_one() {
        let blob = random_smn_blob(&SmnShape::tiny(), 1).unwrap();
        let model = Model::from_bytes(&blob).unwrap();
        let image = synthetic_test_image(model.input_height(), model.input_width(), 1);
        let frame = test_frame(&image, model.input_width());
        let text = c_transcript(&blob, &image, &frame).unwrap();
        let rust = String::from_utf8(firmware::parity_transcript(&blob, &image).unwrap()).unwrap();
        assert!(text.starts_with(&rust));
        let extra: Vec<&str> = text[rust.len()..].lines().collect();
        assert_eq!(
            extra[0],
            format!("status_short_blob {}", smn_status::SMN_ERR_BLOB_TOO_SHORT as i32)
        );
        assert!(extra[5].starts_with("frame_input "), "{extra:?}");
        assert!(extra[6].starts_with("landmarks_q "), "{extra:?}");
        assert_eq!(extra.last(), Some(&"frame_done 1"));
    }
}
