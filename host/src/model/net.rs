//! The network in burn: stage-1 multi-task net and stage-2 Separation
//! Multi-task Network.
//!
//! Stage 2 keeps the stage-1 shared layers **frozen** (`Module::freeze`: no
//! gradients, batch norm uses and keeps its running statistics) and adds one
//! branch per task (landmarks, attributes). Branch level 1 sees the image;
//! branch level `l ≥ 2` sees `concat(own l−1, shared l−1)` (own channels
//! first); each head sees `concat(own L, shared L)`. With a 1×1 ("channel-wise")
//! conv the concat goes back to the stage-1 width, so branch layers have the
//! stage-1 shapes.
//!
//! **Fine-tuning initialisation (`smn-1x1-ft`)**: branch conv/BN layers and
//! heads are copies (new parameters) of the stage-1 layers, and every 1×1 is
//! `[½·I | ½·I]` with zero bias: since a copied branch computes exactly the
//! shared features, `½·own + ½·shared = shared`, so the stage-2 network starts
//! as an exact copy of the stage-1 network, and both halves of each 1×1
//! receive gradients.
use super::arch::{Arch, Variant, ATTRIBUTE_OUTPUTS, LANDMARK_OUTPUTS};
use super::ops::{batch_norm, conv2d, relu_max_pool};
use burn::module::{Param, RunningState};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, DropoutConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

/// `conv → BN → ReLU → 2×2 max pool`.
#[derive(Module, Debug)]
pub struct ConvBlock {
    /// The convolution (same padding).
    pub conv: Conv2d,
    /// Batch norm, if configured.
    pub bn: Option<BatchNorm>,
    /// 2×2 max pool, stride 2.
    pub pool: MaxPool2d,
}

impl ConvBlock {
    fn new(cin: usize, cout: usize, arch: &Arch, device: &Device) -> Self {
        let p = arch.kernel_size / 2;
        let conv = Conv2dConfig::new([cin, cout], [arch.kernel_size, arch.kernel_size])
            .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
            .init(device);
        let bn = arch.batch_norm.then(|| BatchNormConfig::new(cout).init(device));
        ConvBlock {
            conv,
            bn,
            pool: MaxPool2dConfig::new([2, 2]).init(),
        }
    }

    /// Forward pass.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = conv2d(&self.conv, x);
        let y = match &self.bn {
            Some(bn) => batch_norm(bn, y),
            None => y,
        };
        relu_max_pool(&self.pool, y)
    }

    /// A copy with new parameters (and its own batch-norm statistics).
    fn fresh_copy(&self) -> Self {
        let mut b = ConvBlock {
            conv: self.conv.clone(),
            bn: self.bn.clone(),
            pool: self.pool.clone(),
        };
        b.conv.weight = copy_param(&self.conv.weight);
        b.conv.bias = self.conv.bias.as_ref().map(copy_param);
        if let (Some(dst), Some(src)) = (b.bn.as_mut(), self.bn.as_ref()) {
            dst.gamma = copy_param(&src.gamma);
            dst.beta = copy_param(&src.beta);
            dst.running_mean = RunningState::new(src.running_mean.value());
            dst.running_var = RunningState::new(src.running_var.value());
        }
        b
    }
}

/// A trainable copy of a parameter's value under a new id.
fn copy_param<const D: usize>(p: &Param<Tensor<D>>) -> Param<Tensor<D>> {
    Param::from_tensor(p.val().detach())
}

/// `flatten → fc → ReLU → fc → · scale + offset`.
///
/// `output_scale` and `output_offset` are fixed (never trained, saved with
/// the weights): the landmark head predicts coordinates *standardised* by the
/// training targets' mean and standard deviation, so its trained layers work
/// in units of the target spread (see [`OutputAffine`]). Export folds them
/// into `fc2`, so the float model file and the int8 blob see a plain `fc2`.
#[derive(Module, Debug)]
pub struct Head {
    /// First layer.
    pub fc1: Linear,
    /// Output layer.
    pub fc2: Linear,
    /// Fixed per-output scale applied after `fc2`.
    pub output_scale: RunningState<Tensor<1>>,
    /// Fixed per-output offset applied after the scale.
    pub output_offset: RunningState<Tensor<1>>,
}

