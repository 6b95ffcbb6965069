//! Algorithm 1 on quadratics with known spectra: the estimate against the rank, the discrete-time
//! theory and Theorem 1.

use crate::common::*;
use burn::tensor::{Tensor, TensorData};
use hessrank_core::noise::SeededNoise;
use hessrank_core::params::flatten_f64;
use hessrank_core::step_noise::CounterNoise;
use hessrank_core::{DiagPreconditioner, Error, ParamLayout, ParamTensors};
use hessrank_rank::langevin::{Iteration, Langevin, LangevinRun, Observer, Warning};
use hessrank_rank::quadratic::{Points, Quadratic};
use hessrank_rank::theory::{DiscreteTheory, OuModel, mode_eigenvalues};
use hessrank_rank::{LangevinConfig, Scheme, StepSize};
use nalgebra::DMatrix;

/// n = 60, rank 25, nonzero eigenvalues log-spaced over [0.05, 20].
fn rank25() -> (DMatrix<f64>, Vec<f64>) {
    let mut ev = log_spaced(0.05, 20.0, 25);
    ev.extend(std::iter::repeat_n(0.0, 35));
    (with_spectrum(&ev, 7), ev)
}

#[test]
fn leimkuhler_matthews_with_16_chains_recovers_rank_25_within_2_percent() {
    let device = f64_device();
    let (s, _) = rank25();
    let q = Quadratic::new(&row_major(&s), 60, 16, &device, "test").unwrap();
    let theta0 = Points::zeros(16, 60, &device);
    let g = DiagPreconditioner::identity(&ParamLayout::of(&theta0), &device);
    let config = LangevinConfig::new()
        .with_chains(1)
        .with_step(StepSize::Auto { c: 1.0 })
        .with_sigma2(1e-2)
        .with_k_tot(6000)
        .with_k_avg(5000)
        .with_seed(3);
    let r = Langevin::new(&config).run(&q, &theta0, &g).unwrap();
    println!(
        "LM quadratic: {:.3} ± {:.3} CI {:?} μ_max {:?}",
        r.uncertainty.estimate, r.uncertainty.stderr, r.uncertainty.ci95, r.mu_max
    );
    assert!(
        (r.uncertainty.estimate - 25.0).abs() < 0.5,
        "estimate {} ± {}",
        r.uncertainty.estimate,
        r.uncertainty.stderr
    );
    assert!(
        r.uncertainty.ci95[0] <= 25.0 && 25.0 <= r.uncertainty.ci95[1],
        "95 % interval {:?} misses 25",
        r.uncertainty.ci95
    );
    let mu = r.mu_max.unwrap();
    assert!((mu - 20.0).abs() < 0.2, "power iteration μ_max {mu}");
    assert_eq!(r.n_params, 60);
    assert_eq!(r.chain.len(), 16);
}

#[test]
fn euler_maruyama_overestimates_by_what_the_discrete_theory_predicts() {
    let device = f64_device();
    let (s, ev) = rank25();
    let q = Quadratic::new(&row_major(&s), 60, 16, &device, "test").unwrap();
    let theta0 = Points::zeros(16, 60, &device);
    let g = DiagPreconditioner::identity(&ParamLayout::of(&theta0), &device);
    let eta = 1.0 / 20.0; // η μ_max = 1
    let config = LangevinConfig::new()
        .with_chains(1)
        .with_step(StepSize::Fixed(eta))
        .with_scheme(Scheme::EulerMaruyama)
        .with_sigma2(1e-2)
        .with_k_tot(6000)
        .with_k_avg(5000)
        .with_seed(4);
    let r = Langevin::new(&config).run(&q, &theta0, &g).unwrap();
    let theory = DiscreteTheory { mu: ev.clone(), eta, sigma2: 1e-2, scheme: Scheme::EulerMaruyama };
    let predicted = theory.expected_estimate(6000, 5000);
    assert!(predicted > 27.0, "EM at η μ_max = 1 inflates the stiff modes: predicted {predicted}");
    println!("EM quadratic: {:.3} ± {:.3} vs predicted {predicted:.3}", r.uncertainty.estimate, r.uncertainty.stderr);
    assert!(
        (r.uncertainty.estimate / predicted - 1.0).abs() < 0.03,
        "EM estimate {} vs discrete theory {predicted}",
        r.uncertainty.estimate
    );
}

/// Mean loss over chains at the recorded iterations.
struct MeanTrace {
    at: Vec<usize>,
    means: Vec<f64>,
    stderrs: Vec<f64>,
}

