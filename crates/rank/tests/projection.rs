//! Langevin dynamics on the quotient by a scale symmetry, against independent truths: the step
//! written out by hand, the discrete theory on the closed-form Hessian (coverage over many seeded
//! chains), the norm kept on its sphere, and the drift of the plain dynamics predicted in closed
//! form.
//!
//! The toy: C independent copies (rows) of L(w, u) = ½ (Ps)ᵀK(Ps) + ½ Σⱼ dⱼ(uⱼ − vⱼ)² with
//! s = w/‖w‖ and P = I − ttᵀ for a unit t, invariant to the scale of w. At θ₀ = (r t, v) it is a
//! minimum with Hessian H_ww = PKP/r², H_uu = diag(d): rank m − 1 + #{dⱼ > 0} for K full rank.
//! Ps is the orthographic chart of the sphere around t, so the loss is exactly quadratic in the
//! chart and each mode's departure from the linear theory is of the order of its own σ²/(2μr²)
//! (the chord (s − t)ᵀK(s − t) would couple every mode to the others' excursions).

use crate::common::*;
use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};
use hessrank_core::noise::SeededNoise;
use hessrank_core::params::{flatten_f64, params_of};
use hessrank_core::step_noise::CounterNoise;
use hessrank_core::{DiagPreconditioner, Objective, ParamLayout, ParamTensors};
use hessrank_rank::langevin::{LangevinRun, Observer, uncertainty};
use hessrank_rank::symmetry::{GroupSlice, ScaleGroup};
use hessrank_rank::theory::{DiscreteTheory, mode_eigenvalues};
use hessrank_rank::{Langevin, LangevinConfig, Scheme, StepSize};
use nalgebra::DMatrix;

/// C copies of (w, u), one per row.
#[derive(Module, Debug)]
struct Toy {
    w: Param<Tensor<2>>,
    u: Param<Tensor<2>>,
}

/// The toy's data: K (m×m), the unit direction t, d and v, for `chains` rows.
struct ToyLoss {
    k: Tensor<2>,
    t: Tensor<2>,
    d: Tensor<2>,
    v: Tensor<2>,
    chains: usize,
}

impl Objective for ToyLoss {
    type Model = Toy;

    fn loss(&self, model: &Toy) -> Tensor<1> {
        let w = model.w.val();
        let norm = w.clone().mul(w.clone()).sum_dim(1).sqrt();
        let s = w.div(norm);
        let along = s.clone().mul(self.t.clone()).sum_dim(1);
        let e = s.sub(self.t.clone().mul(along));
        let q = e.clone().matmul(self.k.clone()).mul(e).sum_dim(1);
        let du = model.u.val().sub(self.v.clone());
        let qu = du.clone().mul(du).mul(self.d.clone()).sum_dim(1);
        q.add(qu).mul_scalar(0.5).reshape([self.chains])
    }

    fn stacked(&self) -> usize {
        self.chains
    }
}

/// One copy's definition on the host.
struct Spec {
    k: DMatrix<f64>,
    t: Vec<f64>,
    d: Vec<f64>,
    v: Vec<f64>,
    /// ‖w₀‖.
    r: f64,
    /// G's diagonal for one copy: w's entries, then u's.
    g: Vec<f64>,
}

impl Spec {
    /// K with eigenvalues `k_eigs` (random rotation), a random unit t, G in (0.5, 1.5).
    fn random(k_eigs: &[f64], d: &[f64], r: f64, seed: u64) -> Self {
        let m = k_eigs.len();
        let k = with_spectrum(k_eigs, seed);
        let mut noise = SeededNoise::new(seed, 1);
        let t = noise.normal_vec(m);
        let tn = t.iter().map(|x| x * x).sum::<f64>().sqrt();
        let t: Vec<f64> = t.iter().map(|x| x / tn).collect();
        let v = noise.normal_vec(d.len());
        // Uniform in [0.5, 1.5] by the normal CDF's cousin: 1 + tanh(x)/2 of a normal x.
        let g = noise.normal_vec(m + d.len()).into_iter().map(|x| 1.0 + x.tanh() / 2.0).collect();
        Spec { k, t, d: d.to_vec(), v, r, g }
    }

    fn m(&self) -> usize {
        self.t.len()
    }

