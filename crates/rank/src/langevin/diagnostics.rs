//! MCMC diagnostics of the excess-loss traces, by the published definitions of Stan and ArviZ
//! (Vehtari, Gelman, Simpson, Carpenter, Bürkner 2021, "Rank-normalization, folding, and
//! localization: an improved R̂"; Geyer 1992 for the initial monotone sequence):
//! - [`split_r_hat`]: rank-normalised split-R̂, the larger of the bulk and the folded (tail) R̂;
//! - [`ess_bulk`]: the effective sample size of the rank-normalised split chains;
//! - [`mean_stderr`]: the standard error of a chain's mean, var · τ / N with τ from Geyer's initial
//!   monotone sequence of autocorrelations.
//!
//! Written here because no maintained Rust crate implements these definitions; each function
//! follows the reference R code of the `posterior` package (`rhat`, `ess_bulk`, `ess_rfun`), with
//! rustfft for the autocovariances.

/// Autocovariances of one chain at every lag, by FFT (Wiener–Khinchin, zero-padded to avoid wrap
/// around), as `posterior::autocovariance` computes them: O(N log N) where a direct sum is O(N²).
struct Autocovariance {
    acov: Vec<f64>,
}

impl Autocovariance {
    fn new(chain: &[f64]) -> Self {
        use rustfft::{FftPlanner, num_complex::Complex};
        let n = chain.len();
        let mean = chain.iter().sum::<f64>() / n as f64;
        let len = (2 * n).next_power_of_two();
        let mut buf: Vec<Complex<f64>> = chain.iter().map(|x| Complex::new(x - mean, 0.0)).collect();
        buf.resize(len, Complex::new(0.0, 0.0));
        let mut planner = FftPlanner::new();
        planner.plan_fft_forward(len).process(&mut buf);
        buf.iter_mut().for_each(|z| *z = Complex::new(z.norm_sqr(), 0.0));
        planner.plan_fft_inverse(len).process(&mut buf);
        // rustfft leaves the inverse unnormalised (× len).
        Self { acov: buf[..n].iter().map(|z| z.re / (len as f64 * n as f64)).collect() }
    }

    /// (1/N) Σ_{i < N − t} (x_i − x̄)(x_{i+t} − x̄): the biased estimate, as `posterior` uses.
    fn at(&self, t: usize) -> f64 {
        self.acov.get(t).copied().unwrap_or(0.0)
    }
}

/// The effective sample size of M chains of equal length N (`posterior::ess_rfun`): the combined
/// autocorrelation ρ̂_t = 1 − (W − mean_m acov_m(t)) / var⁺, summed in pairs while the pairs are
/// positive (Geyer's initial positive sequence), made monotone, then N M / τ̂.
///
/// Returns NaN for fewer than 4 draws per chain or for constant chains.
pub fn ess(chains: &[&[f64]]) -> f64 {
    let m = chains.len();
    let n = chains.first().map_or(0, |c| c.len());
    if m == 0 || n < 4 || chains.iter().any(|c| c.len() != n) {
        return f64::NAN;
    }
    let acov: Vec<Autocovariance> = chains.iter().map(|c| Autocovariance::new(c)).collect();
    let nf = n as f64;
    let mean_acov = |t: usize| acov.iter().map(|a| a.at(t)).sum::<f64>() / m as f64;
    let mean_var = mean_acov(0) * nf / (nf - 1.0);
    let mut var_plus = mean_var * (nf - 1.0) / nf;
    if m > 1 {
        let means: Vec<f64> = chains.iter().map(|c| c.iter().sum::<f64>() / nf).collect();
        var_plus += variance(&means);
    }
    if var_plus.is_nan() || var_plus <= 0.0 {
        return f64::NAN;
    }
    let rho = |t: usize| 1.0 - (mean_var - mean_acov(t)) / var_plus;
    let mut rho_hat = vec![0.0; n];
    let mut t = 0;
    let mut even = 1.0;
    let mut odd = rho(1);
    rho_hat[0] = even;
    rho_hat[1] = odd;
    while t + 5 < n && !(even + odd).is_nan() && even + odd > 0.0 {
        t += 2;
        even = rho(t);
        odd = rho(t + 1);
        if even + odd >= 0.0 {
            rho_hat[t] = even;
            rho_hat[t + 1] = odd;
        }
    }
    let max_t = t;
    if even > 0.0 {
        rho_hat[max_t] = even;
    }
    // Geyer's initial monotone sequence: each pair no larger than the one before.
    let mut t = 0;
    while t + 4 <= max_t {
        t += 2;
        if rho_hat[t] + rho_hat[t + 1] > rho_hat[t - 2] + rho_hat[t - 1] {
            rho_hat[t] = (rho_hat[t - 2] + rho_hat[t - 1]) / 2.0;
            rho_hat[t + 1] = rho_hat[t];
        }
    }
    let draws = (m * n) as f64;
    // The improved estimate (it adds ρ̂ at max_t, which reduces the variance for antithetic chains).
    let tau = -1.0 + 2.0 * rho_hat[..max_t].iter().sum::<f64>() + rho_hat[max_t];
    draws / tau.max(1.0 / draws.log10())
}

