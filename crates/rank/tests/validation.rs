//! The like-for-like checks against independent truths: the rank at every threshold on a
//! quadratic with a known spectrum, and the paired difference of two quadratics that share every
//! noise draw.

use crate::common::*;
use hessrank_core::{DiagPreconditioner, Error, ParamLayout};
use hessrank_rank::langevin::{Langevin, TraceRecorder};
use hessrank_rank::quadratic::{Points, Quadratic};
use hessrank_rank::theory::DiscreteTheory;
use hessrank_rank::validation::{paired_difference, threshold_curve};
use hessrank_rank::{LangevinConfig, Scheme, StepSize};

/// A run of `chains` batched chains on ½θᵀSθ with S of eigenvalues `mu` (G = I, η = 1, LM).
fn run(
    mu: &[f64],
    chains: usize,
    k_tot: usize,
    k_avg: usize,
    sigma2: f64,
) -> (hessrank_rank::RankEstimate, TraceRecorder) {
    let device = f64_device();
    let n = mu.len();
    let q = Quadratic::new(&row_major(&with_spectrum(mu, 5)), n, chains, &device, "test").unwrap();
    let theta0 = Points::zeros(chains, n, &device);
    let g = DiagPreconditioner::identity(&ParamLayout::of(&theta0), &device);
    let config = LangevinConfig::new()
        .with_chains(1)
        .with_step(StepSize::Fixed(1.0))
        .with_check_step(false)
        .with_sigma2(sigma2)
        .with_k_tot(k_tot)
        .with_k_avg(k_avg)
        .with_seed(11);
    let mut trace = TraceRecorder::every(1);
    let r = Langevin::new(&config).observe(&mut trace).run(&q, &theta0, &g).unwrap();
    (r, trace)
}

#[test]
fn the_rank_at_every_threshold_follows_the_exact_expectation_on_a_known_spectrum() {
    // 40 modes from 1e-4 to 1 and 10 zero modes: r(k) climbs as μ_k = 1/(2k) falls past them.
    let mut mu = log_spaced(1e-4, 1.0, 40);
    mu.extend([0.0; 10]);
    let sigma2 = 1e-2;
    let (r, trace) = run(&mu, 64, 3000, 1000, sigma2);
    let theory = DiscreteTheory { mu: mu.clone(), eta: 1.0, sigma2, scheme: Scheme::LeimkuhlerMatthews };
    let curve = threshold_curve(&trace.points, r.eta, Some(&mu), Some(&theory));
    assert_eq!(curve.len(), 2999, "every iteration but k = 0");
    for k in [5, 30, 150, 600, 2999] {
        let p = curve.iter().find(|p| p.k == k).unwrap();
        let (se, expected) = (p.stderr.unwrap(), p.theory.unwrap());
        assert!((p.threshold - 1.0 / (2.0 * k as f64)).abs() < 1e-15);
        assert_eq!(p.exact_count, Some(mu.iter().filter(|&&m| m > p.threshold).count()));
        println!(
            "k = {k}: μ_k {:.2e}, r(k) {:.2} ± {:.2}, theory {expected:.2}, count {:?}",
            p.threshold, p.estimate, se, p.exact_count
        );
        assert!((p.estimate - expected).abs() < 3.0 * se, "k = {k}: {} ± {se} vs {expected}", p.estimate);
        // The spread is a real one: 64 chains at σ² = 1e-2 put r(k) within a few percent.
        assert!(se < 0.1 * expected.max(1.0), "k = {k}: se {se}");
    }
    // Between the thresholds the curve is a soft count: modes 4× above μ_k are in, 4× below are out.
    let p = curve.iter().find(|p| p.k == 600).unwrap();
    let above = |f: f64| mu.iter().filter(|&&m| m > f * p.threshold).count() as f64;
    assert!(p.theory.unwrap() > above(4.0) && p.theory.unwrap() < above(0.25));
}