impl Observer for MeanTrace {
    fn iteration(&mut self, it: &Iteration<'_>) -> bool {
        let (k, losses) = (it.k, it.losses);
        if self.at.contains(&k) {
            let n = losses.len() as f64;
            let m = losses.iter().sum::<f64>() / n;
            let var = losses.iter().map(|l| (l - m).powi(2)).sum::<f64>() / (n - 1.0);
            self.means.push(m);
            self.stderrs.push((var / n).sqrt());
        }
        true
    }
}

#[test]
fn theorem1_curve_matches_the_mean_of_256_chains_with_a_diagonal_preconditioner() {
    let device = f64_device();
    let n = 10;
    let h = with_spectrum(&log_spaced(0.3, 3.0, n), 11);
    let gdiag: Vec<f64> = (0..n).map(|i| 0.5 + 0.15 * i as f64).collect();
    let chains = 256;
    let q = Quadratic::new(&row_major(&h), n, chains, &device, "test").unwrap();
    let theta0 = Points::zeros(chains, n, &device);
    let layout = ParamLayout::of(&theta0);
    let g_full: Vec<f64> = (0..chains).flat_map(|_| gdiag.iter().copied()).collect();
    let g = DiagPreconditioner::new(&layout, ParamTensors::from_flat(&layout, &g_full, &device).unwrap()).unwrap();
    let mu = mode_eigenvalues(&h, &gdiag);
    let eta = 0.005 / mu[n - 1];
    let sigma2 = 0.1;
    let k_tot = (3.0 / (mu[0] * eta)) as usize;
    let at: Vec<usize> = (1..=20).map(|j| j * (k_tot - 1) / 20).collect();
    let mut trace = MeanTrace { at: at.clone(), means: vec![], stderrs: vec![] };
    let config = LangevinConfig::new()
        .with_chains(1)
        .with_step(StepSize::Fixed(eta))
        .with_scheme(Scheme::EulerMaruyama)
        .with_sigma2(sigma2)
        .with_k_tot(k_tot)
        .with_k_avg(k_tot / 2)
        .with_seed(5);
    Langevin::new(&config).observe(&mut trace).run(&q, &theta0, &g).unwrap();
    let gm = DMatrix::from_diagonal(&nalgebra::DVector::from_column_slice(&gdiag));
    let sigma = DMatrix::from_diagonal(&nalgebra::DVector::from_iterator(n, gdiag.iter().map(|g| sigma2 / g)));
    let ou = OuModel::new(&h, &gm, &sigma);
    assert_eq!(trace.means.len(), 20);
    for ((&k, m), se) in at.iter().zip(&trace.means).zip(&trace.stderrs) {
        let expected = ou.expected_loss(eta * k as f64);
        assert!((m - expected).abs() < 3.0 * se, "k = {k}: mean {m} vs Theorem 1 {expected} (se {se})");
    }
}

#[test]
fn one_step_through_burn_equals_the_hand_written_update() {
    let device = f64_device();
    let n = 6;
    let s = with_spectrum(&[3.0, 2.0, 1.0, 0.5, 0.0, 0.0], 2);
    let q = Quadratic::new(&row_major(&s), n, 1, &device, "test").unwrap();
    let start: Vec<f64> = SeededNoise::new(9, 9).normal_vec(n);
    let theta0 = Points {
        theta: burn::module::Param::from_tensor(Tensor::from_data(TensorData::new(start.clone(), [1, n]), &device)),
    };
    let layout = ParamLayout::of(&theta0);
    let gdiag = vec![0.5, 1.0, 1.5, 2.0, 0.25, 4.0];
    let g = DiagPreconditioner::new(&layout, ParamTensors::from_flat(&layout, &gdiag, &device).unwrap()).unwrap();
    let (eta, sigma2, seed) = (0.01, 0.3, 17);
    for scheme in [Scheme::EulerMaruyama, Scheme::LeimkuhlerMatthews] {
        let config = LangevinConfig::new()
            .with_chains(1)
            .with_step(StepSize::Fixed(eta))
            .with_scheme(scheme)
            .with_sigma2(sigma2)
            .with_k_tot(1)
            .with_k_avg(1)
            .with_seed(seed);
        let mut state = LangevinRun::new(&config, &q, &theta0, &g).unwrap();
        state.step().unwrap();
        let got = flatten_f64(state.models().next().unwrap());
        // Chain 0 draws from stream 0, its one parameter tensor being part 0: ξ_0 (draw 0) for
        // EM; ξ_0 and ξ_1 (draws 0 and 1) for LM.
        let noise = CounterNoise::new(seed, 0);
        let first = noise.normal_f64(0, 0, n);
        let zeta: Vec<f64> = match scheme {
            Scheme::EulerMaruyama => first,
            Scheme::LeimkuhlerMatthews => {
                let second = noise.normal_f64(1, 0, n);
                first.iter().zip(&second).map(|(a, b)| 0.5 * (a + b)).collect()
            }
        };
        for i in 0..n {
            let grad: f64 = (0..n).map(|j| s[(i, j)] * start[j]).sum();
            let expected = start[i] - eta * gdiag[i] * grad + (eta * sigma2).sqrt() * gdiag[i].sqrt() * zeta[i];
            assert!((got[i] - expected).abs() < 1e-12, "{scheme:?} θ[{i}] = {} vs {expected}", got[i]);
        }
    }
}