/// Standard error of the mean of one chain, √(var · τ̂ / N) with τ̂ = N / ESS from [`ess`]: the
/// autocorrelation-aware replacement of the naive σ/√N. NaN when the chain is too short.
pub fn mean_stderr(chain: &[f64]) -> f64 {
    let n = chain.len() as f64;
    let mean = chain.iter().sum::<f64>() / n;
    let var = chain.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (var / ess(&[chain])).sqrt()
}

/// Rank-normalised split-R̂ of M chains (`posterior::rhat`): the larger of the bulk R̂ (of the
/// normal scores of the pooled ranks) and the tail R̂ (of the folded draws |x − median|), each
/// computed on the chains split in halves. ≈ 1 for chains that sample one distribution.
pub fn split_r_hat(chains: &[&[f64]]) -> f64 {
    let split = split_chains(chains);
    let bulk = r_hat(&z_scale(&split));
    let median = median(split.iter().flatten().copied().collect());
    let folded: Vec<Vec<f64>> = split.iter().map(|c| c.iter().map(|x| (x - median).abs()).collect()).collect();
    let tail = r_hat(&z_scale(&folded));
    bulk.max(tail)
}

/// Bulk effective sample size (`posterior::ess_bulk`): [`ess`] of the rank-normalised split chains.
pub fn ess_bulk(chains: &[&[f64]]) -> f64 {
    let z = z_scale(&split_chains(chains));
    ess(&z.iter().map(Vec::as_slice).collect::<Vec<_>>())
}

/// Each chain cut into its first and second half (the middle draw of an odd chain is dropped).
fn split_chains(chains: &[&[f64]]) -> Vec<Vec<f64>> {
    chains
        .iter()
        .flat_map(|c| {
            let half = c.len() / 2;
            [c[..half].to_vec(), c[c.len() - half..].to_vec()]
        })
        .collect()
}

/// Normal scores of the pooled fractional ranks: Φ⁻¹((r − 3/8) / (S + 1/4)), ties averaged.
fn z_scale(chains: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let mut all: Vec<(f64, usize)> = chains.iter().flatten().copied().zip(0..).collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let s = all.len();
    let mut ranks = vec![0.0; s];
    let mut i = 0;
    while i < s {
        let mut j = i;
        while j + 1 < s && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let average = (i + j) as f64 / 2.0 + 1.0;
        for item in &all[i..=j] {
            ranks[item.1] = average;
        }
        i = j + 1;
    }
    let mut z = ranks.into_iter().map(|r| inverse_normal_cdf((r - 0.375) / (s as f64 + 0.25)));
    chains.iter().map(|c| z.by_ref().take(c.len()).collect()).collect()
}

/// The classic R̂ = √(var⁺ / W) of chains of equal length.
fn r_hat(chains: &[Vec<f64>]) -> f64 {
    let m = chains.len();
    let n = chains.first().map_or(0, Vec::len);
    if m < 2 || n < 2 {
        return f64::NAN;
    }
    let means: Vec<f64> = chains.iter().map(|c| c.iter().sum::<f64>() / n as f64).collect();
    let b = n as f64 * variance(&means);
    let w = chains.iter().map(|c| variance(c)).sum::<f64>() / m as f64;
    let var_plus = (n as f64 - 1.0) / n as f64 * w + b / n as f64;
    (var_plus / w).sqrt()
}

/// Sample variance (denominator n − 1).
fn variance(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
}

fn median(mut x: Vec<f64>) -> f64 {
    x.sort_by(f64::total_cmp);
    let n = x.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        x[n / 2]
    } else {
        0.5 * (x[n / 2 - 1] + x[n / 2])
    }
}

