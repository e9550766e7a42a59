//! The network's ops as a burn backend extension: one trait, routed by
//! burn's `Dispatch` to the backend a tensor lives on.
//!
//! - **Flex** (the default CPU backend) runs this module's kernels
//!   ([`super::flex`]).
//! - **NdArray** and **Cube** (wgpu) use the trait's default bodies, i.e.
//!   burn's own ops and their backward functions.
//! - **Autodiff** records one graph node per op whose backward pass calls
//!   the inner backend's gradient methods ([`super::autodiff`]).
#![allow(deprecated)] // NdArray: deprecated upstream, still supported here.
use super::conv_kernel::ConvGeometry;
use burn::backend::ops::{BatchNormTrainBackward, MaxPool2dWithIndices};
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, get_or_init_device_settings, Backend, Cube, NdArray, TensorMetadata};
use burn::tensor::ops::ConvOptions;
use burn::tensor::Shape;

/// burn's options for a [`ConvGeometry`].
pub fn conv_options(g: ConvGeometry) -> ConvOptions<2> {
    ConvOptions::new([g.stride; 2], [g.padding; 2], [1, 1], 1)
}

/// The network's ops and their gradients, per backend: a 2-D convolution
/// with a bias (square kernel, symmetric padding, no groups or dilation),
/// ReLU + 2×2 max pool, and batch normalisation in training mode.
#[backend_extension(Flex, NdArray, Cube, Autodiff)]
pub trait NetOps: Backend {
    /// `conv2d(x, weight) + bias`: `[N, C, H, W]`, `[O, C, k, k]`, `[O]`.
    fn smn_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        geometry: ConvGeometry,
    ) -> FloatTensor<Self> {
        Self::conv2d(x, weight, Some(bias), conv_options(geometry))
    }

    /// The gradient of `x` given the output gradient.
    fn smn_conv2d_input_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        geometry: ConvGeometry,
    ) -> FloatTensor<Self> {
        Self::conv2d_x_backward(x, weight, output_grad, conv_options(geometry))
    }

    /// The gradient of `weight` given the output gradient.
    fn smn_conv2d_weight_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        geometry: ConvGeometry,
    ) -> FloatTensor<Self> {
        Self::conv2d_weight_backward(x, weight, output_grad, conv_options(geometry))
    }

    /// The gradient of `bias` given the output gradient.
    fn smn_conv2d_bias_grad(
        x: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        Self::conv2d_bias_backward(x, bias, output_grad)
    }

    /// `max_pool2d(relu(x))` with a 2×2 window and stride 2: `[N, C, H, W]`
    /// → `[N, C, H/2, W/2]`.
    fn smn_relu_max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        relu_max_pool2x2_by_burn::<Self>(x)
    }

    /// The gradient of `x` given the output gradient of
    /// [`smn_relu_max_pool2x2`](Self::smn_relu_max_pool2x2).
    fn smn_relu_max_pool2x2_grad(x: FloatTensor<Self>, output_grad: FloatTensor<Self>) -> FloatTensor<Self> {
        relu_max_pool2x2_grad_by_burn::<Self>(x, output_grad)
    }

    /// Batch normalisation with the batch's statistics (training mode):
    /// `x` `[N, C, H, W]`, its [`smn_channel_moments`](Self::smn_channel_moments)
    /// `[2, C]` (a constant: the statistics' own gradient is part of
    /// [`smn_batch_norm_input_grad`](Self::smn_batch_norm_input_grad)),
    /// `gamma` and `beta` `[C]`.
    fn smn_batch_norm_train(
        x: FloatTensor<Self>,
        moments: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        let _ = moments;
        Self::batch_norm_train(x, gamma, beta, epsilon).output
    }

    /// The gradient of `x` given the output gradient of
    /// [`smn_batch_norm_train`](Self::smn_batch_norm_train).
    fn smn_batch_norm_input_grad(
        x: FloatTensor<Self>,
        moments: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        let _ = moments;
        batch_norm_grads_by_burn::<Self>(x, gamma, output_grad, epsilon).x_grad
    }

    /// The gradient of `gamma`.
    fn smn_batch_norm_gamma_grad(
        x: FloatTensor<Self>,
        moments: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        let _ = moments;
        batch_norm_grads_by_burn::<Self>(x, gamma, output_grad, epsilon).gamma_grad
    }

    /// The gradient of `beta`.
    fn smn_batch_norm_beta_grad(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        batch_norm_grads_by_burn::<Self>(x, gamma, output_grad, epsilon).beta_grad
    }

    /// The batch statistics of `x` (`[N, C, H, W]`) as `[2, C]`: the means,
    /// then the biased variances. Not differentiated.
    fn smn_channel_moments(x: FloatTensor<Self>) -> FloatTensor<Self> {
        channel_moments_by_burn::<Self>(x)
    }
}

/// `[2, C]`: the means and biased variances of `x`'s channels, with burn's
/// own ops.
pub fn channel_moments_by_burn<B: Backend>(x: FloatTensor<B>) -> FloatTensor<B> {
    let channels = x.shape()[1];
    let ones = B::float_ones(Shape::new([channels]), &x.device(), x.dtype().into());
    let stats = B::batch_norm_train(x, ones.clone(), ones, 0.0);
    let row = |t| B::float_reshape(t, Shape::new([1, channels]));
    B::float_cat(vec![row(stats.mean), row(stats.variance)], 0)
}

/// The three gradients of burn's `batch_norm_train`, with its own ops.
pub fn batch_norm_grads_by_burn<B: Backend>(
    x: FloatTensor<B>,
    gamma: FloatTensor<B>,
    output_grad: FloatTensor<B>,
    epsilon: f64,
) -> BatchNormTrainBackward<B> {
    // β does not change the statistics: γ stands in for it.
    let stats = B::batch_norm_train(x.clone(), gamma.clone(), gamma.clone(), epsilon);
    B::batch_norm_train_backward(x, gamma, stats.mean, stats.variance, epsilon, output_grad)
}

/// `max_pool2d(relu(x))` (2×2, stride 2) with burn's own ops.
pub fn relu_max_pool2x2_by_burn<B: Backend>(x: FloatTensor<B>) -> FloatTensor<B> {
    B::relu(B::max_pool2d(x, [2, 2], [2, 2], [0, 0], [1, 1], false))
}

/// The gradient of [`relu_max_pool2x2_by_burn`] with burn's own ops.
pub fn relu_max_pool2x2_grad_by_burn<B: Backend>(x: FloatTensor<B>, output_grad: FloatTensor<B>) -> FloatTensor<B> {
    let int_dtype = get_or_init_device_settings::<B>(&x.device()).int_dtype;
    let pool = |x| B::max_pool2d_with_indices(x, [2, 2], [2, 2], [0, 0], [1, 1], false, int_dtype);
    let MaxPool2dWithIndices { output, indices } = pool(x.clone());
    let grad = B::relu_backward(B::relu(output), output_grad);
    B::max_pool2d_with_indices_backward(x, [2, 2], [2, 2], [0, 0], [1, 1], false, grad, indices).x_grad
}

impl NetOps for NdArray {}
impl NetOps for Cube {}
