//! The direct convolution against the definition, at ragged sizes.

use super::*;

/// Brute-force f64 reference: the definition of a zero-padded 3×3 cross-correlation.
fn reference(g: Geometry, x: &[f64], w: &[f64], b: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; g.n * g.c_out * g.h * g.w];
    for n in 0..g.n {
        for co in 0..g.c_out {
            for r in 0..g.h {
                for c in 0..g.w {
                    let mut s = b[co];
                    for ci in 0..g.c_in {
                        for ky in 0..3 {
                            for kx in 0..3 {
                                let (yy, xx) = (r as isize + ky as isize - 1, c as isize + kx as isize - 1);
                                if yy >= 0 && xx >= 0 && (yy as usize) < g.h && (xx as usize) < g.w {
                                    s += w[((co * g.c_in + ci) * 3 + ky) * 3 + kx]
                                        * x[((n * g.c_in + ci) * g.h + yy as usize) * g.w + xx as usize];
                                }
                            }
                        }
                    }
                    y[((n * g.c_out + co) * g.h + r) * g.w + c] = s;
                }
            }
        }
    }
    y
}

fn values(len: usize, seed: u64) -> Vec<f64> {
    // A fixed, non-symmetric sequence in [-1, 1] (no RNG crate needed).
    (0..len).map(|i| ((i as u64 * 2654435761 + seed * 97) % 1000) as f64 / 500.0 - 1.0).collect()
}

/// Every path this CPU supports (down to the scalar fallback) with the kernels the dispatcher
/// runs there, and on AVX-512 also the portable kernels (their 32-register tiles): each is
/// checked against the definition on its own.
fn paths() -> Vec<(Path, Implementation)> {
    let mut v: Vec<_> = Path::supported().into_iter().map(|p| (p, Implementation::Dispatched)).collect();
    if Path::Avx512.is_supported() {
        v.push((Path::Avx512, Implementation::Portable));
    }
    v
}

fn shapes() -> Vec<Geometry> {
    let g = |n, c_in, c_out, h, w| Geometry { n, c_in, c_out, h, w };
    // Every channel block size (8, 4, 2, 1 and mixes), odd and tiny images, a tile-crossing width.
    vec![
        g(3, 1, 8, 7, 5),
        g(2, 8, 8, 6, 9),
        g(1, 8, 1, 5, 5),
        g(2, 3, 7, 1, 1),
        g(11, 5, 13, 4, 30),
        g(1, 2, 3, 28, 28),
        // The DnCNN's layers on a plane that is not a whole number of vectors (f32 or f64).
        g(3, 8, 8, 13, 11),
        g(2, 1, 8, 17, 3),
        g(2, 8, 1, 3, 17),
    ]
}

#[test]
fn forward_matches_the_definition_in_f64() {
    for ((path, kernels), g) in paths().into_iter().flat_map(|p| shapes().into_iter().map(move |g| (p, g))) {
        let (x, w, b) = (values(g.n * g.c_in * g.h * g.w, 1), values(g.c_out * g.c_in * 9, 2), values(g.c_out, 3));
        let want = reference(g, &x, &w, &b);
        let got = forward_on(path, kernels, g, &x, &w, Some(&b), Activation::Identity);
        let err = want.iter().zip(&got).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(err < 1e-12, "{path:?} {kernels:?} {g:?}: max error {err}");
        // With the ReLU applied in the same pass: max(y, 0) of the definition.
        let got = forward_on(path, kernels, g, &x, &w, Some(&b), Activation::Relu);
        let err = want.iter().zip(&got).map(|(a, b)| (a.max(0.0) - b).abs()).fold(0.0, f64::max);
        assert!(err < 1e-12, "{path:?} {kernels:?} {g:?} + ReLU: max error {err}");
        assert!(got.iter().all(|&v| v >= 0.0), "{path:?} {kernels:?} {g:?}: a negative value after the ReLU");
    }
}