#[test]
fn paired_runs_isolate_the_difference_of_two_objectives_with_a_small_error() {
    // Two spectra that differ in 5 stiff modes (rank 30 vs 25): every noise draw is shared.
    let a: Vec<f64> = log_spaced(0.05, 1.0, 30).into_iter().chain([0.0; 10]).collect();
    let mut b = a.clone();
    b.iter_mut().rev().skip(10).take(5).for_each(|m| *m = 0.0);
    let sigma2 = 1e-2;
    let (ra, _) = run(&a, 8, 1500, 1000, sigma2);
    let (rb, _) = run(&b, 8, 1500, 1000, sigma2);
    let d = paired_difference(&ra, &rb).unwrap();
    let theory = |mu: &[f64]| {
        DiscreteTheory { mu: mu.to_vec(), eta: 1.0, sigma2, scheme: Scheme::LeimkuhlerMatthews }
            .expected_estimate(1500, 1000)
    };
    let expected = theory(&a) - theory(&b);
    println!(
        "paired {:.3} ± {:.3} vs {expected:.3}; unpaired SE {:.3}",
        d.value,
        d.stderr,
        (ra.uncertainty.stderr.powi(2) + rb.uncertainty.stderr.powi(2)).sqrt()
    );
    assert_eq!(d.chains, 8);
    assert!((d.value - expected).abs() < 3.0 * d.stderr, "{} ± {} vs {expected}", d.value, d.stderr);
    assert!(
        d.stderr < 0.8 * (ra.uncertainty.stderr.powi(2) + rb.uncertainty.stderr.powi(2)).sqrt(),
        "pairing must shrink the error"
    );
    // Runs with other settings are not paired.
    let (rc, _) = run(&a, 4, 1500, 1000, sigma2);
    assert!(matches!(paired_difference(&ra, &rc).unwrap_err(), Error::InvalidConfig { field: "paired runs", .. }));
}

#[test]
fn paired_intervals_cover_the_exact_difference_at_95_percent() {
    // 400 paired 4-chain runs: spectra that differ in their 4 stiffest modes (rank 16 vs 12).
    let a: Vec<f64> = log_spaced(0.05, 1.0, 16).into_iter().chain([0.0; 4]).collect();
    let mut b = a.clone();
    b.iter_mut().rev().skip(4).take(4).for_each(|m| *m = 0.0);
    let (sigma2, k_tot, k_avg) = (1e-2, 1500, 1000);
    let (ra, _) = run(&a, 1600, k_tot, k_avg, sigma2);
    let (rb, _) = run(&b, 1600, k_tot, k_avg, sigma2);
    let theory = |mu: &[f64]| {
        DiscreteTheory { mu: mu.to_vec(), eta: 1.0, sigma2, scheme: Scheme::LeimkuhlerMatthews }
            .expected_estimate(k_tot, k_avg)
    };
    let truth = theory(&a) - theory(&b);
    // Chains 4g … 4g + 3 of both runs as one paired 4-chain run (the settings are the runs' own).
    let mut base = ra.clone();
    (base.chain, base.traces) = (Vec::new(), Vec::new());
    let group = |r: &hessrank_rank::RankEstimate, g: usize| {
        let mut e = base.clone();
        e.chain = r.chain[4 * g..4 * g + 4].to_vec();
        e.traces = r.traces[4 * g..4 * g + 4].to_vec();
        e
    };
    let covered = (0..400)
        .filter(|&g| {
            let d = paired_difference(&group(&ra, g), &group(&rb, g)).unwrap();
            d.ci95[0] <= truth && truth <= d.ci95[1]
        })
        .count();
    let coverage = covered as f64 / 400.0;
    println!("paired 4-chain coverage of {truth:.3}: {:.1} %", 100.0 * coverage);
    // Binomial SD at 400 runs: 1.1 %.
    assert!((coverage - 0.95).abs() < 0.03, "coverage {coverage}");
}

#[test]
fn scale_drift_is_each_chains_group_norm_over_theta0s() {
    use hessrank_rank::validation::scale_drift;
    // Group a = indices 0..2 (‖(3, 4)‖ = 5), group b = 2..3 (‖2‖ = 2).
    let theta0 = [3.0, 4.0, 2.0];
    let chains: [&[f64]; 2] = [&[6.0, 8.0, 2.0], &[0.0, 5.0, -3.0]];
    let groups = [("a".to_string(), 0..2), ("b".to_string(), 2..3)];
    let d = scale_drift(&theta0, &chains, &groups);
    assert_eq!((d[0].group.as_str(), d[0].norm0, d[0].ratios.clone()), ("a", 5.0, vec![2.0, 1.0]));
    assert_eq!((d[1].group.as_str(), d[1].norm0, d[1].ratios.clone()), ("b", 2.0, vec![1.0, 1.5]));
    assert_eq!((d[0].max_ratio(), d[1].max_ratio()), (2.0, 1.5));
}