    /// The objective for `chains` copies, θ₀ = (r t, v) in every row (or `w0` for w), and G.
    fn build(&self, chains: usize, w0: Option<&[f64]>, device: &Device) -> (ToyLoss, Toy, DiagPreconditioner) {
        let (m, p) = (self.m(), self.d.len());
        let row = |v: &[f64]| Tensor::<2>::from_data(TensorData::new(v.to_vec(), [1, v.len()]), device);
        let k: Vec<f64> = (0..m).flat_map(|i| (0..m).map(move |j| (i, j))).map(|(i, j)| self.k[(i, j)]).collect();
        let objective = ToyLoss {
            k: Tensor::from_data(TensorData::new(k, [m, m]), device),
            t: row(&self.t),
            d: row(&self.d),
            v: row(&self.v),
            chains,
        };
        let w0: Vec<f64> = w0.map(<[f64]>::to_vec).unwrap_or_else(|| self.t.iter().map(|x| x * self.r).collect());
        let rows = |v: &[f64]| v.iter().cycle().take(v.len() * chains).copied().collect::<Vec<_>>();
        let model = Toy {
            w: Param::from_tensor(Tensor::from_data(TensorData::new(rows(&w0), [chains, m]), device)),
            u: Param::from_tensor(Tensor::from_data(TensorData::new(rows(&self.v), [chains, p]), device)),
        };
        let layout = ParamLayout::of(&model);
        let plain = params_of(&model).tensors[0].device();
        let values = ParamTensors::from_host(&layout, &[rows(&self.g[..m]), rows(&self.g[m..])], &plain).unwrap();
        let g = DiagPreconditioner::new(&layout, values).unwrap();
        (objective, model, g)
    }

    /// Every row's w as a group on the sphere of radius ‖w₀‖.
    fn groups(&self, chains: usize, w0_norm: f64) -> Vec<ScaleGroup> {
        (0..chains)
            .map(|c| ScaleGroup { group: format!("w[{c}]"), param: 0, slice: GroupSlice::Row(c), norm: w0_norm })
            .collect()
    }

    /// The closed-form Hessian of one copy at its minimum (r t, v): blocks PKP/r² and diag(d).
    fn hessian(&self) -> DMatrix<f64> {
        let (m, p) = (self.m(), self.d.len());
        let t = nalgebra::DVector::from_column_slice(&self.t);
        let proj = DMatrix::identity(m, m) - &t * t.transpose();
        let hw = &proj * &self.k * &proj / (self.r * self.r);
        let mut h = DMatrix::zeros(m + p, m + p);
        h.view_mut((0, 0), (m, m)).copy_from(&hw);
        for (j, &dj) in self.d.iter().enumerate() {
            h[(m + j, m + j)] = dj;
        }
        h
    }

    /// The host gradient of one copy at (w, u).
    fn gradient(&self, w: &[f64], u: &[f64]) -> Vec<f64> {
        let m = self.m();
        let r = w.iter().map(|x| x * x).sum::<f64>().sqrt();
        let s: Vec<f64> = w.iter().map(|x| x / r).collect();
        // ∇_w = (I − ssᵀ)/r · P K P s.
        let project = |v: &[f64]| {
            let along: f64 = v.iter().zip(&self.t).map(|(a, b)| a * b).sum();
            v.iter().zip(&self.t).map(|(a, b)| a - along * b).collect::<Vec<f64>>()
        };
        let e = project(&s);
        let ke = project(&(0..m).map(|i| (0..m).map(|j| self.k[(i, j)] * e[j]).sum()).collect::<Vec<f64>>());
        let ske: f64 = s.iter().zip(&ke).map(|(a, b)| a * b).sum();
        let mut g: Vec<f64> = (0..m).map(|i| (ke[i] - s[i] * ske) / r).collect();
        g.extend(u.iter().zip(&self.v).zip(&self.d).map(|((u, v), d)| d * (u - v)));
        g
    }
}

fn config(eta: f64, sigma2: f64, k_tot: usize, scheme: Scheme) -> LangevinConfig {
    LangevinConfig::new()
        .with_chains(1)
        .with_step(StepSize::Fixed(eta))
        .with_check_step(false)
        .with_sigma2(sigma2)
        .with_k_tot(k_tot)
        .with_k_avg(k_tot / 2)
        .with_scheme(scheme)
}

