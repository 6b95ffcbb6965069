//! The kernels as a Burn backend extension: Flex runs [`crate::direct`] and [`crate::batch_norm`],
//! and autodiff gets hand-written backward passes (the convolution's input gradient is the same
//! kernel with the weights rotated; its weight and bias gradients come from
//! [`crate::direct::conv3x3_weight_grad`]; BatchNorm's from [`crate::batch_norm::batch_norm_backward`]).

use crate::batch_norm::{self, Activation, Planes};
use crate::direct::{self, Geometry};
use crate::matmul::{self, Strided};
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, DispatchDevice, Flex, TensorMetadata, backend_extension};
use burn::tensor::{DType, Device, Element, Shape, Tensor, TensorData};

/// The operations of the fast path, per backend.
#[backend_extension(Flex, Autodiff)]
pub trait KernelBackend: Backend {
    /// `conv(x, weight) + bias`, and max(·, 0) of it when `relu`: x [n, c_in, h, w], weight
    /// [c_out, c_in, 3, 3], bias [c_out].
    fn conv3x3(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self>;
    /// The input gradient [n, c_in, h, w] from the output gradient `dy` [n, c_out, h, w].
    fn conv3x3_input_grad(dy: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self>;
    /// The weight gradient [c_out, c_in, 3, 3] and the bias gradient [c_out], packed as
    /// [c_out, c_in·9 + 1] (the bias in the last column).
    fn conv3x3_param_grad(x: FloatTensor<Self>, dy: FloatTensor<Self>) -> FloatTensor<Self>;
    /// [`KernelBackend::conv3x3_param_grad`] of a convolution followed by a ReLU: `dy` is the
    /// gradient at the ReLU's output `y`, masked where y ≤ 0 inside the kernel.
    fn conv3x3_relu_param_grad(x: FloatTensor<Self>, dy: FloatTensor<Self>, y: FloatTensor<Self>) -> FloatTensor<Self>;
    /// BatchNorm with the batch's statistics, and max(·, 0) of it when `relu`: x [n, c, h, w],
    /// gamma and beta [c], `stats` the [2, c] result of [`KernelBackend::bn_stats`] on x (a
    /// constant of the graph: the backward pass accounts for the statistics' dependence on x).
    fn bn_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> FloatTensor<Self>;
    /// The batch mean and biased variance of each channel of x, packed as [2, c].
    fn bn_stats(x: FloatTensor<Self>) -> FloatTensor<Self>;
    /// The gradients of [`KernelBackend::bn_train`] with respect to x, gamma and beta
    /// from the output gradient `dy`, packed flat as [n·c·h·w + 2c].
    fn bn_train_grad(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self>;
    /// [`KernelBackend::bn_train_grad`] of BatchNorm followed by a ReLU, whose output `y` masks
    /// the output gradient (it flows where y > 0).
    fn bn_relu_train_grad(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        y: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self>;
    /// The gradient through a ReLU: `dy` where the ReLU's output `y` is positive, 0 elsewhere.
    fn relu_grad(y: FloatTensor<Self>, dy: FloatTensor<Self>) -> FloatTensor<Self>;
    /// The product a·b of an [m, k] and a [k, n] matrix (either may be a strided view, such as
    /// a transpose), computed in fixed column blocks ([`crate::matmul`]).
    fn matmul2d(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self>;
    /// The Langevin update θ − a⊙g + b⊙ζ of flat [n] tensors in one pass (a constant of the
    /// graph: no gradient flows through it).
    fn langevin_update(
        theta: FloatTensor<Self>,
        a: FloatTensor<Self>,
        g: FloatTensor<Self>,
        b: FloatTensor<Self>,
        zeta: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

/// Whether `device` is Flex, with or without autodiff.
pub(crate) fn is_flex(device: &Device) -> bool {
    matches!(device.as_dispatch().clone().inner(), DispatchDevice::Flex(_))
}

/// The direct convolution on tensors, with a ReLU after it when `relu` (see [`crate::conv2d`]).
pub(crate) fn conv3x3(x: Tensor<4>, weight: Tensor<4>, bias: Option<Tensor<1>>, relu: bool) -> Tensor<4> {
    let c_out = weight.dims()[0];
    let bias = bias.unwrap_or_else(|| Tensor::zeros([c_out], &weight.device()));
    let y = <Dispatch as KernelBackend>::conv3x3(x.into_dispatch(), weight.into_dispatch(), bias.into_dispatch(), relu);
    Tensor::from_dispatch(y)
}

/// BatchNorm with batch statistics on tensors, returning the output and the [2, c] statistics
/// (mean, biased variance) of the batch (see [`crate::batch_norm`]).
pub(crate) fn batch_norm_train(
    x: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
    relu: bool,
) -> (Tensor<4>, Tensor<2>) {
    let stats: Tensor<2> =
        Tensor::from_dispatch(<Dispatch as KernelBackend>::bn_stats(x.clone().detach().into_dispatch()));
    let y = <Dispatch as KernelBackend>::bn_train(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        stats.clone().into_dispatch(),
        epsilon,
        relu,
    );
    (Tensor::from_dispatch(y), stats)
}

/// The blocked product of two matrices (see [`crate::matmul`]).
pub(crate) fn matmul2d(a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as KernelBackend>::matmul2d(a.into_dispatch(), b.into_dispatch()))
}

/// The fused Langevin update on plain flat tensors (see [`crate::langevin_update`]).
pub(crate) fn langevin_update(
    theta: Tensor<1>,
    a: Tensor<1>,
    g: Tensor<1>,
    b: Tensor<1>,
    zeta: Tensor<1>,
) -> Tensor<1> {
    let [theta, a, g, b, zeta] = [theta, a, g, b, zeta].map(|t| t.into_dispatch());
    Tensor::from_dispatch(<Dispatch as KernelBackend>::langevin_update(theta, a, g, b, zeta))
}

fn geometry(x: &Shape, weight: &Shape) -> Geometry {
    assert_eq!(x.num_dims(), 4, "conv3x3: input shape {x:?} is not [n, c, h, w]");
    assert!(weight.dims::<4>()[2..] == [3, 3], "conv3x3: weight shape {weight:?} is not [c_out, c_in, 3, 3]");
    let [n, c_in, h, w] = x.dims::<4>();
    assert_eq!(weight.dims::<4>()[1], c_in, "conv3x3: weight {weight:?} does not take the {c_in} channels of {x:?}");
    Geometry { n, c_in, c_out: weight.dims::<4>()[0], h, w }
}

/// A contiguous host view of a Flex tensor of element type `E`.
fn slice<E: Element + bytemuck::Pod>(t: &FloatTensor<Flex>) -> std::borrow::Cow<'_, [E]> {
    match t.as_slice::<E>() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(t.to_contiguous().as_slice::<E>().expect("contiguous").to_vec()),
    }
}

fn flex<E: Element>(values: Vec<E>, shape: impl Into<Shape>) -> FloatTensor<Flex> {
    FloatTensor::<Flex>::from_data(TensorData::new(values, shape.into()))
}

/// Runs `f32` or `f64` code on Flex tensors, naming the dtype it cannot handle.
macro_rules! by_dtype {
    ($dtype:expr, $E:ident => $body:expr) => {
        match $dtype {
            DType::F32 => {
                type $E = f32;
                $body
            }
            DType::F64 => {
                type $E = f64;
                $body
            }
            other => panic!("conv3x3 on Flex supports f32 and f64, not {other:?}"),
        }
    };
}

impl KernelBackend for Flex {
    fn conv3x3(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self> {
        let g = geometry(&x.shape(), &weight.shape());
        let act = Activation::relu_if(relu);
        by_dtype!(x.dtype(), E => {
            let y = direct::conv3x3_forward_with::<E>(g, &slice(&x), &slice(&weight), Some(&slice(&bias)), act);
            flex(y, [g.n, g.c_out, g.h, g.w])
        })
    }

    fn conv3x3_input_grad(dy: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
        let [n, c_out, h, w] = dy.shape().dims::<4>();
        let c_in = weight.shape().dims::<4>()[1];
        let g = Geometry { n, c_in, c_out, h, w };
        by_dtype!(dy.dtype(), E => flex(direct::conv3x3_input_grad::<E>(g, &slice(&dy), &slice(&weight)), [n, c_in, h, w]))
    }

    fn conv3x3_param_grad(x: FloatTensor<Self>, dy: FloatTensor<Self>) -> FloatTensor<Self> {
        param_grad(x, dy, None)
    }

    fn conv3x3_relu_param_grad(x: FloatTensor<Self>, dy: FloatTensor<Self>, y: FloatTensor<Self>) -> FloatTensor<Self> {
        param_grad(x, dy, Some(y))
    }

    fn bn_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> FloatTensor<Self> {
        let (p, shape) = (planes(&x.shape()), x.shape());
        let act = Activation::relu_if(relu);
        by_dtype!(x.dtype(), E => {
            let (mean, var) = stats_f64::<E>(&stats, p.c);
            let y = batch_norm::batch_norm_forward::<E>(p, &slice(&x), &slice(&gamma), &slice(&beta), (&mean, &var), epsilon, act);
            flex(y, shape)
        })
    }

    fn bn_stats(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let p = planes(&x.shape());
        by_dtype!(x.dtype(), E => {
            let (mean, var) = batch_norm::channel_stats::<E>(p, &slice(&x));
            flex(mean.into_iter().chain(var).map(|v| v as E).collect::<Vec<E>>(), [2, p.c])
        })
    }

    fn bn_train_grad(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        bn_grad(x, gamma, stats, dy, None, epsilon)
    }

    fn bn_relu_train_grad(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        y: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        bn_grad(x, gamma, stats, dy, Some(y), epsilon)
    }

    fn relu_grad(y: FloatTensor<Self>, dy: FloatTensor<Self>) -> FloatTensor<Self> {
        let shape = dy.shape();
        assert_eq!(y.shape(), shape, "relu_grad: output and gradient shapes differ");
        by_dtype!(dy.dtype(), E => flex(direct::relu_grad::<E>(&slice(&y), &slice(&dy)), shape))
    }

    fn matmul2d(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        let [m, k] = a.shape().dims::<2>();
        let [k_b, n] = b.shape().dims::<2>();
        assert_eq!(k, k_b, "matmul2d: a [{m}, {k}] and b [{k_b}, {n}] do not chain");
        by_dtype!(a.dtype(), E => {
            let (a, b) = (viewable(a), viewable(b));
            flex(matmul::matmul::<E>(m, n, k, strided::<E>(&a), strided::<E>(&b)), [m, n])
        })
    }

    fn langevin_update(
        theta: FloatTensor<Self>,
        a: FloatTensor<Self>,
        g: FloatTensor<Self>,
        b: FloatTensor<Self>,
        zeta: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let shape = theta.shape();
        let n = shape.num_elements();
        for (name, t) in [("a", &a), ("g", &g), ("b", &b), ("ζ", &zeta)] {
            let m = t.shape().num_elements();
            assert_eq!(m, n, "langevin_update: {name} has {m} values, θ has {n}");
        }
        by_dtype!(theta.dtype(), E => {
            let (a, g, b, zeta) = (slice::<E>(&a), slice::<E>(&g), slice::<E>(&b), slice::<E>(&zeta));
            // θ's own buffer is the output when nothing else holds it and it is exactly θ;
            // otherwise θ is copied first.
            let whole = theta.as_slice::<E>().is_some_and(|s| s.len() == theta.storage::<E>().len());
            let mut out = if whole && theta.is_unique() { theta } else { flex(slice::<E>(&theta).into_owned(), shape) };
            let values = out.try_storage_mut::<E>().expect("a uniquely held output");
            crate::update::update_in_place(values, &a, &g, &b, &zeta);
            out
        })
    }
}

/// The packed [c_out, c_in·9 + 1] weight and bias gradients of [`KernelBackend::conv3x3_param_grad`],
/// with `dy` masked by a following ReLU's output when there is one.
fn param_grad(
    x: FloatTensor<Flex>,
    dy: FloatTensor<Flex>,
    relu_output: Option<FloatTensor<Flex>>,
) -> FloatTensor<Flex> {
    let [n, c_in, h, w] = x.shape().dims::<4>();
    let c_out = dy.shape().dims::<4>()[1];
    let g = Geometry { n, c_in, c_out, h, w };
    by_dtype!(x.dtype(), E => {
        let (dw, db) = match &relu_output {
            Some(y) => direct::conv3x3_weight_grad_relu::<E>(g, &slice(&x), &slice(&dy), &slice(y)),
            None => direct::conv3x3_weight_grad::<E>(g, &slice(&x), &slice(&dy)),
        };
        let packed: Vec<E> = (0..c_out)
            .flat_map(|co| dw[co * c_in * 9..(co + 1) * c_in * 9].iter().copied().chain([db[co]]))
            .collect();
        flex(packed, [c_out, c_in * 9 + 1])
    })
}

/// The packed BatchNorm gradients [dx, dγ, dβ] of [`KernelBackend::bn_train_grad`], the output
/// gradient masked by a following ReLU's output `relu_output` when there is one.
fn bn_grad(
    x: FloatTensor<Flex>,
    gamma: FloatTensor<Flex>,
    stats: FloatTensor<Flex>,
    dy: FloatTensor<Flex>,
    relu_output: Option<FloatTensor<Flex>>,
    epsilon: f64,
) -> FloatTensor<Flex> {
    let p = planes(&x.shape());
    by_dtype!(x.dtype(), E => {
        let (mean, var) = stats_f64::<E>(&stats, p.c);
        let y = relu_output.as_ref().map(slice::<E>);
        let (mut dx, dgamma, dbeta) =
            batch_norm::batch_norm_backward::<E>(p, &slice(&x), &slice(&gamma), (&mean, &var), &slice(&dy), epsilon, y.as_deref());
        let n = dx.len();
        dx.extend(dgamma);
        dx.extend(dbeta);
        flex(dx, [n + 2 * p.c])
    })
}

/// `t` itself when its 2-D strides are non-negative (any transpose or slice of a matrix),
/// otherwise a contiguous copy.
fn viewable(t: FloatTensor<Flex>) -> FloatTensor<Flex> {
    if t.layout().strides().iter().all(|&s| s >= 0) { t } else { t.to_contiguous() }
}

/// The strided view of a 2-D Flex tensor prepared by [`viewable`].
fn strided<E: Element + bytemuck::Pod>(t: &FloatTensor<Flex>) -> Strided<'_, E> {
    let layout = t.layout();
    let [rs, cs] = [0, 1].map(|d| usize::try_from(layout.strides()[d]).expect("non-negative strides"));
    Strided { data: t.storage::<E>(), offset: layout.start_offset(), rs, cs }
}

/// The [2, c] statistics tensor of [`KernelBackend::bn_stats`] as (mean, variance) in f64.
fn stats_f64<E: Element + bytemuck::Pod + Into<f64>>(stats: &FloatTensor<Flex>, c: usize) -> (Vec<f64>, Vec<f64>) {
    let v: Vec<f64> = slice::<E>(stats).iter().map(|&s| s.into()).collect();
    assert_eq!(v.len(), 2 * c, "batch_norm: statistics of {} values for {c} channels", v.len());
    (v[..c].to_vec(), v[c..].to_vec())
}

fn planes(x: &Shape) -> Planes {
    assert_eq!(x.num_dims(), 4, "batch_norm: input shape {x:?} is not [n, c, h, w]");
    let [n, c, h, w] = x.dims::<4>();
    Planes { n, c, hw: h * w }
}

mod backward;
