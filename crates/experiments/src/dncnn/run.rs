//! The DnCNN experiment's sequence: θ₀, the exact Hessian, the paired runs at each σ², U&S, the
//! rank at every threshold and the checks.

use super::checks::{bn_scale_drift, scale_drift_warning, spectrum_warnings};
use super::theta0::{checkpoint_matches, mnist_of, model_on, theta0};
use super::{
    DncnnReport, DncnnRunConfig, DncnnSpec, EnergyCaptured, FrozenValidation, SpectrumSummary, TheorySummary,
    Theta0Source, UsSummary, Validation,
};
use crate::observer::ExperimentObserver;
use crate::paired::{StateFiles, run_paired, state_files};
use crate::sweep::{FrozenCheck, SweepRow};
use burn::tensor::Device;
use hessrank_core::{DenseOperator, Error, ParamLayout, Result};
use hessrank_rank::StepSize;
use hessrank_rank::baselines::UbaruSaad;
use hessrank_rank::hessian::{FdHessian, Spectrum, dense_matrix};
use hessrank_rank::theory::{DiscreteTheory, mode_eigenvalues};
use hessrank_rank::validation::{thin_log, threshold_curve};
use nalgebra::DMatrix;
use std::time::Instant;

/// Checks that a resumed run starts from the θ₀ it was started from.
fn check_resume(spec: &DncnnSpec) -> Result<()> {
    if let (true, Theta0Source::Checkpoint { dir, retrain, .. }) = (spec.resume, &spec.theta0)
        && (*retrain || !checkpoint_matches(spec, dir))
    {
        return Err(Error::format(
            dir,
            "a resumed run needs the checkpoint it started from: it is missing, was trained for other data settings, \
             or is to be retrained",
        ));
    }
    Ok(())
}

/// The exact Hessian at θ₀: read from `spec.hessian`, else finite differences of the gradient on
/// the frozen ReLU pattern, on `exact_device` (an f64 autodiff device).
fn exact_hessian(
    spec: &DncnnSpec,
    n_params: usize,
    mnist: &hessrank_models::Mnist,
    exact_device: &Device,
    observer: &mut dyn ExperimentObserver,
) -> Result<DMatrix<f64>> {
    if let Some(file) = &spec.hessian {
        let (n, values) = hessrank_rank::matrix_file::read_matrix(file)?;
        if n != n_params {
            return Err(Error::Shape {
                what: format!("the Hessian in {}", file.display()),
                expected: format!("{n_params}×{n_params} (the model's parameters)"),
                found: format!("{n}×{n}"),
            });
        }
        observer.note(&format!("exact Hessian read from {}", file.display()));
        return Ok(DMatrix::from_row_slice(n, n, &values));
    }
    let model64 = model_on(spec, exact_device, &mut crate::Quiet)?;
    let frozen64 = super::theta0::batch_on(spec, mnist, exact_device)?.frozen_at(&model64);
    Ok(dense_matrix(&FdHessian::new(&frozen64, &model64)))
}

