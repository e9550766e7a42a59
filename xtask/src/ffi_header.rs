//! `cargo xtask ffi-header`: generates `firmware-ffi/include/smn.h` with
//! cbindgen (configuration: `firmware-ffi/cbindgen.toml`); `cargo xtask
//! test` regenerates it in memory and fails when the committed file differs.

use std::fs;
use std::path::{Path, PathBuf};

/// The crate whose C API the header declares.
const FFI_CRATE: &str = "firmware-ffi";
/// The header, relative to the crate.
const HEADER: &str = "include/smn.h";

/// The committed header's path.
pub fn header_path(root: &Path) -> PathBuf {
    root.join(FFI_CRATE).join(HEADER)
}

/// The header cbindgen writes for the current sources.
fn generate(root: &Path) -> Result<Vec<u8>, String> {
    let krate = root.join(FFI_CRATE);
    let config_path = krate.join("cbindgen.toml");
    let config =
        cbindgen::Config::from_file(&config_path).map_err(|e| format!("cannot read {}: {e}", config_path.display()))?;
    let bindings = cbindgen::Builder::new()
        .with_crate(&krate)
        .with_config(config)
        .generate()
        .map_err(|e| format!("cbindgen failed on {}: {e}", krate.display()))?;
    let mut out = Vec::new();
    bindings.write(&mut out);
    Ok(out)
}

/// `cargo xtask ffi-header`: writes the header.
pub fn write(root: &Path) -> Result<(), String> {
    let header = generate(root)?;
    let path = header_path(root);
    fs::write(&path, &header).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!("ffi-header: wrote {} ({} bytes)", path.display(), header.len());
    Ok(())
}

/// Fails when the committed header is not what cbindgen generates now.
pub fn check(root: &Path) -> Result<(), String> {
    let fresh = generate(root)?;
    let path = header_path(root);
    let committed = fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if committed == fresh {
        eprintln!("ffi-header: {} is up to date", path.display());
        Ok(())
    } else {
        Err(format!(
            "{} is stale: the C API in {FFI_CRATE}/src changed; run `cargo xtask ffi-header` and commit the result",
            path.display()
        ))
    }
}
