//! The convolution as a burn backend extension: one trait, routed by
//! burn's `Dispatch` to the backend a tensor lives on.
//!
//! - **Flex** (the default CPU backend) runs [`kernel`](super::kernel):
//!   im2col + one matrix product per image for the forward pass and for
//!   both gradients, directly in NCHW.
//! - **NdArray** and **Cube** (wgpu) use the trait's default bodies, i.e.
//!   burn's own `conv2d` and its backward functions.
//! - **Autodiff** records one graph node whose backward pass calls the
//!   inner backend's three gradient methods ([`super::autodiff`]).
#![allow(deprecated)] // NdArray: deprecated upstream, still supported here.
use super::kernel::{self, ConvGeometry, ConvShape};
use burn::backend::ops::ModuleOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Backend, Cube, Flex, NdArray, TensorMetadata};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Shape, TensorData};

/// burn's options for a [`ConvGeometry`].
pub fn conv_options(g: ConvGeometry) -> ConvOptions<2> {
    ConvOptions::new([g.stride; 2], [g.padding; 2], [1, 1], 1)
}

/// A 2-D convolution with a bias (square kernel, symmetric padding, no
/// groups or dilation) and its gradients, per backend.
#[backend_extension(Flex, NdArray, Cube, Autodiff)]
pub trait ConvExtension: Backend {
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
}

impl ConvExtension for NdArray {}
impl ConvExtension for Cube {}

/// A Flex tensor's `f32` values (copied only when it is not contiguous),
/// or `None` for another dtype.
fn flex_values(t: &FloatTensor<Flex>) -> Option<FloatTensor<Flex>> {
    if t.dtype() != DType::F32 {
        return None;
    }
    Some(if t.is_contiguous() {
        t.clone()
    } else {
        t.to_contiguous()
    })
}

fn flex_tensor(values: Vec<f32>, dims: &[usize]) -> FloatTensor<Flex> {
    FloatTensor::<Flex>::from_data(TensorData::new(values, Shape::from(dims.to_vec())))
}

fn dims4(t: &FloatTensor<Flex>) -> Option<[usize; 4]> {
    t.shape().as_slice().try_into().ok()
}

/// The shape of a Flex call and the `f32` views of `x` and `other`, or
/// `None` where the kernel does not apply (then burn's own op runs).
fn flex_call(
    x: &FloatTensor<Flex>,
    weight: &FloatTensor<Flex>,
    other: &FloatTensor<Flex>,
    g: ConvGeometry,
) -> Option<(ConvShape, FloatTensor<Flex>, FloatTensor<Flex>)> {
    let shape = ConvShape::new(dims4(x)?, dims4(weight)?, g.stride, g.padding)?;
    (shape.geometry == g).then_some(())?;
    Some((shape, flex_values(x)?, flex_values(other)?))
}

fn slice(t: &FloatTensor<Flex>) -> &[f32] {
    t.as_slice::<f32>().unwrap_or(&[])
}

impl ConvExtension for Flex {
    fn smn_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        geometry: ConvGeometry,
    ) -> FloatTensor<Self> {
        let call = flex_call(&x, &weight, &weight, geometry);
        match (call, flex_values(&bias)) {
            (Some((s, xv, wv)), Some(bv)) if bv.shape().num_elements() == s.out_channels => {
                let y = kernel::forward(&s, slice(&xv), slice(&wv), slice(&bv));
                flex_tensor(y, &s.out_dims())
            }
            _ => Self::conv2d(x, weight, Some(bias), conv_options(geometry)),
        }
    }

    fn smn_conv2d_input_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        geometry: ConvGeometry,
    ) -> FloatTensor<Self> {
        match flex_call(&x, &weight, &output_grad, geometry) {
            Some((s, _, dy)) => match (flex_values(&weight), dims4(&output_grad)) {
                (Some(wv), Some(dims)) if dims == s.out_dims() => {
                    let dx = kernel::input_grad(&s, slice(&wv), slice(&dy));
                    flex_tensor(dx, &[s.batch, s.in_channels, s.height, s.width])
                }
                _ => Self::conv2d_x_backward(x, weight, output_grad, conv_options(geometry)),
            },
            None => Self::conv2d_x_backward(x, weight, output_grad, conv_options(geometry)),
        }
    }

    fn smn_conv2d_weight_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        geometry: ConvGeometry,
    ) -> FloatTensor<Self> {
        match flex_call(&x, &weight, &output_grad, geometry) {
            Some((s, xv, dy)) if dims4(&output_grad) == Some(s.out_dims()) => {
                let dw = kernel::weight_grad(&s, slice(&xv), slice(&dy));
                flex_tensor(dw, weight.shape().as_slice())
            }
            _ => Self::conv2d_weight_backward(x, weight, output_grad, conv_options(geometry)),
        }
    }

    fn smn_conv2d_bias_grad(
        x: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        match (dims4(&output_grad), flex_values(&output_grad)) {
            (Some(dims), Some(dy)) if bias.shape().num_elements() == dims[1] => {
                flex_tensor(kernel::bias_grad(dims, slice(&dy)), bias.shape().as_slice())
            }
            _ => Self::conv2d_bias_backward(x, bias, output_grad),
        }
    }
}
