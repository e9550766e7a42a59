//! The network's ops on burn-flex: [`conv_kernel`], [`pool_kernel`] and
//! [`batch_norm_kernel`] on the tensors' `f32` values. A call the kernels do not cover (another
//! dtype, shapes that do not fit) runs burn's own op instead.
use super::batch_norm_kernel;
use super::conv_kernel::{self, ConvGeometry, ConvShape};
use super::extension::{
    batch_norm_grads_by_burn, channel_moments_by_burn, conv_options, relu_max_pool2x2_by_burn,
    relu_max_pool2x2_grad_by_burn, NetOps,
};
use super::pool_kernel;
use burn::backend::ops::ModuleOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Flex, TensorMetadata};
use burn::tensor::{DType, Shape, TensorData};

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

/// The `f32` views of a convolution call: `x`, `weight` and a third
/// tensor (the bias or the output gradient).
type ConvViews = (ConvShape, FloatTensor<Flex>, FloatTensor<Flex>, FloatTensor<Flex>);

/// The shape of a convolution call and the `f32` views of `x`, `weight` and
/// `other`, or `None` where the kernel does not apply (then burn's own op
/// runs).
fn conv_call(
    x: &FloatTensor<Flex>,
    weight: &FloatTensor<Flex>,
    other: &FloatTensor<Flex>,
    g: ConvGeometry,
) -> Option<ConvViews> {
    let shape = ConvShape::new(dims4(x)?, dims4(weight)?, g.stride, g.padding)?;
    (shape.geometry == g).then_some(())?;
    Some((shape, flex_values(x)?, flex_values(weight)?, flex_values(other)?))
}

/// A batch norm's `f32` views.
type BatchNormViews = ([usize; 4], FloatTensor<Flex>, FloatTensor<Flex>, FloatTensor<Flex>);

/// `x`'s dims and the `f32` views of `x`, its moments and `gamma` for a
/// batch norm, or `None` where the kernel does not apply.
fn batch_norm_call(
    x: &FloatTensor<Flex>,
    moments: &FloatTensor<Flex>,
    gamma: &FloatTensor<Flex>,
) -> Option<BatchNormViews> {
    let dims = dims4(x)?;
    (bias_fits(gamma, dims) && moments.shape().num_elements() == 2 * dims[1]).then_some(())?;
    Some((dims, flex_values(x)?, flex_values(moments)?, flex_values(gamma)?))
}

/// `other`'s `f32` view when it has `x`'s shape.
fn same_dims(x: &FloatTensor<Flex>, other: &FloatTensor<Flex>) -> Option<FloatTensor<Flex>> {
    (dims4(other)? == dims4(x)?).then_some(())?;
    flex_values(other)
}

/// The `f32` views of a batch-norm gradient call.
struct GradViews {
    dims: [usize; 4],
    x: FloatTensor<Flex>,
    moments: FloatTensor<Flex>,
    gamma: FloatTensor<Flex>,
    dy: FloatTensor<Flex>,
}

/// [`batch_norm_call`] plus an output gradient of `x`'s shape.
fn grad_views(
    x: &FloatTensor<Flex>,
    moments: &FloatTensor<Flex>,
    gamma: &FloatTensor<Flex>,
    output_grad: &FloatTensor<Flex>,
) -> Option<GradViews> {
    let (dims, x, moments, gamma) = batch_norm_call(x, moments, gamma)?;
    let dy = same_dims(&x, output_grad)?;
    Some(GradViews {
        dims,
        x,
        moments,
        gamma,
        dy,
    })
}

/// Whether `[C]`-shaped `t` fits `x`'s `dims`.
fn bias_fits(t: &FloatTensor<Flex>, dims: [usize; 4]) -> bool {
    t.shape().num_elements() == dims[1]
}

fn slice(t: &FloatTensor<Flex>) -> &[f32] {
    t.as_slice::<f32>().unwrap_or(&[])
}

