//! The published U&S code's density of states and gap rule (`kpmchebdos_new.m`, `find_gap.m`),
//! reproduced line for line so that the baseline is the paper's.

use std::f64::consts::PI;

/// The published code's DOS grid on [−1, 1]: `[−1 + h : h/2 : 0, h : 2h : 1 − h]` with
/// h = 2/(Npts + 1) (125 points for Npts = 100: fine left of 0, where the gap of a PSD spectrum lies).
pub fn published_dos_grid(npts: usize) -> Vec<f64> {
    let h = 2.0 / (npts as f64 + 1.0);
    // MATLAB's colon operator: n = floor((end − start)/step + tolerance) + 1 points.
    let colon = |a: f64, step: f64, b: f64| {
        let n = ((b - a) / step + 1e-10).floor() as usize + 1;
        (0..n).map(move |i| a + i as f64 * step)
    };
    colon(-1.0 + h, 0.5 * h, 0.0).chain(colon(h, 2.0 * h, 1.0 - h)).collect()
}

/// The published gap rule (`find_gap.m`) on a DOS `yy` at points `xx`: returns (i₁, i₂, ε).
///
/// Smooth z_i = (|y_i| + y_{i+2} + y_{i+3})/4 (the code's `p = 3` loop adds y_{i+2} and y_{i+3}),
/// take forward differences t_i = z_{i+1} − z_i (t = 0 at the end); scanning upward, accumulate
/// s += z_i, skip points with z_i > (npts + 1)/2 and stop at the first t_i ≥ −0.01: that is i₁. With
/// s ← s/(npts + 1), i₂ is the first i > i₁ with z_i ≥ (1 − s)/4 (i₁ + 1 if none), and
/// ε = (x_{i₁} + x_{i₂})/2. Here npts is the grid's length, as in the code (`length(yy)`).
pub fn published_gap(xx: &[f64], yy: &[f64]) -> (usize, usize, f64) {
    let npts = yy.len();
    let tol1 = (npts as f64 + 1.0) * 0.5;
    let mut z: Vec<f64> = yy.iter().map(|y| y.abs()).collect();
    for shift in 2..=3 {
        for i in 0..npts.saturating_sub(shift) {
            z[i] += yy[i + shift];
        }
    }
    z.iter_mut().for_each(|v| *v /= 4.0);
    let t: Vec<f64> = (0..npts).map(|i| if i + 1 < npts { z[i + 1] - z[i] } else { 0.0 }).collect();
    let mut sum = 0.0;
    let mut i1 = npts - 1;
    for i in 0..npts {
        sum += z[i];
        if z[i] > tol1 {
            continue;
        }
        if t[i] >= -0.01 {
            i1 = i;
            break;
        }
    }
    let tol = (1.0 - sum / (npts as f64 + 1.0)) * 0.25;
    let i2 = ((i1 + 1)..npts).find(|&i| z[i] >= tol).unwrap_or(i1 + 1).min(npts - 1);
    (i1, i2, 0.5 * (xx[i1] + xx[i2]))
}

/// The published KPM density of states (`kpmchebdos_new.m`): from the probe-mean moments
/// `mean[k]` = v̄ᵀT_k v̄ (unit probes) of B = (A − c)/w on [lmin, lmax], returns the points
/// x = c + w·t in eigenvalue units and the DOS there, Jackson-damped and normalised so that
/// Σ y · (x_2 − x_1) = 1.
pub fn published_dos(mean: &[f64], lmin: f64, lmax: f64, npts: usize) -> (Vec<f64>, Vec<f64>) {
    let nm = mean.len() as f64; // the code's `deg` there is the number of moments, m + 1
    let (thet, a1) = (PI / (nm + 2.0), 1.0 / (nm + 2.0));
    let mu: Vec<f64> = mean
        .iter()
        .enumerate()
        .map(|(k, y)| {
            let k = k as f64;
            let jac = a1 * ((k + 1.0) * thet).sin() / thet.sin() + (1.0 - (k + 1.0) * a1) * (k * thet).cos();
            let scale = if k == 0.0 { 1.0 / PI } else { 2.0 / PI };
            scale * jac * y
        })
        .collect();
    let pts = published_dos_grid(npts);
    let (ctr, wid) = ((lmin + lmax) / 2.0, (lmax - lmin) / 2.0 + 2.0 * f64::EPSILON);
    let xx: Vec<f64> = pts.iter().map(|t| ctr + wid * t).collect();
    let mut yy: Vec<f64> = pts
        .iter()
        .map(|&t| {
            let th = t.acos();
            mu.iter().enumerate().map(|(k, m)| m * (k as f64 * th).cos()).sum::<f64>() / (1.0 - t * t).sqrt()
        })
        .collect();
    let area = yy.iter().sum::<f64>() * (xx[1] - xx[0]);
    yy.iter_mut().for_each(|y| *y /= area);
    (xx, yy)
}