/// Runs the experiment: Algorithm 1 on `device`, the exact Hessian on `exact_device` (f64; the
/// same device when the run is f64). [`Error::Interrupted`] when a run was stopped before it had
/// an estimate (its state is saved in `spec.state_dir`: run again with `resume`).
pub fn run(
    spec: &DncnnSpec,
    device: &Device,
    exact_device: &Device,
    observer: &mut dyn ExperimentObserver,
) -> Result<DncnnReport> {
    let t0 = Instant::now();
    check_resume(spec)?;
    let mnist = mnist_of(spec)?;

    // 1. θ₀ and G.
    let th = theta0(spec, &mnist, device, observer)?;
    let (model, precond, objective) = (&th.model, &th.precond, &th.objective);
    observer.note(&format!(
        "θ₀: loss {:.8e}, ‖∇L‖ = {:.3e} ({:.0} s so far)",
        th.record.loss,
        th.record.grad_norm,
        t0.elapsed().as_secs_f64()
    ));
    let frozen = objective.frozen_at(model);
    let n_params = ParamLayout::of(model).numel();

    // 2. The exact Hessian and the spectrum of G^½HG^½.
    let h = exact_hessian(spec, n_params, &mnist, exact_device, observer)?;
    let spectrum = Spectrum::of(&h);
    let mu = mode_eigenvalues(&h, &precond.dynamics_flat());
    let mu_max = mu.last().copied().unwrap_or(0.0);
    observer.note(&format!(
        "exact Hessian ({} parameters, {:.0} s): λ_max {:.3e}, Tr H {:.3e}, {} negative eigenvalues; μ_max(G^½HG^½) {:.3e}",
        spectrum.eigenvalues.len(),
        t0.elapsed().as_secs_f64(),
        spectrum.max(),
        spectrum.trace,
        spectrum.negatives(1e-6),
        mu_max
    ));

    // 3. Algorithm 1 at each σ², real and frozen with the same noise, η from the exact μ_max.
    let eta = match spec.langevin.step {
        StepSize::Auto { c } => c / mu_max,
        StepSize::Fixed(eta) => eta,
    };
    let scale_groups = hessrank_rank::symmetry::find_scale_groups(objective, model)?;
    let langevin =
        crate::symmetry::with_scale_groups(spec.langevin.clone(), spec.symmetry, scale_groups.clone(), observer);
    let config_at =
        |sigma2: f64| langevin.clone().with_step(StepSize::Fixed(eta)).with_sigma2(sigma2).with_check_step(false);
    let mut runs = Vec::new();
    let mut theories = Vec::new();
    for (index, &sigma2) in spec.sigma2.iter().enumerate() {
        let config = config_at(sigma2);
        config.validate()?;
        let files =
            StateFiles { dir: Some(&spec.state_dir), index, every: spec.checkpoint_every.max(1), resume: spec.resume };
        runs.push(run_paired(&config, objective, &frozen, model, precond, files, observer)?);
        theories.push(DiscreteTheory { mu: mu.clone(), eta, sigma2, scheme: spec.langevin.scheme });
    }
    // Each σ²'s run length: the real run's (its last stage, when adaptive).
    let predicted: Vec<f64> = theories
        .iter()
        .zip(&runs)
        .map(|(t, p)| t.expected_estimate(p.real.config.k_tot, p.real.config.k_avg))
        .collect();
    let (p, theory) = (&runs[0], &theories[0]);

    // 4. U&S on the dense Hessian (products are free once H is formed).
    let h_op = DenseOperator::new(h.nrows(), h.transpose().as_slice().to_vec()).expect("H is square");
    let us = UbaruSaad::estimate(&h_op, &spec.ubaru_saad);

    // 5. The rank at every threshold, the energies and the verdicts.
    let curve = threshold_curve(&p.real_trace, eta, Some(&mu), Some(theory));
    let frozen_curve = threshold_curve(&p.frozen_trace, eta, None, None);
    let check = FrozenCheck::of(p.frozen.uncertainty.estimate, p.frozen.uncertainty.stderr, predicted[0]);
    let mut warnings = spectrum_warnings(&spectrum, th.record.grad_norm, spec.ubaru_saad.degree);
    let scale_drift = bn_scale_drift(&spec.state_dir.join(state_files(0).1), model)?;
    warnings.extend(scale_drift.as_ref().and_then(scale_drift_warning));
    let sigma2_sweep = runs
        .iter()
        .zip(&predicted)
        .map(|(p, &pred)| SweepRow::of(&p.real, Some((&p.frozen, &p.relu_excess)), Some(pred)))
        .collect();
    let f = &p.frozen;
    Ok(DncnnReport {
        estimate: p.real.clone(),
        validation: Validation {
            frozen: FrozenValidation { z_vs_theory: check.z, agrees_within_2_5_se: check.agrees, result: f.clone() },
        },
        relu_excess: p.relu_excess.clone(),
        ubaru_saad: UsSummary {
            rank: us.rank,
            stderr: us.stderr,
            threshold: us.threshold,
            lambda_max: us.lambda_max,
            matvecs: us.matvecs,
            variant: format!("{:?}", spec.ubaru_saad.gap_rule),
        },
        energy_captured: EnergyCaptured {
            ours: spectrum.energy_at_rank(p.real.uncertainty.estimate),
            ubaru_saad: spectrum.energy_at_rank(us.rank),
        },
        theory: TheorySummary {
            expected_estimate: predicted[0],
            effective_rank_at_k_tot: theory.effective_rank(p.real.config.k_tot),
            mu_max,
            eta_mu_max: eta * mu_max,
        },
        threshold_curve: thin_log(&curve, 200),
        sigma2_sweep,
        spectrum: SpectrumSummary {
            lambda_max: spectrum.max(),
            trace: spectrum.trace,
            negatives: spectrum.negatives(1e-6),
            rank_98_5_percent_energy: spectrum.rank_for_energy(0.985),
            asymmetry: spectrum.asymmetry,
        },
        theta0: th.record.clone(),
        data: objective.config.clone(),
        mnist: spec.mnist.clone(),
        seed: spec.langevin.seed,
        warnings,
        scale_drift,
        scale_groups,
        wall_s: t0.elapsed().as_secs_f64(),
        config: DncnnRunConfig {
            langevin: p.real.config.clone(),
            sigma2: spec.sigma2.clone(),
            data: spec.data.clone(),
            mnist: spec.mnist.clone(),
            ubaru_saad: spec.ubaru_saad.clone(),
            theta0: th.record.source.clone(),
            hessian: spec.hessian.clone(),
            training: th.training.clone(),
        },
        n_params,
        exact: spectrum,
        discrete: theory.clone(),
        curves: [curve, frozen_curve],
        us,
        runs,
    })
}
