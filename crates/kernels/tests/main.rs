//! Integration tests of hessrank-kernels that need their own process (Flex at f32).

use burn::tensor::{Device, FloatDType};
use hessrank_kernels::parity_tests::{SHAPES, max_differences};

/// f32 on Flex: the direct path equals Burn's convolution to f32 rounding, gradients included.
/// The bound scales with the number of summed products (9·c_in per output, n·h·w per weight).
#[test]
fn direct_path_equals_burn_conv_in_f32() {
    let mut device = Device::flex();
    device.configure(FloatDType::F32).expect("flex at f32");
    let device = device.autodiff();
    for (n, c_in, c_out, h, w) in SHAPES {
        let [dy, dx, dw, db] = max_differences(&device, n, c_in, c_out, h, w);
        let eps = f32::EPSILON as f64;
        let terms = (9 * c_in.max(c_out)) as f64;
        let pixels = (n * h * w) as f64;
        assert!(
            dy < 8.0 * eps * terms && dx < 8.0 * eps * terms,
            "{:?}: |Δy| {dy}, |Δdx| {dx}",
            (n, c_in, c_out, h, w)
        );
        assert!(
            dw < 8.0 * eps * pixels && db < 8.0 * eps * pixels,
            "{:?}: |Δdw| {dw}, |Δdb| {db}",
            (n, c_in, c_out, h, w)
        );
    }
}