#[test]
fn a_step_far_too_large_stops_with_the_divergence_error() {
    let device = f64_device();
    let (s, _) = rank25();
    let q = Quadratic::new(&row_major(&s), 60, 1, &device, "test").unwrap();
    let theta0 = Points::zeros(1, 60, &device);
    let g = DiagPreconditioner::identity(&ParamLayout::of(&theta0), &device);
    let config = LangevinConfig::new()
        .with_chains(1)
        .with_sigma2(2e-5)
        .with_step(StepSize::Fixed(1.0))
        .with_k_tot(500)
        .with_k_avg(100);
    // The step check warns before the run: η μ_max = 20.
    let state = LangevinRun::new(&config, &q, &theta0, &g).unwrap();
    assert!(
        state
            .warnings()
            .iter()
            .any(|w| matches!(w, Warning::UnstableStep { eta, mu_max } if *eta == 1.0 && eta * mu_max >= 2.0)
                && w.to_string().contains("will diverge")),
        "{:?}",
        state.warnings()
    );
    let err = Langevin::new(&config).run(&q, &theta0, &g).unwrap_err();
    assert!(
        matches!(&err, Error::Diverged { phase: "langevin", chain: Some(0), eta: 1.0, eta_mu_max: Some(m), loss, bound, .. }
            if *m > 2.0 && (loss.is_nan() || loss > bound)),
        "{err}"
    );
}

#[test]
fn bad_settings_name_the_field() {
    for (config, field) in [
        (LangevinConfig::new().with_chains(1).with_k_tot(15000).with_k_avg(10000).with_sigma2(0.0), "sigma2"),
        (LangevinConfig::new().with_chains(1).with_k_tot(15000).with_k_avg(10000).with_sigma2(-1.0), "sigma2"),
        (LangevinConfig::new().with_chains(1).with_sigma2(2e-5).with_k_tot(10).with_k_avg(20), "k_avg"),
        (
            LangevinConfig::new()
                .with_chains(1)
                .with_sigma2(2e-5)
                .with_k_tot(15000)
                .with_k_avg(10000)
                .with_step(StepSize::Fixed(-1.0)),
            "eta",
        ),
        (LangevinConfig::new().with_sigma2(2e-5).with_k_tot(15000).with_k_avg(10000).with_chains(0), "chains"),
    ] {
        let err = config.validate().unwrap_err();
        assert!(matches!(&err, Error::InvalidConfig { field: f, .. } if *f == field), "{err}");
    }
}

#[test]
fn same_seed_gives_bitwise_the_same_estimate_again_on_each_cpu_backend() {
    for device in [f64_device(), f64_ndarray()] {
        let (s, _) = rank25();
        let q = Quadratic::new(&row_major(&s), 60, 4, &device, "test").unwrap();
        let theta0 = Points::zeros(4, 60, &device);
        let g = DiagPreconditioner::identity(&ParamLayout::of(&theta0), &device);
        let config =
            LangevinConfig::new().with_chains(1).with_k_tot(300).with_k_avg(200).with_sigma2(1e-2).with_seed(9);
        let a = Langevin::new(&config).run(&q, &theta0, &g).unwrap();
        let b = Langevin::new(&config).run(&q, &theta0, &g).unwrap();
        let c = Langevin::new(&config.clone().with_seed(10)).run(&q, &theta0, &g).unwrap();
        assert_eq!(a.uncertainty.estimate.to_bits(), b.uncertainty.estimate.to_bits());
        assert_eq!(a.eta.to_bits(), b.eta.to_bits());
        assert!(a.chain.iter().zip(&b.chain).all(|(x, y)| x.window_mean.to_bits() == y.window_mean.to_bits()));
        assert_ne!(a.uncertainty.estimate, c.uncertainty.estimate);
        assert_eq!(a.config.seed, 9, "the seed is in the result");
    }
}

