//! Where the interpreter meets a layer the project's own kernels compute (`hessrank-kernels`: the
//! direct 3×3 convolution and the transpose-free batch-statistics BatchNorm on Flex), it takes
//! them; Burn's operations everywhere else.

use burn::tensor::Tensor;
use burn::tensor::ops::ConvOptions;

/// A 2-D convolution, followed by a ReLU when `relu`: the direct kernel (the ReLU fused in) for a
/// 3×3, stride-1, one-pixel-padded, ungrouped one.
pub fn conv2d(x: Tensor<4>, w: Tensor<4>, b: Option<Tensor<1>>, options: ConvOptions<2>, relu: bool) -> Tensor<4> {
    let same_3x3 = w.dims()[2..] == [3, 3]
        && options.stride == [1, 1]
        && options.dilation == [1, 1]
        && options.groups == 1
        && options.padding == [(1, 1), (1, 1)];
    if same_3x3 {
        hessrank_kernels::conv3x3_same(x, w, b, relu)
    } else {
        hessrank_kernels::Activation::relu_if(relu).apply(burn::tensor::module::conv2d(x, w, b, options))
    }
}

/// BatchNorm with batch statistics over [n, c, h, w] (then a ReLU when `relu`) by the kernel,
/// where it applies.
pub fn batch_norm_batch_stats(
    x: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    eps: f64,
    relu: bool,
) -> Option<Tensor<4>> {
    hessrank_kernels::batch_norm_batch_stats(x, gamma, beta, eps, relu)
}