/// Φ⁻¹(p), the standard normal quantile: Acklam's rational approximation (relative error
/// < 1.2e-9), ample for normal scores of ranks.
pub fn inverse_normal_cdf(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e+01,
        2.209460984245205e+02,
        -2.759285104469687e+02,
        1.38357751867269e+02,
        -3.066479806614716e+01,
        2.506628277459239e+00,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e+01,
        1.615858368580409e+02,
        -1.556989798598866e+02,
        6.680131188771972e+01,
        -1.328068155288572e+01,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-03,
        -3.223964580411365e-01,
        -2.400758277161838e+00,
        -2.549732539343734e+00,
        4.374664141464968e+00,
        2.938163982698783e+00,
    ];
    const D: [f64; 4] = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00];
    const LOW: f64 = 0.02425;
    if !(p > 0.0 && p < 1.0) {
        return if p == 0.0 {
            f64::NEG_INFINITY
        } else if p == 1.0 {
            f64::INFINITY
        } else {
            f64::NAN
        };
    }
    let tail = |q: f64| {
        let q = (-2.0 * q.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < LOW {
        tail(p)
    } else if p > 1.0 - LOW {
        -tail(1.0 - p)
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hessrank_core::noise::SeededNoise;

    /// x_t = φ x_{t−1} + ε_t from the stationary distribution, ε ~ N(0, 1).
    fn ar1(phi: f64, n: usize, seed: u64) -> Vec<f64> {
        let eps = SeededNoise::new(seed, 1).normal_vec(n);
        let mut x = eps[0] / (1.0 - phi * phi).sqrt();
        eps.iter()
            .map(|e| {
                x = phi * x + e;
                x
            })
            .collect()
    }

    /// The exact variance of the mean of N stationary AR(1) draws (unit innovations):
    /// γ₀/N [(1+φ)/(1−φ) − 2φ(1−φᴺ)/(N(1−φ)²)], γ₀ = 1/(1−φ²).
    fn ar1_mean_variance(phi: f64, n: usize) -> f64 {
        let nf = n as f64;
        let g0 = 1.0 / (1.0 - phi * phi);
        g0 / nf * ((1.0 + phi) / (1.0 - phi) - 2.0 * phi * (1.0 - phi.powf(nf)) / (nf * (1.0 - phi).powi(2)))
    }

    #[test]
    fn single_chain_stderr_matches_the_exact_ar1_value_on_average() {
        for (phi, n, reps) in [(0.9, 4_000, 300), (0.99, 40_000, 60)] {
            let exact = ar1_mean_variance(phi, n).sqrt();
            let mean_se = (0..reps).map(|r| mean_stderr(&ar1(phi, n, 100 + r))).sum::<f64>() / reps as f64;
            // The naive σ/√N would be off by √τ: 4.4× at φ = 0.9, 14× at φ = 0.99.
            println!("φ = {phi}: mean SE {mean_se:.5} vs exact {exact:.5}");
            assert!((mean_se / exact - 1.0).abs() < 0.15, "φ = {phi}: mean SE {mean_se} vs exact {exact}");
        }
    }

    #[test]
    fn r_hat_is_one_for_equilibrated_chains_and_large_for_distinct_starts() {
        let chains: Vec<Vec<f64>> = (0..4).map(|c| ar1(0.5, 2000, 7 + c)).collect();
        let refs: Vec<&[f64]> = chains.iter().map(Vec::as_slice).collect();
        let r = split_r_hat(&refs);
        assert!((r - 1.0).abs() < 0.01, "R̂ of equilibrated chains {r}");
        let ess = ess_bulk(&refs);
        // τ = (1 + φ)/(1 − φ) = 3: ESS ≈ 8000 / 3.
        assert!((ess / (8000.0 / 3.0) - 1.0).abs() < 0.15, "bulk ESS {ess}");
        // Chains started at ±5, ±10 with φ = 0.999 have not forgotten their starts.
        let apart: Vec<Vec<f64>> = [-10.0, -5.0, 5.0, 10.0]
            .iter()
            .enumerate()
            .map(|(c, &x0)| {
                let eps = SeededNoise::new(40 + c as u64, 1).normal_vec(1000);
                let mut x = x0;
                eps.iter()
                    .map(|e| {
                        x = 0.999 * x + 0.1 * e;
                        x
                    })
                    .collect()
            })
            .collect();
        let refs: Vec<&[f64]> = apart.iter().map(Vec::as_slice).collect();
        let r = split_r_hat(&refs);
        assert!(r > 1.1, "R̂ of chains started apart {r}");
    }

    #[test]
    fn inverse_normal_cdf_matches_published_quantiles() {
        for (p, z) in [
            (0.5, 0.0),
            (0.975, 1.959963984540054),
            (0.025, -1.959963984540054),
            (0.8413447460685429, 1.0),
            (1e-6, -4.753424308822899),
            (0.999, 3.090232306167813),
        ] {
            let got = inverse_normal_cdf(p);
            assert!((got - z).abs() < 2e-9 * z.abs().max(1.0), "Φ⁻¹({p}) = {got}, expected {z}");
        }
    }
}
