//! BatchNorm's kernels against the definition, on every path.
use super::*;

fn values(len: usize, seed: u64) -> Vec<f64> {
    (0..len).map(|i| ((i as u64 * 2654435761 + seed * 97) % 1000) as f64 / 250.0 - 1.5).collect()
}

/// The loss L = Σ y ⊙ r and its gradients by central differences (L is smooth in x and γ, β):
/// the backward pass must match them to the differences' own error.
#[test]
fn backward_matches_central_differences_in_f64() {
    let p = Planes { n: 3, c: 4, hw: 10 };
    let (x, g, b, r) = (values(120, 1), values(4, 2), values(4, 3), values(120, 4));
    let eps = 1e-5;
    let loss = |x: &[f64], g: &[f64], b: &[f64]| {
        let (m, v) = channel_stats(p, x);
        batch_norm_forward(p, x, g, b, (&m, &v), eps, Activation::Identity)
            .iter()
            .zip(&r)
            .map(|(y, r)| y * r)
            .sum::<f64>()
    };
    let (m, v) = channel_stats(p, &x);
    let (dx, dg, db) = batch_norm_backward(p, &x, &g, (&m, &v), &r, eps, None);
    let h = 1e-6;
    let fd = |f: &dyn Fn(f64) -> f64| (f(h) - f(-h)) / (2.0 * h);
    for i in (0..x.len()).step_by(7) {
        let want = fd(&|d| {
            let mut x2 = x.clone();
            x2[i] += d;
            loss(&x2, &g, &b)
        });
        assert!((dx[i] - want).abs() < 1e-7, "dx[{i}] {} vs {want}", dx[i]);
    }
    for c in 0..4 {
        let want_g = fd(&|d| {
            let mut g2 = g.clone();
            g2[c] += d;
            loss(&x, &g2, &b)
        });
        let want_b = fd(&|d| {
            let mut b2 = b.clone();
            b2[c] += d;
            loss(&x, &g, &b2)
        });
        assert!((dg[c] - want_g).abs() < 1e-7, "dgamma[{c}] {} vs {want_g}", dg[c]);
        assert!((db[c] - want_b).abs() < 1e-7, "dbeta[{c}] {} vs {want_b}", db[c]);
    }
}

#[test]
fn forward_normalises_every_channel() {
    let p = Planes { n: 5, c: 3, hw: 7 };
    let x = values(105, 5);
    let (m, v) = channel_stats(p, &x);
    let y = batch_norm_forward(p, &x, &[1.0; 3], &[0.0; 3], (&m, &v), 0.0, Activation::Identity);
    let (mean, var) = channel_stats(p, &y);
    assert!(mean.iter().all(|m| m.abs() < 1e-14), "{mean:?}");
    assert!(var.iter().all(|v| (v - 1.0).abs() < 1e-12), "{var:?}");
}

/// The one-pass statistics equal the two-pass definition, even far from zero (where
/// Σx² − (Σx)²/M would lose every digit of the variance).
#[test]
fn statistics_match_the_two_pass_definition() {
    for (p, offset) in [
        (Planes { n: 5, c: 3, hw: 7 }, 0.0),
        (Planes { n: 4, c: 2, hw: 37 }, 1e6),
        (Planes { n: 1, c: 1, hw: 3 }, -2.5),
    ] {
        let x: Vec<f64> = values(p.n * p.c * p.hw, 6).iter().map(|v| v + offset).collect();
        let (mean, var) = channel_stats(p, &x);
        for c in 0..p.c {
            let xs: Vec<f64> = (0..p.n).flat_map(|n| x[(n * p.c + c) * p.hw..][..p.hw].to_vec()).collect();
            let m = xs.iter().sum::<f64>() / xs.len() as f64;
            let v = xs.iter().map(|a| (a - m).powi(2)).sum::<f64>() / xs.len() as f64;
            // The reference's own running sum of M terms is good to M·ε relative.
            let bound = xs.len() as f64 * f64::EPSILON * m.abs().max(1.0);
            assert!((mean[c] - m).abs() <= bound, "{p:?} mean[{c}] {} vs {m}", mean[c]);
            // Both sides round each centred value x − μ to about ε·|offset|: a relative
            // error of 2ε·|offset|/σ in the variance (4e-10 at offset 1e6), where the naive
            // Σx² − (Σx)²/M loses ε·offset²/σ² (2e-4).
            let bound = 1e-12 * v + 4.0 * f64::EPSILON * offset.abs() * v.sqrt();
            assert!((var[c] - v).abs() <= bound, "{p:?} var[{c}] {} vs {v}", var[c]);
        }
    }
}

/// With a ReLU, the forward pass is max(BatchNorm, 0) and the backward pass is the plain
/// one applied to the output gradient masked where the output is not positive.
#[test]
fn relu_is_the_plain_pass_with_its_mask() {
    let p = Planes { n: 3, c: 4, hw: 10 };
    let (x, g, b, r) = (values(120, 7), values(4, 8), values(4, 9), values(120, 10));
    let (m, v) = channel_stats(p, &x);
    let plain = batch_norm_forward(p, &x, &g, &b, (&m, &v), 1e-5, Activation::Identity);
    let y = batch_norm_forward(p, &x, &g, &b, (&m, &v), 1e-5, Activation::Relu);
    assert!(y.contains(&0.0) && y.iter().any(|&v| v > 0.0), "a mixed pattern");
    assert_eq!(y, plain.iter().map(|&v| v.max(0.0)).collect::<Vec<_>>());
    let masked: Vec<f64> = r.iter().zip(&y).map(|(&d, &y)| if y > 0.0 { d } else { 0.0 }).collect();
    let want = batch_norm_backward(p, &x, &g, (&m, &v), &masked, 1e-5, None);
    let got = batch_norm_backward(p, &x, &g, (&m, &v), &r, 1e-5, Some(&y));
    assert_eq!(got, want);
}

