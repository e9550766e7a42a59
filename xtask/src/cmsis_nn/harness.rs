//! Finding CMSIS-NN, building the C harness and running it under QEMU.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use crate::arm_c::{compile_all, CC, CFLAGS, C_SUPPORT_DIR, HARNESS_WARNINGS};

/// Overrides where the CMSIS-NN sources are.
pub(super) const CMSIS_NN_ENV: &str = "SMN_CMSIS_NN_DIR";
/// Default place of the CMSIS-NN sources, relative to the repository root.
const CMSIS_NN_DEFAULT: &str = "../shared/peers/cmsis-nn";
/// The C harness, relative to the repository root.
const BENCH_DIR: &str = "tests/cmsis-nn-bench";
/// The CMSIS-NN source folders compiled (float variants left out).
const CMSIS_SOURCE_DIRS: [&str; 4] = [
    "ConvolutionFunctions",
    "FullyConnectedFunctions",
    "PoolingFunctions",
    "NNSupportFunctions",
];
// ---------------------------------------------------------------------------
// Building and running the harness.

/// The CMSIS-NN sources: `$SMN_CMSIS_NN_DIR`, else `../shared/peers/cmsis-nn`
/// relative to the repository root.
pub fn cmsis_nn_dir(root: &Path) -> Result<PathBuf, String> {
    locate_cmsis_nn(
        root,
        env::var_os(CMSIS_NN_ENV).filter(|d| !d.is_empty()).map(PathBuf::from),
    )
}

/// [`cmsis_nn_dir`] with the value of `$SMN_CMSIS_NN_DIR` given.
pub(super) fn locate_cmsis_nn(root: &Path, from_env: Option<PathBuf>) -> Result<PathBuf, String> {
    let (dir, origin) = match from_env {
        Some(dir) => (dir, format!("${CMSIS_NN_ENV}")),
        None => (
            root.join(CMSIS_NN_DEFAULT),
            format!("{CMSIS_NN_DEFAULT} relative to the repository root; set ${CMSIS_NN_ENV} to use another"),
        ),
    };
    if dir.join("Include").join("arm_nnfunctions.h").is_file() && dir.join("Source").is_dir() {
        Ok(fs::canonicalize(&dir).unwrap_or(dir))
    } else {
        Err(format!(
            "CMSIS-NN sources not found at {} ({origin}): expected Include/arm_nnfunctions.h and Source/ \
             of github.com/ARM-software/CMSIS-NN",
            dir.display()
        ))
    }
}

pub(super) fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The newest modification time of the files directly in `dir`.
pub(super) fn newest_in(dir: &Path) -> Result<SystemTime, String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    Ok(entries
        .filter_map(|e| modified(&e.ok()?.path()))
        .max()
        .unwrap_or(SystemTime::UNIX_EPOCH))
}

/// The integer CMSIS-NN C sources of [`CMSIS_SOURCE_DIRS`], sorted.
pub(super) fn cmsis_sources(cmsis: &Path) -> Result<Vec<PathBuf>, String> {
    let mut sources = Vec::new();
    for dir in CMSIS_SOURCE_DIRS {
        let dir = cmsis.join("Source").join(dir);
        let entries = fs::read_dir(&dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let float = ["_f16", "_f32", "_flt"].iter().any(|f| name.contains(f));
            if name.ends_with(".c") && !float {
                sources.push(path);
            }
        }
    }
    sources.sort();
    Ok(sources)
}

pub(super) fn compiler(include: &Path) -> Command {
    let mut cc = Command::new(CC);
    cc.args(CFLAGS).arg("-I").arg(include);
    cc
}

/// Compiles CMSIS-NN (objects kept in `out/cmsis-nn`, rebuilt when a source,
/// a header or the flags change) and the harness with `cases_bin`, links
/// `out/cmsis-nn-bench.elf` and returns its path.
pub(super) fn build_harness(root: &Path, cmsis: &Path, out: &Path, cases_bin: &Path) -> Result<PathBuf, String> {
    let include = cmsis.join("Include");
    let obj_dir = out.join("cmsis-nn");
    fs::create_dir_all(&obj_dir).map_err(|e| format!("cannot create {}: {e}", obj_dir.display()))?;
    let stamp = obj_dir.join("flags.txt");
    let flags = format!("{CC} {} -I {}\n", CFLAGS.join(" "), include.display());
    let flags_same = fs::read_to_string(&stamp).ok().as_deref() == Some(flags.as_str());
    let headers = newest_in(&include)?;

    let mut objects = Vec::new();
    let mut jobs = Vec::new();
    for src in cmsis_sources(cmsis)? {
        let name = src.file_stem().and_then(|n| n.to_str()).unwrap_or("source");
        let obj = obj_dir.join(format!("{name}.o"));
        let fresh =
            flags_same && modified(&obj).is_some_and(|o| modified(&src).is_some_and(|s| o >= s) && o >= headers);
        if !fresh {
            let mut cc = compiler(&include);
            cc.arg("-c").arg(&src).arg("-o").arg(&obj);
            jobs.push(cc);
        }
        objects.push(obj);
    }
    if !jobs.is_empty() {
        eprintln!(
            "cmsis-nn: compiling {} CMSIS-NN sources from {} into {}",
            jobs.len(),
            cmsis.display(),
            obj_dir.display()
        );
    }
    compile_all("CMSIS-NN compilation", jobs)?;
    fs::write(&stamp, flags).map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;

    let bench = root.join(BENCH_DIR);
    let Some(cases) = cases_bin.to_str().filter(|p| !p.contains(['"', '\\'])) else {
        return Err(format!(
            "{} cannot be named in an assembler string",
            cases_bin.display()
        ));
    };
    let support = root.join(C_SUPPORT_DIR);
    let mut harness_objects = Vec::new();
    let mut harness = Vec::new();
    for (dir, src, define) in [
        (&bench, "main.c", None),
        (&support, "support.c", None),
        (&support, "startup.c", None),
        (&bench, "cases.S", Some(format!("-DCASES_BIN=\"{cases}\""))),
    ] {
        let obj = out.join(format!("{src}.o"));
        let mut cc = compiler(&include);
        cc.args(HARNESS_WARNINGS)
            .arg("-I")
            .arg(&bench)
            .arg("-I")
            .arg(&support)
            .args(define);
        cc.arg("-c").arg(dir.join(src)).arg("-o").arg(&obj);
        harness.push(cc);
        harness_objects.push(obj);
    }
    compile_all("harness compilation", harness)?;

    let elf = out.join("cmsis-nn-bench.elf");
    eprintln!("cmsis-nn: linking {}", elf.display());
    let mut link = Command::new(CC);
    link.args(CFLAGS)
        .args(["-nostartfiles", "-Wl,--gc-sections"])
        .arg(format!("-Wl,-Map={}", out.join("cmsis-nn-bench.map").display()))
        .arg("-L")
        .arg(&support)
        .arg("-T")
        .arg(bench.join("link.ld"))
        .args(&harness_objects)
        .args(&objects)
        .arg("-o")
        .arg(&elf);
    compile_all("harness link (newlib libc for memcpy/memset)", vec![link])?;
    Ok(elf)
}
