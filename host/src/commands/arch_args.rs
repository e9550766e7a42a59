//! `--preset`, `--channels`, `--hidden`: the network a command builds — a
//! preset, optionally with other level widths or head sizes (the input size
//! and the number of levels stay the preset's unless `--channels` gives
//! another count of levels).
use super::options::{self, Preset};
use crate::model::Arch;
use anyhow::{anyhow, Result};
use clap::Args;

/// The architecture options shared by the training commands.
#[derive(Args, Clone, Debug, PartialEq, Eq)]
pub struct ArchArgs {
    /// Architecture preset: micro (Cortex-M4), micro-wide (Cortex-M4, 2× the MACs), paper, tiny.
    #[arg(long, value_enum, default_value_t = Preset::Micro)]
    pub preset: Preset,
    /// Conv level widths replacing the preset's, comma-separated, e.g.
    /// 24,48,48,96 (the input size must stay divisible by 2^levels).
    #[arg(long, value_delimiter = ',', value_parser = options::at_least_one)]
    pub channels: Vec<usize>,
    /// Hidden units of each head, replacing the preset's.
    #[arg(long, value_parser = options::at_least_one)]
    pub hidden: Option<usize>,
}

impl ArchArgs {
    /// The architecture: the preset with the overrides applied.
    ///
    /// # Errors
    /// When the overrides make an unusable network (too many levels for the
    /// input size, too many channels); the message names the options.
    pub fn arch(&self) -> Result<Arch> {
        let mut arch = self.preset.arch();
        if !self.channels.is_empty() {
            arch.channels.clone_from(&self.channels);
        }
        if let Some(hidden) = self.hidden {
            arch.hidden = hidden;
        }
        arch.check()
            .map_err(|e| anyhow!("--preset {} --channels/--hidden: {e}", self.name()))?;
        Ok(arch)
    }

    /// The preset's name, with the overrides when there are some
    /// (`micro`, `micro 24-48-48-96 hidden 96`).
    pub fn name(&self) -> String {
        let mut name = self.preset.name();
        if !self.channels.is_empty() {
            let levels: Vec<String> = self.channels.iter().map(usize::to_string).collect();
            name.push(' ');
            name.push_str(&levels.join("-"));
        }
        if let Some(hidden) = self.hidden {
            name.push_str(&format!(" hidden {hidden}"));
        }
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::options::parse_group;

    fn parse(args: &[&str]) -> ArchArgs {
        parse_group(args).unwrap()
    }

    #[test]
    fn preset_alone_is_the_preset() {
        let a = parse(&["--preset", "tiny"]);
        assert_eq!(a.arch().unwrap(), Arch::tiny());
        assert_eq!(a.name(), "tiny");
        let wide = parse(&["--preset", "micro-wide", "--hidden", "96"]);
        assert_eq!(wide.arch().unwrap().channels, Arch::micro_wide().channels);
        assert_eq!(wide.arch().unwrap().hidden, 96);
        assert_eq!(wide.name(), "micro-wide hidden 96");
    }

    #[test]
    fn overrides_replace_widths_and_heads() {
        let a = parse(&["--channels", "24,48,48,96", "--hidden", "96"]);
        let arch = a.arch().unwrap();
        assert_eq!(arch.channels, vec![24, 48, 48, 96]);
        assert_eq!(arch.hidden, 96);
        assert_eq!(arch.input_size, Arch::micro().input_size);
        assert_eq!(a.name(), "micro 24-48-48-96 hidden 96");
    }

    #[test]
    fn unusable_override_names_the_options() {
        // 64 is not divisible by 2^7.
        let err = parse(&["--channels", "8,8,8,8,8,8,8"]).arch().unwrap_err().to_string();
        assert!(err.contains("--channels"), "{err}");
        assert!(err.contains("divisible"), "{err}");
        assert!(parse_group::<ArchArgs>(&["--channels", "8,0"]).is_err());
    }
}
