//! Compute kernels of hessrank: a direct 3×3 "same" convolution, forward and backward, used by
//! the DnCNN on the Flex CPU backend, and Burn's own convolution everywhere else.
//!
//! [`conv2d`] is a drop-in for `Conv2d::forward`: it takes the fast path when the tensors live on
//! Flex (with or without autodiff), the float type is f32 or f64 and the layer is a 3×3, stride-1,
//! padding-1, ungrouped convolution; otherwise it calls Burn. Both paths give the same numbers to
//! rounding (the tests check f64 to 1e-12 and f32 to its rounding).

#![warn(missing_docs)]

pub mod direct;
#[cfg(feature = "flex")]
mod extension;
#[cfg(feature = "flex")]
#[doc(hidden)]
pub mod parity_tests;

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::{DType, Tensor};
use std::sync::atomic::{AtomicBool, Ordering};

static FAST_CONV: AtomicBool = AtomicBool::new(true);

/// Turns the direct convolution on or off for the whole process (on by default). Benchmarks
/// use this to time Burn's convolution against it in one binary.
pub fn set_fast_conv(enabled: bool) {
    FAST_CONV.store(enabled, Ordering::Relaxed);
}

/// Whether [`conv2d`] may take the direct path (see [`set_fast_conv`]).
pub fn fast_conv_enabled() -> bool {
    FAST_CONV.load(Ordering::Relaxed)
}

/// Whether `conv` is a 3×3, stride-1, dilation-1, ungrouped convolution with one pixel of zero
/// padding on every side: the shape the direct kernel computes.
pub fn is_same_3x3(conv: &Conv2d) -> bool {
    let padding_one = match &conv.padding {
        PaddingConfig2d::Same => true,
        PaddingConfig2d::Explicit(top, left, bottom, right) => [*top, *left, *bottom, *right] == [1; 4],
        _ => false,
    };
    conv.kernel_size == [3, 3] && conv.stride == [1, 1] && conv.dilation == [1, 1] && conv.groups == 1 && padding_one
}

/// `conv.forward(x)`, through the direct 3×3 kernel when it applies (see the crate docs).
pub fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    if takes_direct_path(conv, &x) {
        #[cfg(feature = "flex")]
        return extension::conv3x3(x, conv.weight.val(), conv.bias.as_ref().map(|b| b.val()));
    }
    conv.forward(x)
}

/// Whether [`conv2d`]`(conv, x)` runs the direct kernel: it is enabled, compiled in for `x`'s
/// backend and dtype, and `conv` has the shape it computes.
pub fn takes_direct_path(conv: &Conv2d, x: &Tensor<4>) -> bool {
    fast_conv_enabled() && is_same_3x3(conv) && fast_path_device(x)
}

/// Whether `x` lives on a backend and dtype the direct kernel is compiled for.
fn fast_path_device(x: &Tensor<4>) -> bool {
    #[cfg(feature = "flex")]
    {
        matches!(x.dtype(), DType::F32 | DType::F64) && extension::is_flex(&x.device())
    }
    #[cfg(not(feature = "flex"))]
    {
        let _ = (x, DType::F32);
        false
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use crate::parity_tests::{SHAPES, max_differences};
    use burn::tensor::{Device, FloatDType};

    /// f64 on Flex: the direct path equals Burn's convolution to 1e-12, gradients included.
    /// (The f32 twin is an integration test: a device keeps one dtype per process.)
    #[test]
    fn direct_path_equals_burn_conv_in_f64() {
        let mut device = Device::flex();
        device.configure(FloatDType::F64).expect("flex at f64");
        let device = device.autodiff();
        for (n, c_in, c_out, h, w) in SHAPES {
            let d = max_differences(&device, n, c_in, c_out, h, w);
            assert!(d.iter().all(|&e| e < 1e-12), "{:?}: |Δy|, |Δdx|, |Δdw|, |Δdb| = {d:?}", (n, c_in, c_out, h, w));
        }
    }
}
