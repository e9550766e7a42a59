//! The network's convolutions, faster on the default CPU backend.
//!
//! burn-flex runs a 2-D convolution as a 3-D one and its backward pass
//! through burn's generic `conv_transpose` and layout copies; on the
//! training step of the `micro` net that data movement outweighed the
//! arithmetic (docs/benchmarks.md, "Training speed"). [`conv2d`] routes the
//! net's convolutions through [`ConvExtension`], a burn backend extension:
//! on Flex, im2col + one matrix product per image in NCHW for the forward
//! pass and both gradients ([`kernel`]); on other backends, burn's own
//! convolution. Same maths, so the same training up to float rounding.
pub mod autodiff;
pub mod extension;
pub mod kernel;
pub mod matmul;

pub use extension::ConvExtension;
pub use kernel::ConvGeometry;

use burn::backend::Dispatch;
use burn::nn::conv::Conv2d;
use burn::nn::PaddingConfig2d;
use burn::prelude::*;

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

/// `conv.forward(x)`, through [`ConvExtension`] where [`geometry`] covers
/// the layer and the input's channels match; otherwise burn's `Conv2d`.
pub fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let [_, channels, height, width] = x.dims();
    let [_, weight_in, k, _] = conv.weight.dims();
    let bias = conv.bias.as_ref();
    match (geometry(conv), bias) {
        (Some(g), Some(bias)) if weight_in == channels && height + 2 * g.padding >= k && width + 2 * g.padding >= k => {
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