/// The projected step, written out on the host for a 3-parameter copy (w ∈ R², u ∈ R) away from
/// its minimum: Δ = −ηG∇L + √η σ G^½ ζ with ζ = ξ_k (EM) or (ξ_k + ξ_{k+1})/2 (LM), Δ_w ← Δ_w −
/// w(wᵀΔ_w)/‖w‖², w ← r₀(w + Δ_w)/‖w + Δ_w‖, u ← u + Δ_u. The run equals it to 1e-12 over 5 steps.
#[test]
fn the_projected_step_is_its_definition_for_both_schemes() {
    let device = f64_device();
    let spec = Spec {
        k: DMatrix::from_row_slice(2, 2, &[2.0, 0.3, 0.3, 0.7]),
        t: vec![0.6, 0.8],
        d: vec![1.3],
        v: vec![0.2],
        r: 1.0,
        g: vec![0.5, 2.0, 1.5],
    };
    let w0 = [1.5, -0.4];
    let r0 = (1.5f64 * 1.5 + 0.4 * 0.4).sqrt();
    let (eta, sigma2, seed) = (0.3, 0.05, 7);
    for scheme in [Scheme::EulerMaruyama, Scheme::LeimkuhlerMatthews] {
        let (objective, model, g) = spec.build(1, Some(&w0), &device);
        let config =
            config(eta, sigma2, 10, scheme).with_seed(seed).with_scale_groups(spec.groups(1, r0)).with_k_avg(10);
        let mut run = LangevinRun::new(&config, &objective, &model, &g).unwrap();
        let noise = CounterNoise::new(seed, 0);
        let xi = |k: u64| [noise.normal_f64(k, 0, 2), noise.normal_f64(k, 1, 1)].concat();
        let (mut w, mut u) = (w0.to_vec(), vec![0.2]);
        for k in 0..5u64 {
            run.step().unwrap();
            let zeta: Vec<f64> = match scheme {
                Scheme::EulerMaruyama => xi(k),
                Scheme::LeimkuhlerMatthews => xi(k).iter().zip(xi(k + 1)).map(|(a, b)| (a + b) * 0.5).collect(),
            };
            let grad = spec.gradient(&w, &u);
            let delta: Vec<f64> = (0..3)
                .map(|i| -eta * spec.g[i] * grad[i] + (eta * sigma2).sqrt() * spec.g[i].sqrt() * zeta[i])
                .collect();
            let radial = (w[0] * delta[0] + w[1] * delta[1]) / (w[0] * w[0] + w[1] * w[1]);
            let moved = [w[0] + delta[0] - w[0] * radial, w[1] + delta[1] - w[1] * radial];
            let norm = (moved[0] * moved[0] + moved[1] * moved[1]).sqrt();
            w = moved.iter().map(|x| r0 * x / norm).collect();
            u[0] += delta[2];
            let got = flatten_f64(run.models().next().unwrap());
            let want = [w.clone(), u.clone()].concat();
            for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                assert!((a - b).abs() <= 1e-12, "{scheme:?} step {k} entry {i}: run {a} vs definition {b}");
            }
        }
    }
}

/// A copy with K over four decades (m = 24) and four u modes, G in (0.5, 1.5): rank 27.
fn slow_spec() -> Spec {
    Spec::random(&log_spaced(1e-4, 1.0, 24), &[1.0, 0.3, 0.1, 0.03], 1.0, 5)
}

/// The discrete theory of the run on the closed-form Hessian at θ₀, for one copy.
fn theory(spec: &Spec, eta: f64, sigma2: f64, k_tot: usize, scheme: Scheme) -> f64 {
    let mu = mode_eigenvalues(&spec.hessian(), &spec.g);
    DiscreteTheory { mu, eta, sigma2, scheme }.expected_estimate(k_tot, k_tot / 2)
}

