//! Integration tests of hessrank-kernels that need their own process (Flex at f32).

use burn::tensor::{Device, FloatDType};
use hessrank_kernels::Activation;
use hessrank_kernels::direct::{self, Path};
use hessrank_kernels::parity_tests::{
    BN_SHAPES, MATMUL_SHAPES, SHAPES, batch_norm_then_max_differences, check_langevin_update, flex_at,
    matmul_max_differences, max_differences_with,
};

/// Flex at f32 with autodiff (every test of this process runs at f32).
fn flex_f32() -> Device {
    flex_at(FloatDType::F32).autodiff()
}

/// f32 on Flex: the blocked and the loop products equal Burn's matmul to f32 rounding (k or m products summed
/// per entry), both gradients included.
#[test]
fn fast_matmul_equals_burn_matmul_in_f32() {
    let device = flex_f32();
    for (m, k, n) in MATMUL_SHAPES {
        for transposed in [false, true] {
            let d = matmul_max_differences(&device, m, k, n, transposed);
            let bound = 8.0 * f32::EPSILON as f64 * (m.max(k).max(n) as f64).sqrt();
            assert!(d.iter().all(|&e| e < bound), "{:?}: |Δy|, |Δda|, |Δdb| = {d:?}", (m, k, n, transposed));
        }
    }
}

/// f32 on Flex: the fused Langevin update equals Burn's operations bitwise.
#[test]
fn fused_langevin_update_equals_burn_ops_in_f32() {
    let device = flex_f32().inner();
    check_langevin_update(&device);
}

/// f32 on Flex: the direct path equals Burn's convolution to f32 rounding, gradients included,
/// alone and with the ReLU fused (with and without an input gradient). The bound scales with the
/// number of summed products (9·c_in per output, n·h·w per weight).
#[test]
fn direct_path_equals_burn_conv_in_f32() {
    let device = flex_f32();
    let best = Path::best_supported();
    let before = direct::calls(best);
    let cases = [(Activation::Identity, true), (Activation::Relu, true), (Activation::Relu, false)];
    for ((n, c_in, c_out, h, w), (act, input_grad)) in SHAPES.into_iter().flat_map(|s| cases.map(|c| (s, c))) {
        let [dy, dx, dw, db] = max_differences_with(&device, (n, c_in, c_out, h, w), act, input_grad);
        let eps = f32::EPSILON as f64;
        let terms = (9 * c_in.max(c_out)) as f64;
        let pixels = (n * h * w) as f64;
        assert!(
            dy < 8.0 * eps * terms && dx < 8.0 * eps * terms,
            "{:?} {act:?}: |Δy| {dy}, |Δdx| {dx}",
            (n, c_in, c_out, h, w)
        );
        assert!(
            dw < 8.0 * eps * pixels && db < 8.0 * eps * pixels,
            "{:?} {act:?} dx {input_grad}: |Δdw| {dw}, |Δdb| {db}",
            (n, c_in, c_out, h, w)
        );
    }
    // The layer's forward, input gradient and weight gradient, per shape, ran on the CPU's
    // fastest path (no other test of this process convolves): 3 + 3 + 2 calls (no input
    // gradient in the last case).
    let calls = direct::calls(best) - before;
    assert_eq!(calls, 8 * SHAPES.len() as u64, "{best:?} ran {calls} convolutions");
}

/// f32 on Flex: the fast BatchNorm equals Burn's to f32 rounding (it sums in f64, Burn in f32,
/// so the bound scales with the summed count), running statistics included.
#[test]
fn fast_batch_norm_equals_burn_in_f32() {
    let device = flex_f32();
    for ((n, c, h, w), act) in BN_SHAPES.into_iter().flat_map(|s| [(s, Activation::Identity), (s, Activation::Relu)]) {
        let d = batch_norm_then_max_differences(&device, (n, c, h, w), act);
        let bound = 16.0 * f32::EPSILON as f64 * (n * h * w) as f64;
        assert!(
            d.iter().all(|&e| e < bound),
            "{:?} {act:?}: |Δy|, |Δdx|, |Δdγ|, |Δdβ|, |Δμ|, |Δσ²| = {d:?}",
            (n, c, h, w)
        );
    }
}

/// The BatchNorm passes and the Langevin update run on the CPU's fastest path, counted per kernel:
/// they add calls there, and no kernel of this process (nothing here caps the path) ever ran on
/// a slower one.
#[test]
fn batch_norm_and_update_take_the_fastest_path_the_cpu_has() {
    use hessrank_kernels::simd::{self, Kernel};
    let best = simd::Path::best_supported();
    let (bn, update) = (simd::calls(Kernel::BatchNorm, best), simd::calls(Kernel::Update, best));
    let device = flex_f32();
    // Statistics, normalisation and backward pass.
    let _ = batch_norm_then_max_differences(&device, BN_SHAPES[0], Activation::Relu);
    assert!(simd::calls(Kernel::BatchNorm, best) >= bn + 3, "{best:?} ran no BatchNorm pass");
    check_langevin_update(&device.inner());
    assert!(simd::calls(Kernel::Update, best) > update, "{best:?} ran no Langevin update");
    for path in simd::Path::supported().into_iter().filter(|&p| p != best) {
        for kernel in [Kernel::Conv, Kernel::BatchNorm, Kernel::Update] {
            assert_eq!(simd::calls(kernel, path), 0, "{kernel:?} ran on {path:?}, below {best:?}");
        }
    }
}