/// The per-plane sums on every path the CPU supports (down to the scalar fallback) equal the
/// plain definition, with and without a ReLU mask, at lengths that are not whole vectors; f32
/// values are widened and summed in f64.
#[test]
fn plane_sums_match_the_definition_on_every_path() {
    for path in Path::supported() {
        for len in [1, 7, 16, 37, 784] {
            let (x, d, y) = (values(len, 11), values(len, 12), values(len, 13));
            let mu = 0.3;
            for ys in [None, Some(&y[..])] {
                let g = |i: usize| if ys.is_some_and(|y| y[i] <= 0.0) { 0.0 } else { d[i] };
                let want = ((0..len).map(g).sum::<f64>(), (0..len).map(|i| (x[i] - mu) * g(i)).sum::<f64>());
                // Any summation order is within 2·len·ε of the sum of magnitudes (Higham's bound).
                let bound = 2.0 * len as f64 * f64::EPSILON * (0..len).map(|i| (x[i] - mu).abs() + 1.0).sum::<f64>();
                let sums = GradSums { x: &x, dy: &d, relu_output: ys, mu, first: 0, stride: len, planes: 1, hw: len };
                let got = simd::run(path, sums)[0];
                assert!(
                    (got.0 - want.0).abs() < bound && (got.1 - want.1).abs() < bound,
                    "{path:?} {len} {}: {got:?} vs {want:?}",
                    ys.is_some()
                );
                // f32 inputs: the same sums of the rounded values, accumulated in f64.
                let f = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<_>>();
                let (xf, df, yf) = (f(&x), f(&d), f(&y));
                let relu_output = ys.map(|_| &yf[..]);
                let sums = GradSums { x: &xf, dy: &df, relu_output, mu, first: 0, stride: len, planes: 1, hw: len };
                let got = simd::run(path, sums)[0];
                let g32 = |i: usize| if ys.is_some() && yf[i] <= 0.0 { 0.0 } else { df[i] as f64 };
                let want =
                    ((0..len).map(g32).sum::<f64>(), (0..len).map(|i| (xf[i] as f64 - mu) * g32(i)).sum::<f64>());
                assert!(
                    (got.0 - want.0).abs() < bound && (got.1 - want.1).abs() < bound,
                    "{path:?} f32 {len}: {got:?} vs {want:?}"
                );
            }
            let mean = x.iter().sum::<f64>() / len as f64;
            let m2 = x.iter().map(|a| (a - mean).powi(2)).sum::<f64>();
            let bound_m2 = 2.0 * len as f64 * f64::EPSILON * m2;
            let got = simd::run(path, Moments { x: &x, first: 0, stride: len, planes: 1, hw: len })[0];
            assert!(
                (got.0 - mean).abs() < 1e-14 && (got.1 - m2).abs() <= bound_m2,
                "{path:?} moments {len}: {got:?} vs {:?}",
                (mean, m2)
            );
        }
    }
}

/// Every pass of the layer gives the same numbers on every path to rounding: the statistics,
/// the normalisation (bitwise: no fused operations) and the backward pass, f64 and f32, with a
/// ReLU, on a batch whose planes are not whole vectors.
#[test]
fn every_path_gives_the_layer_to_rounding() {
    let p = Planes { n: 5, c: 3, hw: 37 };
    let (x, g, b, r) = (values(555, 21), values(3, 22), values(3, 23), values(555, 24));
    let scalar = Path::Scalar;
    let (m0, v0) = channel_stats_on(scalar, p, &x);
    let y0 = batch_norm_forward_on(scalar, p, &x, &g, &b, (&m0, &v0), 1e-5, Activation::Relu);
    let back0 = batch_norm_backward_on(scalar, p, &x, &g, (&m0, &v0), &r, 1e-5, Some(&y0));
    let close = |a: &[f64], b: &[f64], what: &str, path: Path| {
        let e = a.iter().zip(b).map(|(u, v)| (u - v).abs()).fold(0.0, f64::max);
        assert!(e < 1e-12, "{path:?} {what}: max difference {e:e}");
    };
    for path in Path::supported() {
        let (m, v) = channel_stats_on(path, p, &x);
        close(&m, &m0, "mean", path);
        close(&v, &v0, "variance", path);
        let y = batch_norm_forward_on(path, p, &x, &g, &b, (&m0, &v0), 1e-5, Activation::Relu);
        assert_eq!(y, y0, "{path:?}: the normalisation");
        let back = batch_norm_backward_on(path, p, &x, &g, (&m0, &v0), &r, 1e-5, Some(&y0));
        close(&back.0, &back0.0, "dx", path);
        close(&back.1, &back0.1, "dγ", path);
        close(&back.2, &back0.2, "dβ", path);
    }
}
