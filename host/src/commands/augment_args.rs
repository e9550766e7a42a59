//! `--augment`, `--augment-erase`: training-image augmentation, shared by
//! the training commands (each may set its own default mode).
use super::options;
use crate::data::transform::Augment;
use crate::report::text::augmentation_text;
use clap::{Args, ValueEnum};

/// What `--augment` applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AugmentMode {
    /// No augmentation.
    #[value(alias = "false")]
    Off,
    /// Horizontal flip and colour jitter: the aligned geometry stays, so
    /// landmark targets keep their distribution.
    Flip,
    /// Flip, colour jitter and a random shift, scale and rotation.
    #[value(alias = "true")]
    Full,
}

/// The augmentation options.
#[derive(Args, Clone, Copy, Debug, PartialEq)]
pub struct AugmentArgs {
    /// Augment training images: off, flip (flip + colour jitter) or full
    /// (+ shift/scale/rotation); `--augment` alone is full.
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "full", default_value = "off")]
    pub augment: AugmentMode,
    /// With --augment flip|full: probability of random erasing (one grey
    /// rectangle of 2–20 % of the image; landmark targets unchanged).
    #[arg(long, default_value_t = 0.0, value_parser = options::probability)]
    pub augment_erase: f64,
}

impl AugmentArgs {
    /// The augmentation these options ask for (`None`: off).
    pub fn config(&self) -> Option<Augment> {
        let geometry = match self.augment {
            AugmentMode::Off => return None,
            AugmentMode::Flip => 0.0,
            AugmentMode::Full => 1.0,
        };
        Some(Augment {
            erase_probability: self.augment_erase,
            ..Augment::DEFAULT.with_geometry(geometry)
        })
    }

    /// For reports: `off`, `on` (the full default), or the ranges.
    pub fn describe(&self) -> String {
        augmentation_text(self.config().as_ref())
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
        let a = parse(&["--augment-erase", "0.5"]);
        assert_eq!((a.config(), a.describe().as_str()), (None, "off"));
        assert_eq!(parse(&["--augment", "false"]).config(), None);
    }

    #[test]
    fn modes_reach_the_config() {
        for args in [&["--augment"][..], &["--augment", "full"], &["--augment=true"]] {
            assert_eq!(parse(args).config(), Some(Augment::DEFAULT), "{args:?}");
        }
        assert_eq!(parse(&["--augment"]).describe(), "on");
        let flip = parse(&["--augment", "flip", "--augment-erase", "0.25"]);
        assert_eq!(
            flip.config(),
            Some(Augment {
                erase_probability: 0.25,
                ..Augment::DEFAULT.with_geometry(0.0)
            })
        );
        assert_eq!(
            flip.describe(),
            "flip 0.5, shift ±0, scale ±0, rotation ±0°, colour ±0.15, erase 0.25"
        );
        assert!(parse_group::<AugmentArgs>(&["--augment", "sideways"]).is_err());
        assert!(parse_group::<AugmentArgs>(&["--augment-erase", "2"]).is_err());
    }
}