impl NetOps for Flex {
    fn smn_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        geometry: ConvGeometry,
    ) -> FloatTensor<Self> {
        match conv_call(&x, &weight, &bias, geometry) {
            Some((s, xv, wv, bv)) if bv.shape().num_elements() == s.out_channels => {
                let y = conv_kernel::forward(&s, slice(&xv), slice(&wv), slice(&bv));
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
        match conv_call(&x, &weight, &output_grad, geometry) {
            Some((s, _, wv, dy)) if dims4(&output_grad) == Some(s.out_dims()) => {
                let dx = conv_kernel::input_grad(&s, slice(&wv), slice(&dy));
                flex_tensor(dx, &[s.batch, s.in_channels, s.height, s.width])
            }
            _ => Self::conv2d_x_backward(x, weight, output_grad, conv_options(geometry)),
        }
    }

    fn smn_conv2d_weight_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        geometry: ConvGeometry,
    ) -> FloatTensor<Self> {
        match conv_call(&x, &weight, &output_grad, geometry) {
            Some((s, xv, _, dy)) if dims4(&output_grad) == Some(s.out_dims()) => {
                let dw = conv_kernel::weight_grad(&s, slice(&xv), slice(&dy));
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
                flex_tensor(conv_kernel::bias_grad(dims, slice(&dy)), bias.shape().as_slice())
            }
            _ => Self::conv2d_bias_backward(x, bias, output_grad),
        }
    }

    fn smn_relu_max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        match (dims4(&x), flex_values(&x)) {
            (Some(dims), Some(xv)) => flex_tensor(pool_kernel::forward(dims, slice(&xv)), &pool_kernel::out_dims(dims)),
            _ => relu_max_pool2x2_by_burn::<Self>(x),
        }
    }

    fn smn_relu_max_pool2x2_grad(x: FloatTensor<Self>, output_grad: FloatTensor<Self>) -> FloatTensor<Self> {
        let grad = flex_values(&output_grad);
        match (dims4(&x), flex_values(&x), grad) {
            (Some(dims), Some(xv), Some(dy)) if dims4(&output_grad) == Some(pool_kernel::out_dims(dims)) => {
                flex_tensor(pool_kernel::input_grad(dims, slice(&xv), slice(&dy)), &dims)
            }
            _ => relu_max_pool2x2_grad_by_burn::<Self>(x, output_grad),
        }
    }

    fn smn_batch_norm_train(
        x: FloatTensor<Self>,
        moments: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        match (batch_norm_call(&x, &moments, &gamma), flex_values(&beta)) {
            (Some((dims, xv, mv, gv)), Some(bv)) if bias_fits(&bv, dims) => {
                let (xs, ms, gs, bs) = (slice(&xv), slice(&mv), slice(&gv), slice(&bv));
                flex_tensor(batch_norm_kernel::forward(dims, xs, ms, gs, bs, epsilon), &dims)
            }
            _ => Self::batch_norm_train(x, gamma, beta, epsilon).output,
        }
    }

    fn smn_batch_norm_input_grad(
        x: FloatTensor<Self>,
        moments: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        match grad_views(&x, &moments, &gamma, &output_grad) {
            Some(v) => {
                let (xs, ms, gs, dys) = (slice(&v.x), slice(&v.moments), slice(&v.gamma), slice(&v.dy));
                flex_tensor(batch_norm_kernel::input_grad(v.dims, xs, ms, gs, dys, epsilon), &v.dims)
            }
            None => batch_norm_grads_by_burn::<Self>(x, gamma, output_grad, epsilon).x_grad,
        }
    }

    fn smn_batch_norm_gamma_grad(
        x: FloatTensor<Self>,
        moments: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        match grad_views(&x, &moments, &gamma, &output_grad) {
            Some(v) => {
                let (xs, ms, dys) = (slice(&v.x), slice(&v.moments), slice(&v.dy));
                let (dgamma, _) = batch_norm_kernel::param_grads(v.dims, xs, ms, dys, epsilon);
                flex_tensor(dgamma, &[v.dims[1]])
            }
            None => batch_norm_grads_by_burn::<Self>(x, gamma, output_grad, epsilon).gamma_grad,
        }
    }

    fn smn_batch_norm_beta_grad(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        match (dims4(&x), same_dims(&x, &output_grad)) {
            (Some(dims), Some(dy)) if bias_fits(&gamma, dims) => {
                flex_tensor(conv_kernel::bias_grad(dims, slice(&dy)), &[dims[1]])
            }
            _ => batch_norm_grads_by_burn::<Self>(x, gamma, output_grad, epsilon).beta_grad,
        }
    }

    fn smn_channel_moments(x: FloatTensor<Self>) -> FloatTensor<Self> {
        match (dims4(&x), flex_values(&x)) {
            (Some(dims), Some(xv)) => flex_tensor(batch_norm_kernel::moments(dims, slice(&xv)), &[2, dims[1]]),
            _ => channel_moments_by_burn::<Self>(x),
        }
    }
}
