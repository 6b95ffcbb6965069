//! Pooling: MaxPool 1-D/2-D (frozen: each window's argmax at θ₀), AveragePool 1-D/2-D and
//! GlobalAveragePool. 1-D pooling runs as 2-D pooling over a height of one.

use super::OpResult;
use crate::freeze::{Freeze, Pattern};
use crate::value::DynTensor;
use burn::tensor::module::{avg_pool2d, max_pool2d, max_pool2d_with_indices};
use burn::tensor::ops::{AvgPoolOptions, MaxPoolOptions};

/// A pooling window in two dimensions (1-D pooling has height 1).
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Kernel [h, w].
    pub kernel: [usize; 2],
    /// Stride [h, w].
    pub stride: [usize; 2],
    /// Padding [(top, bottom), (left, right)].
    pub padding: [(usize, usize); 2],
    /// Dilation [h, w].
    pub dilation: [usize; 2],
    /// Round the output size up.
    pub ceil_mode: bool,
}

impl Window {
    /// A 2-D window from onnx-ir's fields (padding [(top, bottom), (left, right)]).
    pub fn two_d(
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [(usize, usize); 2],
        dilation: [usize; 2],
        ceil_mode: bool,
    ) -> Self {
        Window { kernel, stride, padding, dilation, ceil_mode }
    }

    /// A 1-D window, as a 2-D one over a height of one.
    pub fn one_d(kernel: usize, stride: usize, padding: (usize, usize), dilation: usize, ceil_mode: bool) -> Self {
        Window {
            kernel: [1, kernel],
            stride: [1, stride],
            padding: [(0, 0), padding],
            dilation: [1, dilation],
            ceil_mode,
        }
    }
}

/// `x` viewed as [N, C, H, W] (1-D input gets H = 1), with the shape to return to.
fn as_2d(x: DynTensor) -> OpResult<(burn::tensor::Tensor<4>, bool)> {
    match x.rank() {
        3 => {
            let d = x.dims();
            Ok((x.reshape(&[d[0], d[1], 1, d[2]]).into_rank::<4>(), true))
        }
        4 => Ok((x.into_rank::<4>(), false)),
        r => Err(format!("pooling takes [N, C, L] or [N, C, H, W], found rank {r}")),
    }
}

fn back(y: burn::tensor::Tensor<4>, one_d: bool) -> DynTensor {
    let d = y.dims();
    if one_d { DynTensor::R4(y).reshape(&[d[0], d[1], d[3]]) } else { DynTensor::R4(y) }
}

/// MaxPool; frozen: the value at θ₀'s argmax of each window.
pub fn max_pool(x: DynTensor, w: Window, freeze: Freeze<'_>) -> OpResult<DynTensor> {
    let (x, one_d) = as_2d(x)?;
    let [n, c, h, wd] = x.dims();
    let mut options = MaxPoolOptions::new(w.kernel);
    options.stride = w.stride;
    options.padding = w.padding;
    options.dilation = w.dilation;
    options.ceil_mode = w.ceil_mode;
    let y = match freeze {
        Freeze::Use(Pattern::ArgMax(idx)) => {
            let [_, _, l] = idx.dims();
            let flat = x.reshape([n, c, h * wd]).gather(2, idx.clone());
            let out = frozen_out_shape(h, wd, &w);
            debug_assert_eq!(out.0 * out.1, l);
            flat.reshape([n, c, out.0, out.1])
        }
        Freeze::Record(slot) => {
            let (y, idx) = max_pool2d_with_indices(x, options);
            let [_, _, ho, wo] = y.dims();
            *slot = Some(Pattern::ArgMax(idx.reshape([n, c, ho * wo])));
            y
        }
        _ => max_pool2d(x, options),
    };
    Ok(back(y, one_d))
}

/// The pooled height and width (PyTorch's formula, with ceil mode's last-window rule).
fn frozen_out_shape(h: usize, w: usize, win: &Window) -> (usize, usize) {
    let size = |len: usize, k: usize, s: usize, (p0, p1): (usize, usize), d: usize| {
        let span = len + p0 + p1 - d * (k - 1) - 1;
        let mut out = if win.ceil_mode { span.div_ceil(s) + 1 } else { span / s + 1 };
        if win.ceil_mode && (out - 1) * s >= len + p0 {
            out -= 1;
        }
        out
    };
    (
        size(h, win.kernel[0], win.stride[0], win.padding[0], win.dilation[0]),
        size(w, win.kernel[1], win.stride[1], win.padding[1], win.dilation[1]),
    )
}

/// AveragePool (dilation 1).
pub fn avg_pool(x: DynTensor, w: Window, count_include_pad: bool) -> OpResult<DynTensor> {
    if w.dilation != [1, 1] {
        return Err(format!("dilation {:?} is not supported for average pooling", w.dilation));
    }
    let (x, one_d) = as_2d(x)?;
    let mut options = AvgPoolOptions::new(w.kernel);
    options.stride = w.stride;
    options.padding = w.padding;
    options.count_include_pad = count_include_pad;
    options.ceil_mode = w.ceil_mode;
    Ok(back(avg_pool2d(x, options), one_d))
}

/// GlobalAveragePool: the mean over every axis after the channel axis, kept as length 1.
pub fn global_avg_pool(x: DynTensor) -> OpResult<DynTensor> {
    let dims = x.dims();
    if dims.len() < 3 {
        return Err(format!("input {dims:?} has no spatial axes"));
    }
    let (n, c) = (dims[0], dims[1]);
    let spatial: usize = dims[2..].iter().product();
    let m = x.reshape(&[n, c, spatial]).into_rank::<3>().mean_dim(2);
    let mut out = vec![n, c];
    out.extend(std::iter::repeat_n(1, dims.len() - 2));
    Ok(DynTensor::R3(m).reshape(&out))
}
