//! The hand-written backward passes registered for autodiff, and the extension on `Autodiff<B>`.

use super::*;

/// The backward pass of [`KernelBackend::conv3x3`]: its state is the input, the weights and,
/// with a ReLU, the output (whose sign masks the output gradient).
#[derive(Debug)]
struct Conv3x3Backward;

impl<B: KernelBackend> Backward<B, 3> for Conv3x3Backward {
    type State = (FloatTensor<B>, FloatTensor<B>, Option<FloatTensor<B>>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let dy = grads.consume::<B>(&ops.node);
        let (x, weight, relu_output) = ops.state;
        let weight_shape = weight.shape();
        // With a ReLU, the gradient at the convolution's output is dy masked by the ReLU's output:
        // one explicit pass when the input gradient needs it too, else inside the weight gradient.
        let (dy, relu_output) = match (relu_output, &node_x) {
            (Some(y), Some(_)) => (B::relu_grad(y, dy), None),
            (relu_output, _) => (dy, relu_output),
        };
        if let Some(node) = node_x {
            grads.register::<B>(node.id, B::conv3x3_input_grad(dy.clone(), weight));
        }
        if node_weight.is_some() || node_bias.is_some() {
            let [c_out, c_in, _, _] = weight_shape.dims::<4>();
            let packed = match relu_output {
                Some(y) => B::conv3x3_relu_param_grad(x, dy, y),
                None => B::conv3x3_param_grad(x, dy),
            };
            if let Some(node) = node_weight {
                let dw = B::float_slice(packed.clone(), &[(0..c_out).into(), (0..c_in * 9).into()]);
                grads.register::<B>(node.id, B::float_reshape(dw, weight_shape));
            }
            if let Some(node) = node_bias {
                let db = B::float_slice(packed, &[(0..c_out).into(), (c_in * 9..c_in * 9 + 1).into()]);
                grads.register::<B>(node.id, B::float_reshape(db, Shape::new([c_out])));
            }
        }
    }
}

/// The backward pass of [`KernelBackend::matmul2d`]: ∂a = ∂y·bᵀ and ∂b = aᵀ·∂y, themselves
/// blocked products of transposed views (no copies).
#[derive(Debug)]
struct Matmul2dBackward;

impl<B: KernelBackend> Backward<B, 2> for Matmul2dBackward {
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_a, node_b] = ops.parents;
        let dy = grads.consume::<B>(&ops.node);
        let (a, b) = ops.state;
        if let Some(node) = node_a {
            grads.register::<B>(node.id, B::matmul2d(dy.clone(), B::float_transpose(b)));
        }
        if let Some(node) = node_b {
            grads.register::<B>(node.id, B::matmul2d(B::float_transpose(a), dy));
        }
    }
}

/// The backward pass of [`KernelBackend::bn_train`]: its state is the input, gamma, the
/// batch statistics, epsilon and, with a ReLU, the output (whose sign masks the gradient).
#[derive(Debug)]
struct BatchNormBackward;

impl<B: KernelBackend> Backward<B, 3> for BatchNormBackward {
    type State = (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>, f64, Option<FloatTensor<B>>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let dy = grads.consume::<B>(&ops.node);
        let (x, gamma, stats, epsilon, relu_output) = ops.state;
        let shape = x.shape();
        let (numel, c) = (shape.num_elements(), shape[1]);
        let packed = match relu_output {
            Some(y) => B::bn_relu_train_grad(x, gamma, stats, dy, y, epsilon),
            None => B::bn_train_grad(x, gamma, stats, dy, epsilon),
        };
        let part = |start: usize, len: usize| B::float_slice(packed.clone(), &[(start..start + len).into()]);
        if let Some(node) = node_x {
            grads.register::<B>(node.id, B::float_reshape(part(0, numel), shape));
        }
        if let Some(node) = node_gamma {
            grads.register::<B>(node.id, part(numel, c));
        }
        if let Some(node) = node_beta {
            grads.register::<B>(node.id, part(numel + c, c));
        }
    }
}