/// The fixed affine map after a head's `fc2`: `y = scale ⊙ fc2(h) + offset`.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputAffine {
    /// Per-output scale.
    pub scale: Vec<f32>,
    /// Per-output offset.
    pub offset: Vec<f32>,
}

impl OutputAffine {
    /// `scale = 1`, `offset = 0`.
    pub fn identity(outputs: usize) -> Self {
        OutputAffine {
            scale: vec![1.0; outputs],
            offset: vec![0.0; outputs],
        }
    }
}

fn running_vector(v: &[f32], device: &Device) -> RunningState<Tensor<1>> {
    RunningState::new(Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), device))
}

impl Head {
    fn new(features: usize, hidden: usize, outputs: usize, device: &Device) -> Self {
        let identity = OutputAffine::identity(outputs);
        Head {
            fc1: LinearConfig::new(features, hidden).init(device),
            fc2: LinearConfig::new(hidden, outputs).init(device),
            output_scale: running_vector(&identity.scale, device),
            output_offset: running_vector(&identity.offset, device),
        }
    }

    /// Forward pass on `[B, C, H, W]` features (flattened in C, H, W order).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.forward_with_dropout(x, 0.0)
    }

    /// [`Head::forward`] with dropout of probability `dropout` (in `[0, 1)`)
    /// on the flattened features; it acts on an autodiff device only, so
    /// evaluation and export see the plain head.
    pub fn forward_with_dropout(&self, x: Tensor<4>, dropout: f64) -> Tensor<2> {
        let device = x.device();
        let x: Tensor<2> = x.flatten(1, 3);
        let x = if dropout > 0.0 && dropout < 1.0 {
            DropoutConfig::new(dropout).init().forward(x)
        } else {
            x
        };
        let y = self.fc2.forward(relu(self.fc1.forward(x)));
        let scale = self.output_scale.value().to_device(&device).detach().unsqueeze::<2>();
        let offset = self.output_offset.value().to_device(&device).detach().unsqueeze::<2>();
        y * scale + offset
    }

    /// The fixed output affine map.
    pub fn output_affine(&self) -> OutputAffine {
        let read = |s: &RunningState<Tensor<1>>| s.value().into_data().try_to_vec::<f32>().unwrap_or_default();
        OutputAffine {
            scale: read(&self.output_scale),
            offset: read(&self.output_offset),
        }
    }

    /// Replaces the fixed output affine map (lengths must match the outputs).
    fn set_output_affine(&mut self, affine: &OutputAffine, device: &Device) {
        self.output_scale = running_vector(&affine.scale, device);
        self.output_offset = running_vector(&affine.offset, device);
    }

    /// Takes `from`'s fixed output map (its own copy).
    fn copy_output_map(&mut self, from: &Head) {
        self.output_scale = RunningState::new(from.output_scale.value());
        self.output_offset = RunningState::new(from.output_offset.value());
    }

    fn fresh_copy(&self) -> Self {
        let mut h = Head {
            fc1: self.fc1.clone(),
            fc2: self.fc2.clone(),
            output_scale: self.output_scale.clone(),
            output_offset: self.output_offset.clone(),
        };
        h.copy_output_map(self);
        for (dst, src) in [(&mut h.fc1, &self.fc1), (&mut h.fc2, &self.fc2)] {
            dst.weight = copy_param(&src.weight);
            dst.bias = src.bias.as_ref().map(copy_param);
        }
        h
    }
}