/// Runs `chains` copies and returns the window traces, the pooled estimate with its standard
/// error, and every row's ‖w‖ at the end.
fn run_copies(spec: &Spec, config: &LangevinConfig, chains: usize) -> (Vec<Vec<f64>>, f64, f64, Vec<f64>) {
    let device = f64_device();
    let (objective, model, g) = spec.build(chains, None, &device);
    let mut window = WindowTraces { from: config.k_tot - config.k_avg, traces: Vec::new() };
    let mut runner = LangevinRun::new(config, &objective, &model, &g).unwrap();
    while !runner.is_done() {
        runner.step_with(|it| window.iteration(it)).unwrap();
    }
    let w = params_of(runner.models().next().unwrap()).tensors[0].to_data().iter::<f64>().collect::<Vec<_>>();
    let norms = w.chunks(spec.m()).map(|row| row.iter().map(|x| x * x).sum::<f64>().sqrt()).collect();
    let means: Vec<f64> = window.traces.iter().map(|t| t.iter().sum::<f64>() / t.len() as f64).collect();
    let mean = means.iter().sum::<f64>() / means.len() as f64;
    let sd = (means.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (means.len() - 1) as f64).sqrt();
    (window.traces, mean, sd / (means.len() as f64).sqrt(), norms)
}

/// With the projection, 400 seeded chains of the toy (100 intervals of 4 chains) cover the
/// discrete theory on the closed-form Hessian at their stated 95 % (≥ 90 of 100), and their pooled
/// mean is within 3 SE of it, for both schemes; every w stays on its sphere to 1e-12.
#[test]
fn projected_chains_cover_the_discrete_theory_on_the_closed_form_hessian() {
    let spec = slow_spec();
    let (eta, sigma2, k_tot, chains) = (0.5, 3e-6, 4000, 400);
    for scheme in [Scheme::LeimkuhlerMatthews, Scheme::EulerMaruyama] {
        let truth = theory(&spec, eta, sigma2, k_tot, scheme);
        let config = config(eta, sigma2, k_tot, scheme).with_scale_groups(spec.groups(chains, spec.r));
        let (traces, mean, se, norms) = run_copies(&spec, &config, chains);
        let covered = traces
            .chunks_exact(4)
            .filter(|g| {
                let u = uncertainty(g);
                u.ci95[0] <= truth && truth <= u.ci95[1]
            })
            .count();
        println!("{scheme:?}: theory {truth:.3}, pooled {mean:.3} ± {se:.3}, {covered}/100 intervals cover");
        assert!(covered >= 90, "{scheme:?}: {covered}/100 intervals cover the theory {truth}");
        assert!((mean - truth).abs() <= 3.0 * se, "{scheme:?}: pooled {mean} ± {se} vs theory {truth}");
        let worst = norms.iter().map(|n| (n - spec.r).abs()).fold(0.0, f64::max);
        assert!(worst <= 1e-12, "{scheme:?}: a group's norm moved by {worst}");
    }
}

/// A copy with m = 200 and K's eigenvalues over four decades, 50 a decade: the modes around the
/// threshold 1/(2ηK) of a 16,000-step run are dense, while the noise that drives ‖w‖ grows with m.
/// G constant (0.8) on w when `flat_g_on_w`.
fn dense_spec(flat_g_on_w: bool) -> Spec {
    let mut spec = Spec::random(&log_spaced(1e-4, 1.0, 200), &[1.0, 0.3, 0.1, 0.03], 1.0, 9);
    if flat_g_on_w {
        spec.g[..200].fill(0.8);
    }
    spec
}

/// The mean of ‖w_K‖² over the chains' rows, with its standard error.
fn mean_sq(norms: &[f64]) -> (f64, f64) {
    let sq: Vec<f64> = norms.iter().map(|n| n * n).collect();
    let n = sq.len() as f64;
    let mean = sq.iter().sum::<f64>() / n;
    (mean, (sq.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) / n).sqrt())
}