impl<B: Backend + KernelBackend, C: CheckpointStrategy> KernelBackend for Autodiff<B, C> {
    fn bn_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> FloatTensor<Self> {
        let prep = BatchNormBackward.prepare::<C>([x.node(), gamma.node(), beta.node()]).compute_bound().stateful();
        let stats = stats.into_primitive();
        let (x_state, gamma_state) = (x.primitive().clone(), gamma.primitive().clone());
        let y = B::bn_train(
            x.into_primitive(),
            gamma.into_primitive(),
            beta.into_primitive(),
            stats.clone(),
            epsilon,
            relu,
        );
        match prep {
            OpsKind::Tracked(prep) => {
                let state = (x_state, gamma_state, stats, epsilon, relu.then(|| y.clone()));
                prep.finish(state, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    fn bn_stats(x: FloatTensor<Self>) -> FloatTensor<Self> {
        FloatTensor::<Self>::new(B::bn_stats(x.into_primitive()))
    }

    fn bn_train_grad(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        FloatTensor::<Self>::new(B::bn_train_grad(
            x.into_primitive(),
            gamma.into_primitive(),
            stats.into_primitive(),
            dy.into_primitive(),
            epsilon,
        ))
    }

    fn bn_relu_train_grad(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        y: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        FloatTensor::<Self>::new(B::bn_relu_train_grad(
            x.into_primitive(),
            gamma.into_primitive(),
            stats.into_primitive(),
            dy.into_primitive(),
            y.into_primitive(),
            epsilon,
        ))
    }

    fn relu_grad(y: FloatTensor<Self>, dy: FloatTensor<Self>) -> FloatTensor<Self> {
        FloatTensor::<Self>::new(B::relu_grad(y.into_primitive(), dy.into_primitive()))
    }

    fn conv3x3(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self> {
        let prep = Conv3x3Backward.prepare::<C>([x.node(), weight.node(), bias.node()]).compute_bound().stateful();
        let (x_state, weight_state) = (x.primitive().clone(), weight.primitive().clone());
        let y = B::conv3x3(x.into_primitive(), weight.into_primitive(), bias.into_primitive(), relu);
        match prep {
            OpsKind::Tracked(prep) => {
                let state = (x_state, weight_state, relu.then(|| y.clone()));
                prep.finish(state, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    fn conv3x3_input_grad(dy: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
        // Gradients of gradients are not needed: the result is a constant of the graph.
        FloatTensor::<Self>::new(B::conv3x3_input_grad(dy.into_primitive(), weight.into_primitive()))
    }

    fn conv3x3_param_grad(x: FloatTensor<Self>, dy: FloatTensor<Self>) -> FloatTensor<Self> {
        FloatTensor::<Self>::new(B::conv3x3_param_grad(x.into_primitive(), dy.into_primitive()))
    }

    fn conv3x3_relu_param_grad(x: FloatTensor<Self>, dy: FloatTensor<Self>, y: FloatTensor<Self>) -> FloatTensor<Self> {
        FloatTensor::<Self>::new(B::conv3x3_relu_param_grad(
            x.into_primitive(),
            dy.into_primitive(),
            y.into_primitive(),
        ))
    }

    fn matmul2d(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        let prep = Matmul2dBackward.prepare::<C>([a.node(), b.node()]).compute_bound().stateful();
        let state = (a.primitive().clone(), b.primitive().clone());
        let y = B::matmul2d(a.into_primitive(), b.into_primitive());
        match prep {
            OpsKind::Tracked(prep) => prep.finish(state, y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    fn langevin_update(
        theta: FloatTensor<Self>,
        a: FloatTensor<Self>,
        g: FloatTensor<Self>,
        b: FloatTensor<Self>,
        zeta: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let [theta, a, g, b, zeta] = [theta, a, g, b, zeta].map(|t| t.into_primitive());
        FloatTensor::<Self>::new(B::langevin_update(theta, a, g, b, zeta))
    }
}