/// One task's stage-2 layers.
#[derive(Module, Debug)]
pub struct Branch {
    /// 1×1 convs: `fuse[l]` maps `concat(own l+1, shared l+1)` (2·C) to C
    /// before level `l + 2` or, for the last, before the head. Empty for `smn`.
    pub fuse: Vec<Conv2d>,
    /// Conv levels (level ≥ 2 takes 2·C inputs when `fuse` is empty).
    pub blocks: Vec<ConvBlock>,
    /// The task head.
    pub head: Head,
}

/// Which task a head or branch serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    /// 10 landmark coordinates.
    Landmarks,
    /// 40 attribute logits.
    Attributes,
}

impl Task {
    /// Both tasks in output order.
    pub const ALL: [Task; 2] = [Task::Landmarks, Task::Attributes];

    /// Outputs of the task's head.
    pub fn outputs(&self) -> usize {
        match self {
            Task::Landmarks => LANDMARK_OUTPUTS,
            Task::Attributes => ATTRIBUTE_OUTPUTS,
        }
    }
}

/// The whole network: stage 1 when `branches` is empty, stage 2 otherwise.
#[derive(Module, Debug)]
pub struct SmnNet {
    /// Shared conv levels (frozen in stage 2).
    pub(crate) shared: Vec<ConvBlock>,
    /// Stage-1 heads (landmarks, attributes); empty in stage 2.
    pub(crate) heads: Vec<Head>,
    /// Stage-2 branches (landmarks, attributes); empty in stage 1.
    pub(crate) branches: Vec<Branch>,
}

/// The two task outputs: `[B, 10]` landmarks (normalised coordinates) and `[B, 40]` logits.
pub struct Outputs {
    /// Landmark coordinates in `[0, 1]` of the input image (x0, y0, …).
    pub landmarks: Tensor<2>,
    /// Attribute logits.
    pub attributes: Tensor<2>,
}

fn one_by_one(cin: usize, cout: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([cin, cout], [1, 1]).init(device)
}

/// `[½·I | ½·I]` 1×1 weights, zero bias: the mean of own and shared features.
fn averaging_one_by_one(c: usize, device: &Device) -> Conv2d {
    let mut w = vec![0f32; c * 2 * c];
    for o in 0..c {
        w[o * 2 * c + o] = 0.5;
        w[o * 2 * c + c + o] = 0.5;
    }
    let mut conv = one_by_one(2 * c, c, device);
    conv.weight = Param::from_tensor(Tensor::from_data(TensorData::new(w, [c, 2 * c, 1, 1]), device));
    conv.bias = Some(Param::from_tensor(Tensor::zeros([c], device)));
    conv
}

impl SmnNet {
    /// The shared conv levels.
    pub fn shared(&self) -> &Vec<ConvBlock> {
        &self.shared
    }

    /// The stage-1 heads (landmarks, attributes); empty in stage 2.
    pub fn heads(&self) -> &Vec<Head> {
        &self.heads
    }

    /// The stage-2 branches (landmarks, attributes); empty in stage 1.
    pub fn branches(&self) -> &Vec<Branch> {
        &self.branches
    }

    /// A randomly initialised stage-1 multi-task net.
    pub fn stage1(arch: &Arch, device: &Device) -> Self {
        let mut shared = Vec::new();
        let mut cin = 3;
        for &c in &arch.channels {
            shared.push(ConvBlock::new(cin, c, arch, device));
            cin = c;
        }
        let heads = Task::ALL
            .iter()
            .map(|t| Head::new(arch.flat_features(), arch.hidden, t.outputs(), device))
            .collect();
        SmnNet {
            shared,
            heads,
            branches: Vec::new(),
        }
    }

    /// Sets the fixed output maps of the stage-1 heads (landmarks, attributes).
    ///
    /// # Errors
    /// When this is not a stage-1 net or a map's length differs from its
    /// head's outputs.
    pub fn set_output_affines(&mut self, affines: &[OutputAffine; 2], device: &Device) -> Result<(), String> {
        if self.heads.len() != Task::ALL.len() {
            return Err("output maps are set on a stage-1 net (stage 2 inherits them)".into());
        }
        for ((head, task), affine) in self.heads.iter_mut().zip(Task::ALL).zip(affines) {
            let n = task.outputs();
            if affine.scale.len() != n || affine.offset.len() != n {
                return Err(format!(
                    "{task:?} output map has {}/{} values, the head has {n} outputs",
                    affine.scale.len(),
                    affine.offset.len()
                ));
            }
            head.set_output_affine(affine, device);
        }
        Ok(())
    }