/// Stops the run after iteration `at`.
struct StopAt(usize);

impl Observer for StopAt {
    fn iteration(&mut self, it: &Iteration<'_>) -> bool {
        it.k < self.0
    }
}

#[test]
fn an_interrupted_estimate_resumes_to_bitwise_the_same_result() {
    use hessrank_rank::DriftCorrection;
    use hessrank_rank::langevin::Checkpointing;
    for device in [f64_device(), f64_ndarray()] {
        let (s, _) = rank25();
        let q = Quadratic::new(&row_major(&s), 60, 3, &device, "test").unwrap();
        let theta0 = Points::zeros(3, 60, &device);
        let g = DiagPreconditioner::identity(&ParamLayout::of(&theta0), &device);
        let config = LangevinConfig::new()
            .with_k_tot(300)
            .with_k_avg(200)
            .with_sigma2(1e-2)
            .with_chains(2)
            .with_drift(DriftCorrection::ControlVariate)
            .with_seed(5);
        let dir = std::env::temp_dir().join(format!("hessrank-resume-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let whole = Checkpointing { path: dir.join("whole.json"), every: 50 };
        let a = Langevin::new(&config).checkpoint(whole).run(&q, &theta0, &g).unwrap();
        let cut = Checkpointing { path: dir.join("cut.json"), every: 50 };
        let partial =
            Langevin::new(&config).observe(&mut StopAt(137)).checkpoint(cut.clone()).run(&q, &theta0, &g).unwrap();
        assert!(partial.partial && partial.iterations == 138, "{} {}", partial.partial, partial.iterations);
        let b = Langevin::new(&config).checkpoint(cut.clone()).resume(true).run(&q, &theta0, &g).unwrap();
        assert!(!b.partial);
        assert_eq!(
            a.uncertainty.estimate.to_bits(),
            b.uncertainty.estimate.to_bits(),
            "{} vs {}",
            a.uncertainty.estimate,
            b.uncertainty.estimate
        );
        assert_eq!(a.drift.unwrap().to_bits(), b.drift.unwrap().to_bits());
        assert_eq!(a.grad_evals, b.grad_evals);
        // Other settings refuse the saved state.
        let err = Langevin::new(&config.clone().with_seed(6))
            .checkpoint(cut.clone())
            .resume(true)
            .run(&q, &theta0, &g)
            .unwrap_err();
        assert!(
            matches!(&err, Error::SettingsMismatch { path, field: "seed", saved, given } if *path == cut.path && saved != "6" && given == "6"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// A loss with a random term is not a function of θ: the run is refused before it starts, with
/// the difference named; the same loss without the term runs.
#[test]
fn a_nondeterministic_objective_is_refused_before_the_run() {
    use hessrank_core::FnObjective;
    use std::sync::atomic::{AtomicU64, Ordering};
    let device = f64_device();
    let (s, _) = rank25();
    let q = Quadratic::new(&row_major(&s), 60, 1, &device, "test").unwrap();
    let theta0 = Points::zeros(1, 60, &device);
    let g = DiagPreconditioner::identity(&ParamLayout::of(&theta0), &device);
    let config = LangevinConfig::new()
        .with_chains(1)
        .with_sigma2(2e-5)
        .with_step(StepSize::Fixed(1e-2))
        .with_k_tot(20)
        .with_k_avg(10);
    // Each call adds a fresh draw, as a loss that resamples its noise would.
    let calls = AtomicU64::new(0);
    let noisy = FnObjective::new(|p: &Points| {
        let draw = SeededNoise::new(calls.fetch_add(1, Ordering::Relaxed), 0).normal_vec(1)[0];
        hessrank_core::Objective::loss(&q, p).add_scalar(1e-3 * draw)
    });
    let err = Langevin::new(&config).run(&noisy, &theta0, &g).expect_err("a random term is refused");
    match err {
        Error::Nondeterministic { what, first, second, tolerance } => {
            assert_eq!(what, "loss");
            assert!((first - second).abs() > tolerance && tolerance < 1e-12, "{first} {second} {tolerance}");
        }
        other => panic!("expected Nondeterministic, got {other}"),
    }
    let plain = FnObjective::new(|p: &Points| hessrank_core::Objective::loss(&q, p));
    Langevin::new(&config).run(&plain, &theta0, &g).expect("a deterministic loss runs");
}