/// Without the projection the norm of w random-walks upward. With G constant on the group the
/// growth is E‖w_K‖² = r² + Kησ² Σ_{i∈w} Gᵢ exactly (the gradient is orthogonal to w, so only the
/// noise moves the norm; the prediction the pre-run warning uses), measured over 128 chains
/// within 3 SE at K = 2,000 and 16,000. With G varying on the group, the drift's radial part
/// ηwᵀG∇L takes some of it back here: the prediction overshoots, by less than 25 %.
#[test]
fn the_plain_dynamics_grow_each_groups_norm_as_predicted() {
    let (eta, sigma2, chains) = (0.5, 1e-6, 128);
    for flat in [true, false] {
        let spec = dense_spec(flat);
        let sum_g: f64 = spec.g[..spec.m()].iter().sum();
        for k_tot in [2000, 16000] {
            let (_, _, _, norms) = run_copies(&spec, &config(eta, sigma2, k_tot, Scheme::LeimkuhlerMatthews), chains);
            let (sq, se) = mean_sq(&norms);
            let predicted = spec.r * spec.r + k_tot as f64 * eta * sigma2 * sum_g;
            println!("G constant on w: {flat}, K = {k_tot}: ‖w‖² {sq:.4} ± {se:.4}, predicted {predicted:.4}");
            if flat {
                assert!((sq - predicted).abs() <= 3.0 * se, "‖w‖² {sq} ± {se} vs predicted {predicted}");
            } else {
                assert!(sq <= predicted + 3.0 * se && sq - 1.0 >= 0.75 * (predicted - 1.0), "{sq} vs {predicted}");
            }
        }
    }
}

/// Without the projection the estimate falls away from the discrete theory on the Hessian at θ₀
/// as K grows (the slow modes' curvature falls as 1/‖w‖²): more than 5 SE below it at K = 16,000,
/// and further below than at K = 2,000. With the projection the same chains at 16,000 agree with
/// it within 3 SE, and every w has kept its norm to 1e-12 over the 16,000 steps.
#[test]
fn plain_chains_drift_off_the_theory_and_projected_ones_do_not() {
    let spec = dense_spec(false);
    let (eta, sigma2, chains) = (0.5, 1e-6, 256);
    let mut z = Vec::new();
    for k_tot in [2000, 16000] {
        let truth = theory(&spec, eta, sigma2, k_tot, Scheme::LeimkuhlerMatthews);
        let (_, mean, se, _) = run_copies(&spec, &config(eta, sigma2, k_tot, Scheme::LeimkuhlerMatthews), chains);
        println!("off, K = {k_tot}: theory {truth:.3}, estimate {mean:.3} ± {se:.3}");
        z.push((mean - truth) / se);
    }
    let truth = theory(&spec, eta, sigma2, 16000, Scheme::LeimkuhlerMatthews);
    let config = config(eta, sigma2, 16000, Scheme::LeimkuhlerMatthews).with_scale_groups(spec.groups(chains, spec.r));
    let (_, mean, se, norms) = run_copies(&spec, &config, chains);
    println!("projected, K = 16000: theory {truth:.3}, estimate {mean:.3} ± {se:.3}");
    assert!(z[1] < -5.0 && z[1] < z[0] - 3.0, "the plain estimate falls away as K grows: z = {z:?}");
    assert!((mean - truth).abs() <= 3.0 * se, "projected {mean} ± {se} vs theory {truth}");
    let worst = norms.iter().map(|n| (n - spec.r).abs()).fold(0.0, f64::max);
    assert!(worst <= 1e-12, "a group's norm moved by {worst} over 16,000 steps");
}

/// Dead groups (‖w₀‖ = 0) are left out, and an empty projection is the plain run, bitwise.
#[test]
fn no_live_group_runs_bitwise_as_the_plain_dynamics() {
    let spec = slow_spec();
    let device = f64_device();
    let (objective, model, g) = spec.build(3, None, &device);
    let dead = vec![ScaleGroup { group: "w[1]".into(), param: 0, slice: GroupSlice::Row(1), norm: 0.0 }];
    let base = config(0.5, 1e-5, 200, Scheme::LeimkuhlerMatthews);
    let plain = Langevin::new(&base).run(&objective, &model, &g).unwrap();
    let with_dead = Langevin::new(&base.clone().with_scale_groups(dead)).run(&objective, &model, &g).unwrap();
    assert_eq!(plain.uncertainty.estimate.to_bits(), with_dead.uncertainty.estimate.to_bits());
    // A group whose norm is not θ₀'s was found at another point: refused, naming it.
    let wrong = vec![ScaleGroup { group: "w[2]".into(), param: 0, slice: GroupSlice::Row(2), norm: 3.0 }];
    let err = Langevin::new(&base.with_scale_groups(wrong)).run(&objective, &model, &g).unwrap_err().to_string();
    assert!(err.contains("w[2]"), "{err}");
}
