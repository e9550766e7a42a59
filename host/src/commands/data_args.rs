//! `--data DIR | --synthetic [N]` and the selection flags shared by train and eval.
use super::options::{self, IdRange};
use crate::data::celeba::{Partition, Selection};
use crate::data::dataset::DataSpec;
use clap::Args;
use std::path::{Path, PathBuf};

/// Where the images come from.
#[derive(Args, Debug, Clone, Default)]
pub struct DataArgs {
    /// CelebA folder (img_align_celeba/ + list_*.txt).
    #[arg(long, conflicts_with = "synthetic")]
    pub data: Option<PathBuf>,
    /// Use N generated faces instead of a dataset (default when --data is absent).
    #[arg(long, num_args = 0..=1, default_missing_value = "2000", value_parser = options::at_least_one)]
    pub synthetic: Option<usize>,
    /// Partitions to use: train, val, test (comma-separated).
    #[arg(long, value_delimiter = ',', value_parser = options::partition)]
    pub partition: Vec<Partition>,
    /// Image id range, e.g. 1-3000.
    #[arg(long)]
    pub ids: Option<IdRange>,
    /// Use the first fraction (0–1] of the selected images.
    #[arg(long, value_parser = options::fraction)]
    pub fraction: Option<f64>,
    /// Skip bad rows and images (reported) instead of failing.
    #[arg(long)]
    pub skip_bad: bool,
    /// Preprocessed cache file (created if missing, memory-mapped).
    #[arg(long)]
    pub cache: Option<PathBuf>,
}

/// `--data DIR --train-ids A-B --val-ids C-D`: a training and an
/// evaluation selection (`smn demo`, `smn study`).
#[derive(Args, Debug, Clone, Default)]
pub struct SplitArgs {
    /// CelebA folder (default: synthetic faces).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Training image ids with --data, e.g. 1-2800 (default: the train partition).
    #[arg(long)]
    pub train_ids: Option<IdRange>,
    /// Evaluation image ids with --data, e.g. 2801-3329 (default: the val partition).
    #[arg(long)]
    pub val_ids: Option<IdRange>,
}

impl SplitArgs {
    /// The training and evaluation specs: the CelebA selections with
    /// `--data`, else `synthetic`.
    pub fn specs(&self, synthetic: (DataSpec, DataSpec)) -> (DataSpec, DataSpec) {
        match &self.data {
            None => synthetic,
            Some(dir) => (
                celeba_spec(dir, self.train_ids.as_ref(), Partition::Train, false),
                celeba_spec(dir, self.val_ids.as_ref(), Partition::Val, false),
            ),
        }
    }
}

/// A CelebA selection of `dir`: the id range `ids` when given, else the
/// whole `partition`.
pub fn celeba_spec(dir: &Path, ids: Option<&IdRange>, partition: Partition, skip_bad: bool) -> DataSpec {
    DataSpec::Celeba {
        dir: dir.to_path_buf(),
        selection: Selection {
            partitions: if ids.is_some() { Vec::new() } else { vec![partition] },
            ids: ids.map(|r| r.0.clone()),
            fraction: None,
        },
        skip_bad,
    }
}

impl DataArgs {
    /// The data spec, with `default_partition` when neither partitions nor
    /// ids are given, and `synthetic_seed` for generated faces.
    pub fn spec(&self, default_partition: Partition, synthetic_seed: u64) -> DataSpec {
        match &self.data {
            Some(dir) => {
                let partitions = match (self.partition.is_empty(), &self.ids) {
                    (false, _) => self.partition.clone(),
                    (true, Some(_)) => Vec::new(),
                    (true, None) => vec![default_partition],
                };
                DataSpec::Celeba {
                    dir: dir.clone(),
                    selection: Selection {
                        partitions,
                        ids: self.ids.as_ref().map(|r| r.0.clone()),
                        fraction: self.fraction,
                    },
                    skip_bad: self.skip_bad,
                }
            }
            None => DataSpec::Synthetic {
                count: self.synthetic.unwrap_or(2000),
                seed: synthetic_seed,
            },
        }
    }
}
