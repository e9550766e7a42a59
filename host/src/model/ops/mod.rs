//! The network's convolutions, ReLU + max pools and training-mode batch
//! norms, faster on the default CPU backend.
//!
//! burn-flex runs a 2-D convolution as a 3-D one and its backward pass
//! through burn's generic `conv_transpose` and layout copies, its max-pool
//! backward scatters into a zero-filled tensor through an index tensor, and
//! burn's training-mode batch norm swaps the batch and channel axes (a copy)
//! for every reduction; on the training step of the `micro` net that data
//! movement outweighed the arithmetic (docs/benchmarks.md, "Training
//! speed"). [`conv2d`], [`relu_max_pool`] and [`batch_norm`] route the net's
//! ops through [`NetOps`], a burn backend extension: on Flex, im2col + one
//! matrix product per image in NCHW for the convolution and both its
//! gradients ([`conv_kernel`]), one pass each way for ReLU + pool
//! ([`pool_kernel`]), per-channel statistics read in place and computed once
//! per step ([`batch_norm_kernel`]); on other backends, burn's own ops. Same
//! maths, so the same training up to float rounding.
pub mod autodiff;
pub mod batch_norm_kernel;
pub mod conv_kernel;
pub mod extension;
pub mod flex;
pub mod lanes;
pub mod matmul;
pub mod pool_kernel;

pub use conv_kernel::{ConvGeometry, ConvShape};
pub use extension::NetOps;

use burn::backend::Dispatch;
use burn::nn::conv::Conv2d;
use burn::nn::pool::MaxPool2d;
use burn::nn::BatchNorm;
use burn::nn::PaddingConfig2d;
use burn::prelude::*;
use burn::tensor::activation::relu;

/// The geometry of `conv` when [`conv2d`]'s kernel covers it: square
/// kernel, one stride, the same padding on every side, no groups or
/// dilation, a bias.
pub fn geometry(conv: &Conv2d) -> Option<ConvGeometry> {
    let [kh, kw] = conv.kernel_size;
    let [sh, sw] = conv.stride;
    let padding = match conv.padding {
        PaddingConfig2d::Valid => 0,
        PaddingConfig2d::Explicit(top, left, bottom, right) if top == left && left == bottom && bottom == right => top,
        _ => return None,
    };
    let plain = kh == kw && sh == sw && conv.groups == 1 && conv.dilation == [1, 1];
    (plain && conv.bias.is_some()).then_some(ConvGeometry {
        kernel: kh,
        stride: sh,
        padding,
    })
}

/// `bn.forward(x)`: in training (an autodiff device and a layer not
/// frozen), the batch's statistics through [`NetOps`] and the running
/// statistics updated as burn's `BatchNorm` does; otherwise burn's
/// `BatchNorm` (running statistics).
pub fn batch_norm(bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    let channels = bn.gamma.dims()[0];
    if !(x.device().is_autodiff() && bn.training.is_enabled()) || x.dims()[1] != channels {
        return bn.forward(x);
    }
    let device = x.device();
    let moments = Dispatch::smn_channel_moments(x.clone().detach().into_dispatch());
    let moments = Tensor::<2>::from_dispatch(moments).detach();
    let row = |i: usize| moments.clone().narrow(0, i, 1).reshape([channels]);
    let update = |state: &burn::module::RunningState<Tensor<1>>, batch: Tensor<1>| {
        let running = state.value_sync().to_device(&device);
        let running = running.mul_scalar(1.0 - bn.momentum).add(batch.mul_scalar(bn.momentum));
        state.update(running.detach());
    };
    update(&bn.running_mean, row(0));
    update(&bn.running_var, row(1));
    let y = Dispatch::smn_batch_norm_train(
        x.into_dispatch(),
        moments.into_dispatch(),
        bn.gamma.val().into_dispatch(),
        bn.beta.val().into_dispatch(),
        bn.epsilon,
    );
    Tensor::from_dispatch(y)
}

