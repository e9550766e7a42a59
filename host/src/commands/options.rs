//! Option values of the `smn` subcommands: the choices (clap `ValueEnum`s,
//! listed from the types that define them) and the parsers of numbers and
//! ranges. Each rejects a value outside its domain with a message that says
//! what is accepted; clap adds the option's name.
use crate::data::celeba::Partition;
use crate::model::{Arch, Variant};
use crate::train::config::LrSchedule;
use clap::builder::PossibleValue;
use clap::ValueEnum;
use smn_firmware_core::builder::SmnShape;
use smn_firmware_core::sim::{DeviceProfile, PROFILES};
use smn_quantize::calibrate::CalibrationMethod;
use smn_quantize::ConcatScales;
use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;

/// `--preset`: an architecture preset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Preset {
    /// 128×128 input, levels 32-64-128-256, heads of 256 (the paper).
    Paper,
    /// 64×64 input, levels 16-32-32-64, heads of 64 (a Cortex-M4).
    Micro,
    /// 64×64 input, levels 24-48-48-64, heads of 128 (a Cortex-M4, 2× micro's MACs; the study's).
    MicroWide,
    /// 32×32 input, levels 8-16, heads of 16 (tests).
    Tiny,
}

impl Preset {
    /// The name on the command line: `paper`, `micro`, `micro-wide`, `tiny`.
    pub fn name(self) -> String {
        self.to_possible_value()
            .map_or_else(|| format!("{self:?}"), |v| v.get_name().to_owned())
    }

    /// The architecture.
    pub fn arch(self) -> Arch {
        match self {
            Preset::Paper => Arch::paper(),
            Preset::Micro => Arch::micro(),
            Preset::MicroWide => Arch::micro_wide(),
            Preset::Tiny => Arch::tiny(),
        }
    }
}

/// `--variant`: a network variant, named as in `Variant::name`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VariantArg(pub Variant);

/// Every variant, in `Variant::ALL` order.
static VARIANTS: [VariantArg; 4] = [
    VariantArg(Variant::ALL[0]),
    VariantArg(Variant::ALL[1]),
    VariantArg(Variant::ALL[2]),
    VariantArg(Variant::ALL[3]),
];

impl ValueEnum for VariantArg {
    fn value_variants<'a>() -> &'a [Self] {
        &VARIANTS
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.0.name()))
    }
}

/// `--calibration`: how activation ranges are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Calibration {
    /// The full observed range.
    Minmax,
    /// The 99.99th percentiles.
    Percentile,
    /// The range that minimises the int8 mean squared error.
    Mse,
}

impl Calibration {
    /// The quantiser's method.
    pub fn method(self) -> CalibrationMethod {
        match self {
            Calibration::Minmax => CalibrationMethod::MinMax,
            Calibration::Percentile => CalibrationMethod::Percentile(99.99),
            Calibration::Mse => CalibrationMethod::Mse,
        }
    }
}

/// `--concat-scales`: how a fused concat + 1×1 handles its two input scales
/// (`docs/int8-spec.md` §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ConcatScalesArg {
    /// One accumulator scale, one requantisation per output (format
    /// version 3; the faster kernel).
    One,
    /// Each input at its own scale, two requantisations per output
    /// (readable by firmware of format versions 1 and 2).
    Two,
}

impl ConcatScalesArg {
    /// The quantiser's option.
    pub fn scales(self) -> ConcatScales {
        match self {
            ConcatScalesArg::One => ConcatScales::One,
            ConcatScalesArg::Two => ConcatScales::Two,
        }
    }
}

/// `--device`: a simulated microcontroller of `sim::PROFILES`.
#[derive(Clone, Copy, Debug)]
pub struct DeviceArg(pub DeviceProfile);

/// Every profile of `sim::PROFILES`.
static DEVICES: [DeviceArg; PROFILES.len()] = {
    let mut out = [DeviceArg(PROFILES[0]); PROFILES.len()];
    let mut i = 1;
    while i < PROFILES.len() {
        out[i] = DeviceArg(PROFILES[i]);
        i += 1;
    }
    out
};

impl ValueEnum for DeviceArg {
    fn value_variants<'a>() -> &'a [Self] {
        &DEVICES
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.0.name).help(self.0.description))
    }
}

/// `--shape`: the graph size of a random-weight blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Shape {
    /// 64×64 input (a Cortex-M4).
    Micro,
    /// Tests.
    Tiny,
}

impl Shape {
    /// The firmware-core builder's shape.
    pub fn smn_shape(self) -> SmnShape {
        match self {
            Shape::Micro => SmnShape::micro(),
            Shape::Tiny => SmnShape::tiny(),
        }
    }
}

/// An inclusive image-id range written `A-B` (`--ids`, `--val-ids`, …).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdRange(pub RangeInclusive<u32>);

impl FromStr for IdRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (a, b) = text
            .split_once('-')
            .ok_or_else(|| format!("'{text}': expected A-B, e.g. 1-3000"))?;
        let number = |s: &str| {
            s.trim()
                .parse::<u32>()
                .map_err(|_| format!("'{text}': '{s}' is not an image id"))
        };
        let (a, b) = (number(a)?, number(b)?);
        if a > b {
            return Err(format!("'{text}': empty range ({a} > {b})"));
        }
        Ok(IdRange(a..=b))
    }
}

impl fmt::Display for IdRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.0.start(), self.0.end())
    }
}

/// Parses `train`, `val` or `test` (one item of a comma-separated list).
pub fn partition(text: &str) -> Result<Partition, String> {
    Partition::parse(text.trim()).ok_or_else(|| format!("'{text}': train, val or test"))
}

