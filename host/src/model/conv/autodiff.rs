//! The convolution under autodiff: one graph node whose backward pass asks
//! the inner backend for the input, weight and bias gradients (the Flex
//! kernels, or burn's own functions elsewhere).
use super::extension::ConvExtension;
use super::kernel::ConvGeometry;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::NodeId;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, AutodiffBackend};

/// The backward step of [`ConvExtension::smn_conv2d`].
#[derive(Debug)]
struct ConvBackward;

impl<B: ConvExtension> Backward<B, 3> for ConvBackward {
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

impl<B: ConvExtension, C: CheckpointStrategy> ConvExtension for Autodiff<B, C> {
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
