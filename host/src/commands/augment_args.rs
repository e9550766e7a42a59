//! `--augment`, `--augment-geometry`: training-image augmentation, shared
//! by the training commands.
use super::options;
use crate::report::text::augmentation_text;
use crate::train::config::AugmentConfig;
use clap::Args;

/// The augmentation options.
#[derive(Args, Clone, Copy, Debug, PartialEq)]
pub struct AugmentArgs {
    /// Augment training images (flip, shift/scale/rotation, colour jitter).
    #[arg(long)]
    pub augment: bool,
    /// With --augment: scale of its shift, scale and rotation ranges
    /// (0: flip and colour jitter only, which keeps the aligned geometry).
    #[arg(long, default_value_t = 1.0, value_parser = options::non_negative)]
    pub augment_geometry: f32,
}

impl AugmentArgs {
    /// The augmentation these options ask for (`None`: off).
    pub fn config(&self) -> Option<AugmentConfig> {
        self.augment
            .then(|| AugmentConfig::default().with_geometry(f64::from(self.augment_geometry)))
    }

    /// For reports: `off`, `on`, or `on, geometry ×F`.
    pub fn describe(&self) -> String {
        augmentation_text(self.augment, f64::from(self.augment_geometry))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::options::parse_group;

    fn parse(args: &[&str]) -> AugmentArgs {
        parse_group(args).unwrap()
    }

    #[test]
    fn off_unless_asked() {
        let a = parse(&["--augment-geometry", "0"]);
        assert_eq!((a.config(), a.describe().as_str()), (None, "off"));
    }

    #[test]
    fn geometry_factor_reaches_the_config() {
        let full = parse(&["--augment"]);
        assert_eq!(full.config(), Some(AugmentConfig::default()));
        assert_eq!(full.describe(), "on");
        let flat = parse(&["--augment", "--augment-geometry", "0"]);
        assert_eq!(flat.config(), Some(AugmentConfig::default().with_geometry(0.0)));
        assert_eq!(flat.describe(), "on, geometry ×0");
        assert!(parse_group::<AugmentArgs>(&["--augment", "--augment-geometry", "-1"]).is_err());
    }
}