/// `pool.forward(relu(x))`, through [`NetOps`] when `pool` is the net's
/// 2×2, stride-2 unpadded pool (on Flex one pass each way, with no index
/// tensor); otherwise burn's ops.
pub fn relu_max_pool(pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    let plain = pool.kernel_size == [2, 2]
        && pool.stride == [2, 2]
        && pool.dilation == [1, 1]
        && !pool.ceil_mode
        && matches!(pool.padding, PaddingConfig2d::Valid);
    if plain {
        Tensor::from_dispatch(Dispatch::smn_relu_max_pool2x2(x.into_dispatch()))
    } else {
        pool.forward(relu(x))
    }
}

/// `conv.forward(x)`, through [`NetOps`] where [`geometry`] covers
/// the layer and the input's channels match; otherwise burn's `Conv2d`.
pub fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let fits = |g: ConvGeometry| ConvShape::new(x.dims(), conv.weight.dims(), g.stride, g.padding).is_some();
    match (geometry(conv), conv.bias.as_ref()) {
        (Some(g), Some(bias)) if fits(g) => {
            let y = Dispatch::smn_conv2d(
                x.into_dispatch(),
                conv.weight.val().into_dispatch(),
                bias.val().into_dispatch(),
                g,
            );
            Tensor::from_dispatch(y)
        }
        _ => conv.forward(x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::backend::BackendKind;
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::Distribution;

    fn close(a: &Tensor<4>, b: &Tensor<4>) -> f32 {
        (a.clone() - b.clone()).abs().max().into_scalar::<f32>()
    }

    /// [`conv2d`] and burn's `Conv2d::forward` agree on the output and on
    /// the gradients of input, weight and bias, on every backend the net
    /// trains on (wgpu is covered by the wgpu training test).
    #[test]
    fn conv2d_matches_burn_forward_and_gradients() {
        for backend in [BackendKind::Flex, BackendKind::Ndarray] {
            let device = backend.device().autodiff();
            device.seed(3);
            for (cin, cout, k, stride, padding, size) in [
                (3, 8, 3, 1, 1, 12),
                (6, 4, 1, 1, 0, 7),
                (4, 5, 3, 2, 1, 9),
                (2, 3, 5, 1, 2, 6),
                (32, 64, 3, 1, 1, 16),
                (64, 128, 3, 1, 1, 8),
            ] {
                let conv = Conv2dConfig::new([cin, cout], [k, k])
                    .with_stride([stride, stride])
                    .with_padding(PaddingConfig2d::Explicit(padding, padding, padding, padding))
                    .init(&device);
                assert!(geometry(&conv).is_some());
                let x = Tensor::<4>::random([3, cin, size, size], Distribution::Default, &device).require_grad();
                let ours = conv2d(&conv, x.clone());
                let burns = conv.forward(x.clone());
                assert!(close(&ours, &burns) < 1e-5, "{backend:?} forward");
                let probe = Tensor::<4>::random(ours.dims(), Distribution::Default, &device);
                let g_ours = (ours * probe.clone()).sum().backward();
                let g_burn = (burns * probe).sum().backward();
                let dx = |g| x.grad(g).expect("x gradient");
                assert!(close(&dx(&g_ours), &dx(&g_burn)) < 1e-4, "{backend:?} dx");
                let dw = |g| conv.weight.grad(g).expect("weight gradient");
                assert!(close(&dw(&g_ours), &dw(&g_burn)) < 1e-3, "{backend:?} dw");
                let bias = conv.bias.as_ref().expect("bias");
                let db = |g| bias.grad(g).expect("bias gradient").unsqueeze::<4>();
                assert!(close(&db(&g_ours), &db(&g_burn)) < 1e-3, "{backend:?} db");
            }
        }
    }

    /// [`relu_max_pool`] and burn's `pool.forward(relu(x))` agree on the
    /// output and the input gradient, ties and odd sizes included.
    #[test]
    fn relu_max_pool_matches_burn_forward_and_gradient() {
        use burn::nn::pool::MaxPool2dConfig;
        let pool = MaxPool2dConfig::new([2, 2]).init();
        for backend in [BackendKind::Flex, BackendKind::Ndarray] {
            let device = backend.device().autodiff();
            device.seed(5);
            for dims in [[2, 3, 8, 8], [1, 2, 7, 5]] {
                // Rounded values: ties inside windows and all-negative windows.
                let x = (Tensor::<4>::random(dims, Distribution::Uniform(-3.0, 3.0), &device))
                    .round()
                    .require_grad();
                let ours = relu_max_pool(&pool, x.clone());
                let burns = pool.forward(relu(x.clone()));
                assert!(close(&ours, &burns) == 0.0, "{backend:?} forward");
                let probe = Tensor::<4>::random(ours.dims(), Distribution::Default, &device);
                let g_ours = (ours * probe.clone()).sum().backward();
                let g_burn = (burns * probe).sum().backward();
                let dx = |g| x.grad(g).expect("x gradient");
                assert!(close(&dx(&g_ours), &dx(&g_burn)) == 0.0, "{backend:?} dx");
            }
        }
    }

    /// [`batch_norm`] and burn's `BatchNorm::forward` agree in training on
    /// the output, the gradients of input, γ and β, and the running
    /// statistics they leave; frozen or off the autodiff device both use the
    /// running statistics.
    #[test]
    fn batch_norm_matches_burn_forward_gradients_and_running_statistics() {
        use burn::nn::BatchNormConfig;
        for (backend, dims) in [
            (BackendKind::Flex, [3, 4, 5, 6]),
            (BackendKind::Ndarray, [3, 4, 5, 6]),
            (BackendKind::Flex, [4, 128, 8, 8]),
        ] {
            let device = backend.device().autodiff();
            device.seed(9);
            let ours_bn = BatchNormConfig::new(dims[1]).init(&device);
            let burn_bn = BatchNormConfig::new(dims[1]).init(&device);
            for _ in 0..2 {
                let x = Tensor::<4>::random(dims, Distribution::Normal(0.5, 2.0), &device).require_grad();
                let ours = batch_norm(&ours_bn, x.clone());
                let burns = burn_bn.forward(x.clone());
                assert!(close(&ours, &burns) < 1e-4, "{backend:?} forward");
                let probe = Tensor::<4>::random(ours.dims(), Distribution::Default, &device);
                let g_ours = (ours * probe.clone()).sum().backward();
                let g_burn = (burns * probe).sum().backward();
                let dx = |g| x.grad(g).expect("x gradient");
                assert!(close(&dx(&g_ours), &dx(&g_burn)) < 1e-4, "{backend:?} dx");
                for (a, b) in [(&ours_bn.gamma, &burn_bn.gamma), (&ours_bn.beta, &burn_bn.beta)] {
                    let (ga, gb) = (a.grad(&g_ours).expect("grad"), b.grad(&g_burn).expect("grad"));
                    assert!(close(&ga.unsqueeze(), &gb.unsqueeze()) < 1e-3, "{backend:?} dγ/dβ");
                }
            }
            for (a, b) in [
                (ours_bn.running_mean.value(), burn_bn.running_mean.value()),
                (ours_bn.running_var.value(), burn_bn.running_var.value()),
            ] {
                assert!(close(&a.unsqueeze(), &b.unsqueeze()) < 1e-5, "{backend:?} running");
            }
            let x = Tensor::<4>::random([2, dims[1], 3, 3], Distribution::Default, &device);
            let frozen = ours_bn.clone().freeze();
            assert!(close(&batch_norm(&frozen, x.clone()), &burn_bn.clone().freeze().forward(x)) < 1e-5);
        }
    }

    #[test]
    fn inference_without_autodiff_matches_burn() {
        let device = BackendKind::Flex.device();
        let conv = Conv2dConfig::new([3, 4], [3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .init(&device);
        let x = Tensor::<4>::random([2, 3, 8, 8], Distribution::Default, &device);
        assert!(close(&conv2d(&conv, x.clone()), &conv.forward(x)) < 1e-5);
    }

    #[test]
    fn layers_the_kernel_does_not_cover_use_burn() {
        let device = BackendKind::Flex.device();
        let grouped = Conv2dConfig::new([4, 4], [3, 3]).with_groups(2).init(&device);
        assert_eq!(geometry(&grouped), None);
        let no_bias = Conv2dConfig::new([4, 4], [3, 3]).with_bias(false).init(&device);
        assert_eq!(geometry(&no_bias), None);
        let x = Tensor::<4>::random([1, 4, 6, 6], Distribution::Default, &device);
        assert!(close(&conv2d(&grouped, x.clone()), &grouped.forward(x)) < 1e-6);
    }
}