/// Parses `constant`, `cosine` or `step:EVERY:GAMMA`.
pub fn schedule(text: &str) -> Result<LrSchedule, String> {
    match text.split(':').collect::<Vec<_>>().as_slice() {
        ["constant"] => Ok(LrSchedule::Constant),
        ["cosine"] => Ok(LrSchedule::Cosine),
        ["step", every, gamma] => {
            let every: usize = every
                .parse()
                .ok()
                .filter(|&e| e > 0)
                .ok_or_else(|| format!("'{text}': EVERY must be a whole number of epochs ≥ 1"))?;
            let gamma: f64 = gamma
                .parse()
                .ok()
                .filter(|g: &f64| g.is_finite() && *g > 0.0)
                .ok_or_else(|| format!("'{text}': GAMMA must be a number > 0"))?;
            Ok(LrSchedule::Step { every, gamma })
        }
        _ => Err(format!("'{text}': constant, cosine or step:EVERY:GAMMA")),
    }
}

/// The text `schedule` parses back.
pub fn schedule_text(s: &LrSchedule) -> String {
    match s {
        LrSchedule::Constant => "constant".into(),
        LrSchedule::Cosine => "cosine".into(),
        LrSchedule::Step { every, gamma } => format!("step:{every}:{gamma}"),
    }
}

/// A whole number ≥ 1 (epochs, steps, image counts).
pub fn at_least_one(text: &str) -> Result<usize, String> {
    at_least(text, 1)
}

/// A batch size: ≥ 2 (batch norm needs two images).
pub fn batch_size(text: &str) -> Result<usize, String> {
    at_least(text, 2)
}

fn at_least(text: &str, min: usize) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(format!("'{text}': a whole number ≥ {min}")),
    }
}

/// A number > 0 (learning rate).
pub fn positive(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("'{text}': a number > 0")),
    }
}

/// A number ≥ 0 (loss weights, weight decay).
pub fn non_negative(text: &str) -> Result<f32, String> {
    match text.trim().parse::<f32>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("'{text}': a number ≥ 0")),
    }
}

/// A momentum in `[0, 1)`.
pub fn momentum(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if (0.0..1.0).contains(&v) => Ok(v),
        _ => Err(format!("'{text}': a number in [0, 1)")),
    }
}

/// A probability in `[0, 1]`.
pub fn probability(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("'{text}': a number in [0, 1]")),
    }
}

/// A dropout probability in `[0, 1)` (1 would drop everything).
pub fn dropout(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if (0.0..1.0).contains(&v) => Ok(v),
        _ => Err(format!("'{text}': a dropout probability in [0, 1)")),
    }
}

/// A fraction in `(0, 1]`.
pub fn fraction(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 1.0 => Ok(v),
        _ => Err(format!("'{text}': a number in (0, 1]")),
    }
}

/// Parses `args` (no program name) as the options group `T` alone: how the
/// tests of a flattened group (`ArchArgs`, `AugmentArgs`) read flags.
#[cfg(test)]
pub(crate) fn parse_group<T: clap::Args + clap::FromArgMatches>(args: &[&str]) -> Result<T, clap::Error> {
    let matches = T::augment_args(clap::Command::new("smn"))
        .try_get_matches_from(std::iter::once("smn").chain(args.iter().copied()))?;
    T::from_arg_matches(&matches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_come_from_the_types_that_define_them() {
        let names: Vec<String> = VariantArg::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value().map(|p| p.get_name().to_string()))
            .collect();
        assert_eq!(names, ["mtl", "smn", "smn-1x1", "smn-1x1-ft"]);
        let devices: Vec<&str> = DeviceArg::value_variants().iter().map(|d| d.0.name).collect();
        let profiles: Vec<&str> = PROFILES.iter().map(|p| p.name).collect();
        assert_eq!(devices, profiles);
        assert_eq!(Preset::Micro.arch(), Arch::micro());
        let presets: Vec<String> = Preset::value_variants().iter().map(|p| p.name()).collect();
        assert_eq!(presets, ["paper", "micro", "micro-wide", "tiny"]);
        assert!(matches!(Calibration::Mse.method(), CalibrationMethod::Mse));
    }

    #[test]
    fn ranges_and_schedules_round_trip_and_reject_nonsense() {
        assert_eq!("1-3000".parse::<IdRange>().unwrap(), IdRange(1..=3000));
        assert_eq!(IdRange(5..=9).to_string(), "5-9");
        for bad in ["5-1", "a-3", "7", ""] {
            assert!(bad.parse::<IdRange>().is_err(), "{bad}");
        }
        for text in ["constant", "cosine", "step:10:0.5"] {
            assert_eq!(schedule_text(&schedule(text).unwrap()), text);
        }
        for bad in ["step:0:0.5", "step:x:1", "step:3:-1", "linear"] {
            assert!(schedule(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn numbers_outside_their_domain_are_rejected() {
        assert_eq!(at_least_one("3"), Ok(3));
        assert_eq!(probability("0.5"), Ok(0.5));
        assert!(probability("1.5").is_err() && probability("-0.1").is_err());
        assert_eq!(dropout("0.3"), Ok(0.3));
        assert!(dropout("1").is_err() && dropout("-0.1").is_err() && dropout("x").is_err());
        assert!(at_least_one("0").is_err());
        assert!(batch_size("1").is_err());
        assert!(positive("-5").unwrap_err().contains("> 0"));
        assert!(positive("NaN").is_err());
        assert!(non_negative("-0.1").is_err());
        assert!(momentum("1").is_err());
        assert_eq!(fraction("1"), Ok(1.0));
        assert!(fraction("0").is_err());
        assert!(partition("dev").is_err());
    }
}
