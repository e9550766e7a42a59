//! `--augment`, `--augment-geometry`: training-image augmentation, shared
//! by the training commands.
use super::options;
use crate::data::transform::Augment;
use crate::report::text::augmentation_text;
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
    /// With --augment: probability of random erasing (one grey rectangle
    /// of 2–20 % of the image; landmark targets unchanged).
    #[arg(long, default_value_t = 0.0, value_parser = options::probability)]
    pub augment_erase: f64,
}

impl AugmentArgs {
    /// The augmentation these options ask for (`None`: off).
    pub fn config(&self) -> Option<Augment> {
        self.augment.then(|| Augment {
            erase_probability: self.augment_erase,
            ..Augment::DEFAULT.with_geometry(f64::from(self.augment_geometry))
        })
    }

    /// For reports: `off`, `on`, or `on, geometry ×F`.
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
        let a = parse(&["--augment-geometry", "0"]);
        assert_eq!((a.config(), a.describe().as_str()), (None, "off"));
    }

    #[test]
    fn geometry_factor_reaches_the_config() {
        let full = parse(&["--augment"]);
        assert_eq!(full.config(), Some(Augment::DEFAULT));
        assert_eq!(full.describe(), "on");
        let flat = parse(&["--augment", "--augment-geometry", "0"]);
        assert_eq!(flat.config(), Some(Augment::DEFAULT.with_geometry(0.0)));
        assert_eq!(
            flat.describe(),
            "flip 0.5, shift ±0, scale ±0, rotation ±0°, colour ±0.15, erase 0"
        );
        assert!(parse_group::<AugmentArgs>(&["--augment", "--augment-geometry", "-1"]).is_err());
    }
}
