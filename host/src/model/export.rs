//! `smn export`: a trained run → the documented float model file
//! (`docs/float-model.md`, safetensors) that `smn quantize` reads.
//!
//! Layouts are PyTorch's: conv weights OIHW, linear weights `[out, in]`
//! (burn stores `[in, out]`, so they are transposed here), batch norm as
//! `weight`/`bias`/`running_mean`/`running_var`. A head's fixed output map
//! (target standardisation) is folded into its `fc2`.
use crate::model::backend::BackendKind;
use crate::model::net::{Branch, ConvBlock, Head};
use crate::model::store::{load_model, ModelInfo};
use crate::model::SmnNet;
use anyhow::{bail, Result};
use burn::nn::conv::Conv2d;
use burn::nn::Linear;
use burn::prelude::*;
use smn_quantize::float_model::{FloatModel, FloatTensor};
use std::collections::BTreeMap;
use std::path::Path;

fn tensor<const D: usize>(t: Tensor<D>) -> Result<FloatTensor> {
    let shape = t.dims().to_vec();
    let data = t
        .into_data()
        .try_into_vec::<f32>()
        .map_err(|e| anyhow::anyhow!("reading a parameter: {e:?}"))?;
    Ok(FloatTensor { shape, data })
}

struct Writer {
    tensors: BTreeMap<String, FloatTensor>,
    epsilon: Option<f64>,
}

impl Writer {
    fn put<const D: usize>(&mut self, name: String, t: Tensor<D>) -> Result<()> {
        self.tensors.insert(name, tensor(t)?);
        Ok(())
    }

    fn conv(&mut self, prefix: &str, conv: &Conv2d) -> Result<()> {
        self.put(format!("{prefix}.weight"), conv.weight.val())?;
        match &conv.bias {
            Some(b) => self.put(format!("{prefix}.bias"), b.val()),
            None => bail!("{prefix}: convolutions must have a bias"),
        }
    }

    fn block(&mut self, prefix: &str, block: &ConvBlock) -> Result<()> {
        self.conv(&format!("{prefix}.conv"), &block.conv)?;
        if let Some(bn) = &block.bn {
            self.put(format!("{prefix}.bn.weight"), bn.gamma.val())?;
            self.put(format!("{prefix}.bn.bias"), bn.beta.val())?;
            self.put(format!("{prefix}.bn.running_mean"), bn.running_mean.value())?;
            self.put(format!("{prefix}.bn.running_var"), bn.running_var.value())?;
            match self.epsilon {
                Some(e) if e != bn.epsilon => bail!("{prefix}: batch-norm epsilons differ ({e} vs {})", bn.epsilon),
                _ => self.epsilon = Some(bn.epsilon),
            }
        }
        Ok(())
    }

    fn linear(&mut self, prefix: &str, fc: &Linear) -> Result<()> {
        // burn: [in, out]; the file: [out, in].
        self.put(format!("{prefix}.weight"), fc.weight.val().transpose())?;
        match &fc.bias {
            Some(b) => self.put(format!("{prefix}.bias"), b.val()),
            None => bail!("{prefix}: linear layers must have a bias"),
        }
    }

    /// The head with its fixed output map folded into `fc2`:
    /// `W'[o, i] = scale[o]·W[o, i]`, `b'[o] = scale[o]·b[o] + offset[o]`.
    fn head(&mut self, prefix: &str, head: &Head) -> Result<()> {
        self.linear(&format!("{prefix}.fc1"), &head.fc1)?;
        let scale = head.output_scale.value();
        let offset = head.output_offset.value();
        let weight = head.fc2.weight.val().transpose() * scale.clone().unsqueeze_dim::<2>(1);
        self.put(format!("{prefix}.fc2.weight"), weight)?;
        match &head.fc2.bias {
            Some(b) => self.put(format!("{prefix}.fc2.bias"), b.val() * scale + offset),
            None => bail!("{prefix}.fc2: linear layers must have a bias"),
        }
    }

    fn branch(&mut self, prefix: &str, branch: &Branch) -> Result<()> {
        for (l, block) in branch.blocks.iter().enumerate() {
            self.block(&format!("{prefix}.blocks.{l}"), block)?;
        }
        for (l, conv) in branch.fuse.iter().enumerate() {
            self.conv(&format!("{prefix}.fuse.{l}"), conv)?;
        }
        self.head(&format!("{prefix}.head"), &branch.head)
    }
}

/// The float model file contents of a trained network.
pub fn float_model(net: &SmnNet, info: &ModelInfo) -> Result<FloatModel> {
    let mut w = Writer {
        tensors: BTreeMap::new(),
        epsilon: None,
    };
    for (l, block) in net.shared.iter().enumerate() {
        w.block(&format!("shared.{l}"), block)?;
    }
    for (t, head) in net.heads.iter().enumerate() {
        w.head(&format!("heads.{t}"), head)?;
    }
    for (t, branch) in net.branches.iter().enumerate() {
        w.branch(&format!("branches.{t}"), branch)?;
    }
    let model = FloatModel {
        arch: info.arch.clone(),
        variant: info.variant,
        pixel_mean: info.pixel_mean,
        pixel_std: info.pixel_std,
        bn_epsilon: w.epsilon.unwrap_or(1e-5) as f32,
        tensors: w.tensors,
    };
    model
        .validate()
        .map_err(|e| anyhow::anyhow!("exported model does not match its own format: {e}"))?;
    Ok(model)
}

/// The float model of a trained model folder (read on the CPU backend).
pub fn export_run(run: &Path) -> Result<FloatModel> {
    let (net, info) = load_model(run, &BackendKind::Flex.device())?;
    float_model(&net, &info)
}

/// Reads `path`: a float model file, or a trained model folder to export.
pub fn read_float_model(path: &Path) -> Result<FloatModel> {
    if path.is_dir() {
        export_run(path)
    } else {
        FloatModel::read(path).map_err(|e| anyhow::anyhow!("{e}"))
    }
}