    /// The stage-2 network of `variant` built on a trained stage-1 net; the
    /// shared layers are frozen.
    pub fn stage2(stage1: SmnNet, arch: &Arch, variant: Variant, device: &Device) -> Self {
        let shared: Vec<ConvBlock> = stage1.shared.into_iter().map(|b| b.freeze()).collect();
        let branches = Task::ALL
            .iter()
            .enumerate()
            .map(|(t, task)| {
                let mut blocks = Vec::new();
                let mut fuse = Vec::new();
                let inputs = std::iter::once(3).chain(arch.channels.iter().copied());
                for (l, ((&c, c_prev), stage1_block)) in arch.channels.iter().zip(inputs).zip(&shared).enumerate() {
                    let block = match variant {
                        Variant::Smn1x1Ft => stage1_block.fresh_copy(),
                        Variant::Smn if l > 0 => ConvBlock::new(2 * c_prev, c, arch, device),
                        _ => ConvBlock::new(c_prev, c, arch, device),
                    };
                    blocks.push(block);
                    match variant {
                        Variant::Smn1x1 => fuse.push(one_by_one(2 * c, c, device)),
                        Variant::Smn1x1Ft => fuse.push(averaging_one_by_one(c, device)),
                        _ => {}
                    }
                }
                let stage1_head = stage1.heads.get(t);
                let head = match (variant, stage1_head) {
                    (Variant::Smn1x1Ft, Some(h)) => h.fresh_copy(),
                    (v, _) => {
                        let features = if v == Variant::Smn { 2 } else { 1 } * arch.flat_features();
                        let mut head = Head::new(features, arch.hidden, task.outputs(), device);
                        if let Some(h) = stage1_head {
                            // The targets' statistics stay those of stage 1.
                            head.copy_output_map(h);
                        }
                        head
                    }
                };
                Branch { fuse, blocks, head }
            })
            .collect();
        SmnNet {
            shared,
            heads: Vec::new(),
            branches,
        }
    }

    /// Every conv level's output (after pooling) for `[B, 3, H, W]` images,
    /// named `shared.{l}` and `branches.{t}.{l}` (the paper's Fig. 5).
    pub fn feature_maps(&self, x: Tensor<4>) -> Vec<(String, Tensor<4>)> {
        let mut maps = Vec::new();
        let mut shared_out = Vec::with_capacity(self.shared.len());
        let mut s = x.clone();
        for (l, block) in self.shared.iter().enumerate() {
            s = block.forward(s);
            shared_out.push(s.clone());
            maps.push((format!("shared.{l}"), s.clone()));
        }
        for (t, branch) in self.branches.iter().enumerate() {
            for (l, h) in branch.levels(x.clone(), &shared_out).0.into_iter().enumerate() {
                maps.push((format!("branches.{t}.{l}"), h));
            }
        }
        maps
    }

    /// Forward pass on `[B, 3, H, W]` normalised images.
    ///
    /// # Errors
    /// When the net lacks a task's head (stage 1) or branch (stage 2) — a
    /// net that no constructor of this type makes.
    pub fn forward(&self, x: Tensor<4>) -> Result<Outputs, String> {
        self.forward_with_dropout(x, 0.0)
    }

