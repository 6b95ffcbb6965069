//! A small L-BFGS on host `f64` vectors (two-loop recursion, Armijo backtracking).
//!
//! Written here because Burn 0.22's `LBFGS` flattens every float tensor of the module, BatchNorm's
//! running statistics included, and then fails on the DnCNN (769 values against 753 gradients).
//! Working on the flattened trainable parameters in f64 also makes the finish as precise as the
//! device allows.

/// Minimises `f` (returning value and gradient) from `x` for at most `iters` iterations or until
/// ‖∇f‖ ≤ `tol`. Returns the final point, value and gradient norm.
pub fn minimize(
    mut f: impl FnMut(&[f64]) -> (f64, Vec<f64>),
    mut x: Vec<f64>,
    iters: usize,
    tol: f64,
    history: usize,
    mut on_iter: impl FnMut(usize, f64, f64) -> bool,
) -> (Vec<f64>, f64, f64) {
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let (mut fx, mut g) = f(&x);
    let mut s_hist: Vec<Vec<f64>> = Vec::new();
    let mut y_hist: Vec<Vec<f64>> = Vec::new();
    for it in 0..iters {
        let gnorm = dot(&g, &g).sqrt();
        if gnorm <= tol || !on_iter(it, fx, gnorm) {
            return (x, fx, gnorm);
        }
        // Two-loop recursion: d = −H_k g.
        let mut q = g.clone();
        let mut alpha = vec![0.0; s_hist.len()];
        for i in (0..s_hist.len()).rev() {
            let rho = 1.0 / dot(&y_hist[i], &s_hist[i]);
            alpha[i] = rho * dot(&s_hist[i], &q);
            q.iter_mut().zip(&y_hist[i]).for_each(|(qj, yj)| *qj -= alpha[i] * yj);
        }
        let gamma = match (s_hist.last(), y_hist.last()) {
            (Some(s), Some(y)) => dot(s, y) / dot(y, y),
            _ => 1.0 / gnorm.max(1e-12),
        };
        q.iter_mut().for_each(|v| *v *= gamma);
        for i in 0..s_hist.len() {
            let rho = 1.0 / dot(&y_hist[i], &s_hist[i]);
            let beta = rho * dot(&y_hist[i], &q);
            q.iter_mut().zip(&s_hist[i]).for_each(|(qj, sj)| *qj += (alpha[i] - beta) * sj);
        }
        let mut d: Vec<f64> = q.iter().map(|v| -v).collect();
        let mut slope = dot(&g, &d);
        if slope >= 0.0 {
            // Not a descent direction: restart from steepest descent.
            s_hist.clear();
            y_hist.clear();
            d = g.iter().map(|v| -v / gnorm.max(1e-12)).collect();
            slope = dot(&g, &d);
        }
        // Armijo backtracking.
        let mut t = 1.0;
        let (x_new, f_new, g_new) = loop {
            let trial: Vec<f64> = x.iter().zip(&d).map(|(a, b)| a + t * b).collect();
            let (ft, gt) = f(&trial);
            if ft.is_finite() && ft <= fx + 1e-4 * t * slope {
                break (trial, ft, gt);
            }
            t *= 0.5;
            if t < 1e-12 {
                return (x, fx, gnorm);
            }
        };
        let s: Vec<f64> = x_new.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
        if dot(&s, &y) > 1e-12 * dot(&y, &y).sqrt() * dot(&s, &s).sqrt() {
            s_hist.push(s);
            y_hist.push(y);
            if s_hist.len() > history {
                s_hist.remove(0);
                y_hist.remove(0);
            }
        }
        (x, fx, g) = (x_new, f_new, g_new);
    }
    let gnorm = dot(&g, &g).sqrt();
    (x, fx, gnorm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimises_the_rosenbrock_function() {
        let f = |x: &[f64]| {
            let (a, b) = (x[0], x[1]);
            let v = (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2);
            (v, vec![-2.0 * (1.0 - a) - 400.0 * a * (b - a * a), 200.0 * (b - a * a)])
        };
        let (x, v, g) = minimize(f, vec![-1.2, 1.0], 200, 1e-10, 10, |_, _, _| true);
        assert!((x[0] - 1.0).abs() < 1e-6 && (x[1] - 1.0).abs() < 1e-6, "{x:?} {v} {g}");
    }
}
