//! `smn`: command-line tools for Separation Multi-task Networks (the
//! subcommands live in `smn_host::commands`, one file each).
use std::process::ExitCode;

fn main() -> ExitCode {
    // burn materialises a loaded optimizer state (`smn train --resume`) on
    // `Device::default()` before moving it to the run's device; pin that
    // default to the CPU, before any thread starts, unless the user chose.
    if std::env::var_os("BURN_DEVICE").is_none() {
        std::env::set_var("BURN_DEVICE", "flex");
    }
    match smn_host::commands::run_cli(std::env::args_os().collect()) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => match e.downcast::<clap::Error>() {
            Ok(clap_error) => clap_error.exit(),
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}