    /// [`SmnNet::forward`] with dropout of probability `dropout` on every
    /// head's input features while training ([`Head::forward_with_dropout`]).
    ///
    /// # Errors
    /// As [`SmnNet::forward`].
    pub fn forward_with_dropout(&self, x: Tensor<4>, dropout: f64) -> Result<Outputs, String> {
        let mut shared_out = Vec::with_capacity(self.shared.len());
        let mut s = x.clone();
        for block in &self.shared {
            s = block.forward(s);
            shared_out.push(s.clone());
        }
        let task = |t: Task| -> Result<Tensor<2>, String> {
            let i = t as usize;
            if self.branches.is_empty() {
                let head = self
                    .heads
                    .get(i)
                    .ok_or_else(|| format!("the stage-1 net has no {t:?} head"))?;
                Ok(head.forward_with_dropout(s.clone(), dropout))
            } else {
                let branch = self
                    .branches
                    .get(i)
                    .ok_or_else(|| format!("the stage-2 net has no {t:?} branch"))?;
                Ok(branch.forward(x.clone(), &shared_out, dropout))
            }
        };
        Ok(Outputs {
            landmarks: task(Task::Landmarks)?,
            attributes: task(Task::Attributes)?,
        })
    }
}

impl Branch {
    /// `concat(own, shared)` along channels, through the 1×1 if any.
    fn join(&self, level: usize, own: Tensor<4>, shared: &Tensor<4>) -> Tensor<4> {
        let cat = Tensor::cat(vec![own, shared.clone()], 1);
        match self.fuse.get(level) {
            Some(conv) => conv2d(conv, cat),
            None => cat,
        }
    }

    /// Output of every branch level, and the head's input.
    fn levels(&self, x: Tensor<4>, shared: &[Tensor<4>]) -> (Vec<Tensor<4>>, Tensor<4>) {
        let mut outs = Vec::with_capacity(self.blocks.len());
        let mut h = x;
        for (l, block) in self.blocks.iter().enumerate() {
            if l > 0 {
                h = self.join(l - 1, h, &shared[l - 1]);
            }
            h = block.forward(h);
            outs.push(h.clone());
        }
        let last = shared.len() - 1;
        let h = self.join(last, h, &shared[last]);
        (outs, h)
    }

    fn forward(&self, x: Tensor<4>, shared: &[Tensor<4>], dropout: f64) -> Tensor<2> {
        self.head.forward_with_dropout(self.levels(x, shared).1, dropout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::backend::BackendKind;
    use burn::tensor::Distribution;

    fn attributes(net: &SmnNet, x: &Tensor<4>, dropout: f64) -> Vec<f32> {
        let y = net.forward_with_dropout(x.clone(), dropout).unwrap().attributes;
        y.into_data().try_into_vec::<f32>().unwrap()
    }

    #[test]
    fn head_dropout_acts_while_training_only() {
        let arch = Arch::tiny();
        let training = BackendKind::Flex.device().autodiff();
        training.seed(2);
        let net = SmnNet::stage1(&arch, &training);
        let x = Tensor::<4>::random([4, 3, 32, 32], Distribution::Default, &training);
        let plain = attributes(&net, &x, 0.0);
        assert_eq!(
            net.forward(x.clone())
                .unwrap()
                .attributes
                .into_data()
                .try_into_vec::<f32>()
                .unwrap(),
            plain
        );
        let dropped = attributes(&net, &x, 0.5);
        assert_eq!(dropped.len(), plain.len());
        assert!(dropped.iter().zip(&plain).filter(|(a, b)| a != b).count() > plain.len() / 2);
        // Evaluation (no autodiff) sees the plain head whatever the rate.
        let inference = training.clone().without_autodiff();
        let (net, x) = (net.valid(), x.inner().to_device(&inference));
        assert_eq!(attributes(&net, &x, 0.5), attributes(&net, &x, 0.0));
        // The stage-2 branches' heads take the same dropout.
        let stage2 = SmnNet::stage2(SmnNet::stage1(&arch, &training), &arch, Variant::Smn1x1Ft, &training);
        let x = Tensor::<4>::random([4, 3, 32, 32], Distribution::Default, &training);
        assert_ne!(attributes(&stage2, &x, 0.5), attributes(&stage2, &x, 0.0));
    }
}