#[test]
fn forward_in_f32_matches_f64_to_rounding() {
    for ((path, kernels), g) in paths().into_iter().flat_map(|p| shapes().into_iter().map(move |g| (p, g))) {
        let (x, w, b) = (values(g.n * g.c_in * g.h * g.w, 4), values(g.c_out * g.c_in * 9, 5), values(g.c_out, 6));
        let want = reference(g, &x, &w, &b);
        let f = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<_>>();
        let got = forward_on(path, kernels, g, &f(&x), &f(&w), Some(&f(&b)), Activation::Identity);
        let err = want.iter().zip(&got).map(|(a, &b)| (a - b as f64).abs()).fold(0.0, f64::max);
        // 9·c_in products of magnitude ≤ 1, each rounded once: a few ulps of the sum's scale.
        assert!(err < 1e-5 * (9 * g.c_in) as f64, "{path:?} {kernels:?} {g:?}: max error {err}");
    }
}

/// The gradients of L = Σ y ⊙ r are exact in f64: ∂L/∂x, ∂L/∂w, ∂L/∂b by finite differences
/// would only add noise, so compare with the adjoint identities computed by brute force.
#[test]
fn gradients_match_brute_force_adjoints() {
    for ((path, kernels), g) in paths().into_iter().flat_map(|p| shapes().into_iter().map(move |g| (p, g))) {
        let (x, w, r) = (
            values(g.n * g.c_in * g.h * g.w, 7),
            values(g.c_out * g.c_in * 9, 8),
            values(g.n * g.c_out * g.h * g.w, 9),
        );
        let zero = vec![0.0; g.c_out];
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>();
        // L is linear in x and in w, so ∂L/∂x_i = L(e_i) and ∂L/∂w_j = L(with w = e_j).
        let dx = input_grad_on(path, kernels, g, &r, &w);
        for i in (0..x.len()).step_by(x.len().div_ceil(40)) {
            let mut e = vec![0.0; x.len()];
            e[i] = 1.0;
            let want = dot(&reference(g, &e, &w, &zero), &r);
            assert!((dx[i] - want).abs() < 1e-12, "{path:?} {kernels:?} {g:?}: dx[{i}] {} vs {want}", dx[i]);
        }
        let (dw, db) = weight_grad_on(path, kernels, g, &x, &r, None);
        for j in 0..w.len() {
            let mut e = vec![0.0; w.len()];
            e[j] = 1.0;
            let want = dot(&reference(g, &x, &e, &zero), &r);
            assert!((dw[j] - want).abs() < 1e-11, "{path:?} {kernels:?} {g:?}: dw[{j}] {} vs {want}", dw[j]);
        }
        for co in 0..g.c_out {
            let mut e = vec![0.0; g.c_out];
            e[co] = 1.0;
            let want = dot(&reference(g, &vec![0.0; x.len()], &vec![0.0; w.len()], &e), &r);
            assert!((db[co] - want).abs() < 1e-12, "{path:?} {kernels:?} {g:?}: db[{co}] {} vs {want}", db[co]);
        }
    }
}

/// The f32 gradients on every path equal the f64 definition to f32 rounding.
#[test]
fn gradients_in_f32_match_f64_to_rounding() {
    let f = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<_>>();
    for ((path, kernels), g) in paths().into_iter().flat_map(|p| shapes().into_iter().map(move |g| (p, g))) {
        let (x, w, r) = (
            values(g.n * g.c_in * g.h * g.w, 12),
            values(g.c_out * g.c_in * 9, 13),
            values(g.n * g.c_out * g.h * g.w, 14),
        );
        let (want_dx, (want_dw, want_db)) = (
            input_grad_on(Path::Scalar, Implementation::Dispatched, g, &r, &w),
            weight_grad_on(Path::Scalar, Implementation::Dispatched, g, &x, &r, None),
        );
        let dx = input_grad_on(path, kernels, g, &f(&r), &f(&w));
        let err = want_dx.iter().zip(&dx).map(|(a, &b)| (a - b as f64).abs()).fold(0.0, f64::max);
        assert!(err < 1e-5 * (9 * g.c_out) as f64, "{path:?} {kernels:?} {g:?}: |Δdx| {err}");
        // Each weight's gradient sums n·h·w products of magnitude ≤ 1.
        let scale = (g.n * g.h * g.w) as f64;
        let (dw, db) = weight_grad_on(path, kernels, g, &f(&x), &f(&r), None);
        let err = want_dw.iter().zip(&dw).map(|(a, &b)| (a - b as f64).abs()).fold(0.0, f64::max);
        assert!(err < 1e-6 * scale, "{path:?} {kernels:?} {g:?}: |Δdw| {err}");
        let err = want_db.iter().zip(&db).map(|(a, &b)| (a - b as f64).abs()).fold(0.0, f64::max);
        assert!(err < 1e-6 * scale, "{path:?} {kernels:?} {g:?}: |Δdb| {err}");
    }
}

