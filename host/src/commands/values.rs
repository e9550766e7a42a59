//! Parsers for option values several subcommands share, each with one error
//! message that names the option and the accepted values.
use crate::model::ArchConfig;
use crate::train::backend::BackendKind;
use crate::train::trainer::OptimizerKind;
use anyhow::{bail, Context, Result};
use smn_quantize::calibrate::CalibrationMethod;

/// `--backend flex|ndarray|wgpu`.
pub fn backend(name: &str) -> Result<BackendKind> {
    BackendKind::parse(name).with_context(|| format!("--backend '{name}': flex, ndarray or wgpu"))
}

/// `--preset paper|micro|tiny`.
pub fn preset(name: &str) -> Result<ArchConfig> {
    ArchConfig::preset(name).with_context(|| format!("unknown preset '{name}' (paper, micro, tiny)"))
}

/// `--optimizer sgd|adam`.
pub fn optimizer(name: &str) -> Result<OptimizerKind> {
    match name {
        "sgd" => Ok(OptimizerKind::Sgd),
        "adam" => Ok(OptimizerKind::Adam),
        o => bail!("--optimizer '{o}': sgd or adam"),
    }
}

/// `--calibration minmax|percentile|mse` (percentile: 99.99).
pub fn calibration(name: &str) -> Result<CalibrationMethod> {
    match name {
        "minmax" => Ok(CalibrationMethod::MinMax),
        "percentile" => Ok(CalibrationMethod::Percentile(99.99)),
        "mse" => Ok(CalibrationMethod::Mse),
        other => bail!("--calibration '{other}': minmax, percentile or mse"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_and_errors_name_the_option() {
        assert_eq!(backend("ndarray").unwrap(), BackendKind::Ndarray);
        assert_eq!(optimizer("adam").unwrap(), OptimizerKind::Adam);
        assert_eq!(preset("micro").unwrap(), ArchConfig::micro());
        assert!(matches!(calibration("mse").unwrap(), CalibrationMethod::Mse));
        for (err, option) in [
            (backend("cuda").unwrap_err(), "--backend 'cuda'"),
            (optimizer("rmsprop").unwrap_err(), "--optimizer 'rmsprop'"),
            (preset("huge").unwrap_err(), "preset 'huge'"),
            (calibration("kl").unwrap_err(), "--calibration 'kl'"),
        ] {
            assert!(err.to_string().contains(option), "{err}");
        }
    }
}
