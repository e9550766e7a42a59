//! The network's ops under autodiff: one graph node per op whose backward
//! pass asks the inner backend for the gradients (the Flex kernels, or
//! burn's own functions elsewhere).
use super::conv_kernel::ConvGeometry;
use super::extension::NetOps;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::NodeId;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, AutodiffBackend};

/// The backward step of [`NetOps::smn_conv2d`].
#[derive(Debug)]
struct ConvBackward;

impl<B: NetOps> Backward<B, 3> for ConvBackward {
    /// Checkpoints of `x`, `weight` and `bias`, and the geometry.
    type State = (NodeId, NodeId, NodeId, ConvGeometry);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, weight_state, bias_state, geometry) = ops.state;
        let x: FloatTensor<B> = checkpointer.retrieve_node_output(x_state);
        let weight: FloatTensor<B> = checkpointer.retrieve_node_output(weight_state);
        let bias: FloatTensor<B> = checkpointer.retrieve_node_output(bias_state);
        if let Some(node) = node_x {
            let dx = B::smn_conv2d_input_grad(x.clone(), weight.clone(), grad.clone(), geometry);
            grads.register::<B>(node.id, dx);
        }
        if let Some(node) = node_weight {
            let dw = B::smn_conv2d_weight_grad(x.clone(), weight, grad.clone(), geometry);
            grads.register::<B>(node.id, dw);
        }
        if let Some(node) = node_bias {
            grads.register::<B>(node.id, B::smn_conv2d_bias_grad(x, bias, grad));
        }
    }
}

/// The backward step of [`NetOps::smn_batch_norm_train`].
#[derive(Debug)]
struct BatchNormBackward;

impl<B: NetOps> Backward<B, 3> for BatchNormBackward {
    /// Checkpoints of `x` and `gamma`, `x`'s moments (a constant) and ε.
    type State = (NodeId, NodeId, FloatTensor<B>, f64);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, gamma_state, moments, epsilon) = ops.state;
        let x: FloatTensor<B> = checkpointer.retrieve_node_output(x_state);
        let gamma: FloatTensor<B> = checkpointer.retrieve_node_output(gamma_state);
        if let Some(node) = node_x {
            let (x, m, gamma, grad) = (x.clone(), moments.clone(), gamma.clone(), grad.clone());
            let dx = B::smn_batch_norm_input_grad(x, m, gamma, grad, epsilon);
            grads.register::<B>(node.id, dx);
        }
        if let Some(node) = node_gamma {
            let (x, m, gamma, grad) = (x.clone(), moments, gamma.clone(), grad.clone());
            let dgamma = B::smn_batch_norm_gamma_grad(x, m, gamma, grad, epsilon);
            grads.register::<B>(node.id, dgamma);
        }
        if let Some(node) = node_beta {
            grads.register::<B>(node.id, B::smn_batch_norm_beta_grad(x, gamma, grad, epsilon));
        }
    }
}

/// The backward step of [`NetOps::smn_relu_max_pool2x2`].
#[derive(Debug)]
struct PoolBackward;

impl<B: NetOps> Backward<B, 1> for PoolBackward {
    /// The checkpoint of `x`.
    type State = NodeId;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let x: FloatTensor<B> = checkpointer.retrieve_node_output(ops.state);
        if let Some(node) = node_x {
            grads.register::<B>(node.id, B::smn_relu_max_pool2x2_grad(x, grad));
        }
    }
}

impl<B: NetOps, C: CheckpointStrategy> NetOps for Autodiff<B, C> {
    fn smn_batch_norm_train(
        x: FloatTensor<Self>,
        moments: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        let moments = Self::inner(moments);
        let nodes = [x.node(), gamma.node(), beta.node()];
        match BatchNormBackward.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let gamma_state = prep.checkpoint(&gamma);
                let (x, m) = (Self::inner(x), moments.clone());
                let y = B::smn_batch_norm_train(x, m, Self::inner(gamma), Self::inner(beta), epsilon);
                prep.finish((x_state, gamma_state, moments, epsilon), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::smn_batch_norm_train(
                Self::inner(x),
                moments,
                Self::inner(gamma),
                Self::inner(beta),
                epsilon,
            )),
        }
    }

    fn smn_channel_moments(x: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::from_inner(B::smn_channel_moments(Self::inner(x)))
    }

    fn smn_relu_max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        match PoolBackward.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                prep.finish(x_state, B::smn_relu_max_pool2x2(Self::inner(x)))
            }
            OpsKind::UnTracked(prep) => prep.finish(B::smn_relu_max_pool2x2(Self::inner(x))),
        }
    }

    fn smn_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        geometry: ConvGeometry,
    ) -> FloatTensor<Self> {
        let nodes = [x.node(), weight.node(), bias.node()];
        match ConvBackward.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let weight_state = prep.checkpoint(&weight);
                let bias_state = prep.checkpoint(&bias);
                let y = B::smn_conv2d(Self::inner(x), Self::inner(weight), Self::inner(bias), geometry);
                prep.finish((x_state, weight_state, bias_state, geometry), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::smn_conv2d(
                Self::inner(x),
                Self::inner(weight),
                Self::inner(bias),
                geometry,
            )),
        }
    }
}