/// The public entry points run on the fastest path the CPU has (AVX-512 where it exists): a
/// fallback taken by mistake fails here, not only in the timings.
#[test]
fn the_entry_points_take_the_fastest_path_the_cpu_has() {
    let best = Path::best_supported();
    let g = Geometry { n: 2, c_in: 8, c_out: 8, h: 5, w: 7 };
    let (x, w) = (values(g.n * g.c_in * g.h * g.w, 15), values(g.c_out * g.c_in * 9, 16));
    let before = calls(best);
    let y = conv3x3_forward(g, &x, &w, None);
    let _ = conv3x3_input_grad(g, &y, &w);
    let _ = conv3x3_weight_grad(g, &x, &y);
    // Other tests run convolutions concurrently, on their own paths: at least these three.
    assert!(calls(best) >= before + 3, "{best:?} ran {} of the 3 calls", calls(best) - before);
}

/// Both paths' weight gradients sum in an order fixed by the image chunks, not by the threads.
#[test]
fn weight_gradient_does_not_depend_on_the_thread_count_on_any_path() {
    let g = Geometry { n: 37, c_in: 8, c_out: 8, h: 9, w: 11 };
    let x: Vec<f32> = values(g.n * g.c_in * g.h * g.w, 17).iter().map(|&v| v as f32).collect();
    let dy: Vec<f32> = values(g.n * g.c_out * g.h * g.w, 18).iter().map(|&v| v as f32).collect();
    for (path, kernels) in paths() {
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
            pool.install(|| weight_grad_on(path, kernels, g, &x, &dy, None))
        };
        assert_eq!(run(1), run(3), "{path:?} {kernels:?}");
    }
}

/// The ReLU gradient is the output gradient where the output is positive, 0 elsewhere (zero
/// outputs included, as Burn's `relu_backward`), across chunk boundaries.
#[test]
fn relu_gradient_masks_by_the_output() {
    let n = 3 * RELU_CHUNK + 5;
    let y: Vec<f64> = (0..n).map(|i| [1.5, 0.0, -2.0, 1e-300][i % 4]).collect();
    let dy = values(n, 19);
    let dx = relu_grad(&y, &dy);
    for i in 0..n {
        assert_eq!(dx[i], if y[i] > 0.0 { dy[i] } else { 0.0 }, "at {i}");
    }
}

/// The weight gradient through a ReLU equals the plain weight gradient of the masked output
/// gradient, bitwise, on every path (the AVX-512 path masks inside the kernel).
#[test]
fn weight_gradient_through_a_relu_is_that_of_the_masked_gradient() {
    for ((path, kernels), g) in paths().into_iter().flat_map(|p| shapes().into_iter().map(move |g| (p, g))) {
        let (x, w, b) = (values(g.n * g.c_in * g.h * g.w, 20), values(g.c_out * g.c_in * 9, 21), values(g.c_out, 22));
        let y = forward_on(path, kernels, g, &x, &w, Some(&b), Activation::Relu);
        let dy = values(y.len(), 23);
        let want = weight_grad_on(path, kernels, g, &x, &relu_grad(&y, &dy), None);
        assert_eq!(weight_grad_on(path, kernels, g, &x, &dy, Some(&y)), want, "{path:?} {kernels:?} {g:?}");
    }
}

/// A convolution without input channels is refused with its shape named, on every path (the
/// AVX-512 path would otherwise leave its output unwritten).
#[test]
fn no_input_channels_is_a_clear_error() {
    for (path, kernels) in paths() {
        let g = Geometry { n: 2, c_in: 0, c_out: 3, h: 4, w: 4 };
        let err =
            std::panic::catch_unwind(|| forward_on::<f64>(path, kernels, g, &[], &[], None, Activation::Identity))
                .expect_err("no input channels");
        let message = err.downcast_ref::<String>().map(String::as_str).unwrap_or_default();
        assert!(
            message.contains("c_in: 0") && message.contains("needs input and output channels"),
            "{path:?} {kernels:?}: {message}"
        );
        let weight_grad = || weight_grad_on::<f64>(path, kernels, g, &[], &[0.0; 96], None);
        assert!(std::panic::catch_unwind(weight_grad).is_err(), "{path:?} {kernels:?}");
    }
}
