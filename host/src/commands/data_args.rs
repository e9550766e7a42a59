//! `--data DIR | --synthetic [N]` and the selection flags shared by train and eval.
use crate::data::celeba::{Partition, Selection};
use crate::train::dataset::DataSpec;
use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::PathBuf;

/// Where the images come from.
#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// CelebA folder (img_align_celeba/ + list_*.txt).
    #[arg(long, conflicts_with = "synthetic")]
    pub data: Option<PathBuf>,
    /// Use N generated faces instead of a dataset (default when --data is absent).
    #[arg(long, num_args = 0..=1, default_missing_value = "2000")]
    pub synthetic: Option<usize>,
    /// Partitions to use: train, val, test (comma-separated).
    #[arg(long)]
    pub partition: Option<String>,
    /// Image id range, e.g. 1-3000.
    #[arg(long)]
    pub ids: Option<String>,
    /// Use the first fraction (0–1] of the selected images.
    #[arg(long)]
    pub fraction: Option<f64>,
    /// Skip bad rows and images (reported) instead of failing.
    #[arg(long)]
    pub skip_bad: bool,
    /// Preprocessed cache file (created if missing, memory-mapped).
    #[arg(long)]
    pub cache: Option<PathBuf>,
}

/// A CelebA selection of `dir`: the id range `ids` (`A-B`) when given, else
/// the whole `partition`.
pub fn celeba_spec(dir: &std::path::Path, ids: Option<&str>, partition: Partition, skip_bad: bool) -> Result<DataSpec> {
    let ids = ids.map(parse_ids).transpose()?;
    Ok(DataSpec::Celeba {
        dir: dir.to_path_buf(),
        selection: Selection {
            partitions: if ids.is_some() { Vec::new() } else { vec![partition] },
            ids,
            fraction: None,
        },
        skip_bad,
    })
}

/// Parses `A-B` into an inclusive range.
pub fn parse_ids(text: &str) -> Result<std::ops::RangeInclusive<u32>> {
    let (a, b) = text
        .split_once('-')
        .with_context(|| format!("--ids '{text}': expected A-B, e.g. 1-3000"))?;
    let (a, b): (u32, u32) = (
        a.trim()
            .parse()
            .with_context(|| format!("--ids '{text}': '{a}' is not a number"))?,
        b.trim()
            .parse()
            .with_context(|| format!("--ids '{text}': '{b}' is not a number"))?,
    );
    if a > b {
        bail!("--ids '{text}': empty range");
    }
    Ok(a..=b)
}

/// Parses `train,val`.
pub fn parse_partitions(text: &str) -> Result<Vec<Partition>> {
    text.split(',')
        .map(|p| Partition::parse(p.trim()).with_context(|| format!("unknown partition '{p}' (train, val, test)")))
        .collect()
}

impl DataArgs {
    /// The data spec, with `default_partition` when none is given and
    /// `synthetic_seed` for generated faces.
    pub fn spec(&self, default_partition: Partition, synthetic_seed: u64) -> Result<DataSpec> {
        match &self.data {
            Some(dir) => {
                let partitions = match &self.partition {
                    Some(p) => parse_partitions(p)?,
                    None if self.ids.is_some() => Vec::new(),
                    None => vec![default_partition],
                };
                let ids = self.ids.as_deref().map(parse_ids).transpose()?;
                if let Some(f) = self.fraction {
                    if !(f > 0.0 && f <= 1.0) {
                        bail!("--fraction {f}: must be in (0, 1]");
                    }
                }
                Ok(DataSpec::Celeba {
                    dir: dir.clone(),
                    selection: Selection {
                        partitions,
                        ids,
                        fraction: self.fraction,
                    },
                    skip_bad: self.skip_bad,
                })
            }
            None => Ok(DataSpec::Synthetic {
                count: self.synthetic.unwrap_or(2000),
                seed: synthetic_seed,
            }),
        }
    }
}
