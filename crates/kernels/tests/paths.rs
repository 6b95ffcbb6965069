//! Every instruction set the dispatcher can take on this CPU, each against Burn's `Conv2d` and
//! `BatchNorm` (+ ReLU), gradients included, in f32. Its own process: the cap it sets with
//! `limit_path` holds for every kernel call of the process.

use burn::tensor::FloatDType;
use hessrank_kernels::Activation;
use hessrank_kernels::parity_tests::{
    BN_SHAPES, SHAPES, batch_norm_then_max_differences, flex_at, max_differences_with,
};
use hessrank_kernels::simd::{Kernel, Path, calls, limit_path};

/// Each supported path, from the best down to the scalar fallback, runs the layers (the calls
/// are counted on it) and gives Burn's numbers to f32 rounding, at the ragged shapes of the
/// parity tests.
#[test]
fn every_supported_path_equals_burn_in_f32() {
    let device = flex_at(FloatDType::F32).autodiff();
    let eps = f32::EPSILON as f64;
    for path in Path::supported().into_iter().rev() {
        limit_path(path);
        let before = [Kernel::Conv, Kernel::BatchNorm].map(|k| calls(k, path));
        for (n, c_in, c_out, h, w) in SHAPES {
            for act in [Activation::Identity, Activation::Relu] {
                let [dy, dx, dw, db] = max_differences_with(&device, (n, c_in, c_out, h, w), act, true);
                let (terms, pixels) = ((9 * c_in.max(c_out)) as f64, (n * h * w) as f64);
                assert!(
                    dy < 8.0 * eps * terms
                        && dx < 8.0 * eps * terms
                        && dw < 8.0 * eps * pixels
                        && db < 8.0 * eps * pixels,
                    "{path:?} {:?} {act:?}: |Δy| {dy}, |Δdx| {dx}, |Δdw| {dw}, |Δdb| {db}",
                    (n, c_in, c_out, h, w)
                );
            }
        }
        for (n, c, h, w) in BN_SHAPES {
            let d = batch_norm_then_max_differences(&device, (n, c, h, w), Activation::Relu);
            let bound = 16.0 * eps * (n * h * w) as f64;
            assert!(d.iter().all(|&e| e < bound), "{path:?} {:?}: {d:?}", (n, c, h, w));
        }
        let ran = [Kernel::Conv, Kernel::BatchNorm].map(|k| calls(k, path));
        assert!(ran[0] >= before[0] + 6 * SHAPES.len() as u64, "{path:?} ran {} convolutions", ran[0] - before[0]);
        assert!(
            ran[1] >= before[1] + 3 * BN_SHAPES.len() as u64,
            "{path:?} ran {} BatchNorm passes",
            ran[1] - before[1]
        );
    }
    limit_path(Path::Avx512);
}
