//! `hessrank dncnn` (and the default job): the paper's DnCNN experiment end to end — train (or
//! load `models/dncnn-mnist/`), take Adam's preconditioner, estimate the rank by Algorithm 1,
//! compute the exact Hessian spectrum and U&S, draw Figure 3 and a validation panel comparing the
//! measured loss trace with the discrete-time theory on the exact spectrum of G^½HG^½. With
//! `--arch dncnn --weights FILE [--data FILE]` θ₀ comes from a network trained elsewhere (G = I).

use super::estimate::estimate_with_progress;
use super::parse_scheme;
use super::spectrum::write_spectrum;
use super::sweep::{FrozenCheck, SweepRow, write_sweep};
use super::train::{DncnnTrain, Schedule, train_dncnn};
use crate::Ctx;
use crate::plots::{Series, VLine, line_chart};
use crate::problem::{ImportArgs, import_dncnn};
use crate::run_dir::RunDir;
use anyhow::{Context, Result};
use burn::tensor::FloatDType;
use clap::Parser;
use hessrank_core::{DenseOperator, DiagPreconditioner, ParamLayout, value_and_grad};
use hessrank_models::{DnCnnConfig, FrozenNoisyMnist, Mnist, NoisyMnist, NoisyMnistConfig};
use hessrank_rank::baselines::{GapRule, UbaruSaad, UbaruSaadConfig, chebyshev_blowup};
use hessrank_rank::hessian::{FdHessian, Spectrum, dense_matrix};
use hessrank_rank::langevin::{Checkpointing, LangevinState, TracePoint};
use hessrank_rank::theory::DiscreteTheory;
use hessrank_rank::validation::{
    PairedDifference, ScaleDrift, ThresholdPoint, paired_difference, scale_drift, thin_log, threshold_curve,
};
use hessrank_rank::{DriftCorrection, LangevinConfig, RankEstimate, Scheme, StepSize};
use hessrank_train::checkpoint::Checkpoint;
use plotters::style::RGBColor;
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `dncnn` (defaults: a CPU-friendly size that finishes in a few minutes on 2 cores).
#[derive(Parser, Debug)]
pub struct DncnnArgs {
    /// Checkpoint folder: loaded when it matches the data settings, else trained (not with --weights).
    #[arg(long, default_value = "models/dncnn-mnist", conflicts_with = "weights")]
    pub dir: PathBuf,
    /// Train again even if a matching checkpoint exists.
    #[arg(long)]
    pub retrain: bool,
    /// Images N in the fixed batch (the paper: all of MNIST).
    #[arg(long, default_value_t = 32, conflicts_with = "data")]
    pub n_images: usize,
    /// Noise standard deviation.
    #[arg(long, default_value_t = 1.0, conflicts_with = "data")]
    pub noise_std: f64,
    /// A folder with the standard MNIST release (the four IDX files; the 60,000 training images
    /// are used) instead of the bundled 10,000 digits.
    #[arg(long, conflicts_with = "data")]
    pub mnist: Option<PathBuf>,
    /// Noise power σ² (the paper: 1e-5); a comma-separated list runs a sweep (the first is the
    /// headline result).
    #[arg(long, default_value = "1e-5", value_delimiter = ',', value_parser = super::parse_sigma2, allow_hyphen_values = true)]
    pub sigma2: Vec<f64>,
    /// η = c / μ_max(G^½HG^½), μ_max from the exact spectrum.
    #[arg(long, default_value_t = 1.0, allow_hyphen_values = true)]
    pub eta_c: f64,
    /// Total iterations K_tot (the paper: 30,000).
    #[arg(long, default_value_t = 1500)]
    pub iters: usize,
    /// Iterations averaged, K_avg (the paper: 10,000).
    #[arg(long, default_value_t = 1000)]
    pub avg: usize,
    /// Independent chains (their spread gives the error bar).
    #[arg(long, default_value_t = 4)]
    pub chains: usize,
    /// Drift correction: cv (control variate), plain or none.
    #[arg(long, value_parser = super::parse_drift, default_value = "cv")]
    pub drift: DriftCorrection,
    /// Discretisation: lm or em.
    #[arg(long, value_parser = parse_scheme, default_value = "lm")]
    pub scheme: Scheme,
    /// U&S probe vectors.
    #[arg(long, default_value_t = 300)]
    pub us_vecs: usize,
    /// U&S degree.
    #[arg(long, default_value_t = 50)]
    pub us_degree: usize,
    /// U&S threshold rule: published (Ubaru and Saad's code, the paper's baseline) or first-minimum.
    #[arg(long, value_parser = super::parse_us_rule, default_value = "published")]
    pub us_rule: GapRule,
    /// Save the Langevin run's state (langevin-state.json in the run folder) every this many
    /// iterations.
    #[arg(long, default_value_t = 500)]
    pub checkpoint_every: usize,
    /// Continue the run saved in this results folder (same flags and seed), writing its results
    /// there. The checkpoint in --dir must be the one the run started from.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// The exact Hessian at θ₀ as saved by `spectrum --save-hessian` (f64 .npy), instead of
    /// computing it here: lets an f32 run skip the slower second f64 backend. Its size is checked.
    #[arg(long)]
    pub hessian: Option<PathBuf>,
    /// Training schedule (when training).
    #[command(flatten)]
    pub schedule: Schedule,
    /// θ₀ trained elsewhere instead of the checkpoint: `--arch dncnn --weights FILE`, optionally
    /// with `--data FILE` (the batch; else the one --n-images, --noise-std and --seed describe).
    #[command(flatten)]
    pub import: ImportArgs,
}

/// θ₀ as the run records it: its loss and gradient norm, where it came from, how it was trained.
struct Theta0 {
    loss: f64,
    grad_norm: f64,
    source: serde_json::Value,
    training: serde_json::Value,
}

/// One σ²'s paired runs: the real loss and the frozen-activation objective, the same noise draws.
pub struct Paired {
    /// Algorithm 1 on the real loss.
    pub real: RankEstimate,
    /// Its recorded mean trace.
    pub real_trace: Vec<TracePoint>,
    /// The same chains on the frozen-activation objective (θ₀'s ReLU pattern fixed).
    pub frozen: RankEstimate,
    /// Its recorded mean trace.
    pub frozen_trace: Vec<TracePoint>,
    /// real − frozen, chain by chain: the loss the Hessian does not see.
    pub relu_excess: PairedDifference,
}

/// The state files of the `i`-th σ² of a sweep (real, frozen).
fn state_files(i: usize) -> (String, String) {
    if i == 0 {
        ("langevin-state.json".into(), "langevin-state-frozen.json".into())
    } else {
        (format!("langevin-state-s{i}.json"), format!("langevin-state-s{i}-frozen.json"))
    }
}

/// Runs the real and the frozen chains of one configuration (each resumable on its own), or
/// `None` when Ctrl-C stopped either.
#[allow(clippy::too_many_arguments)]
fn run_paired(
    ctx: &Ctx,
    config: &LangevinConfig,
    objective: &NoisyMnist,
    frozen: &FrozenNoisyMnist,
    model: &hessrank_models::DnCnn,
    precond: &hessrank_core::DiagPreconditioner,
    dir: &RunDir,
    index: usize,
    every: usize,
    resume: bool,
) -> Result<Option<Paired>> {
    let (real_state, frozen_state) = state_files(index);
    let cp = |f: &str| Checkpointing { path: dir.path.join(f), every };
    println!("σ² = {:.1e}: real loss", config.sigma2);
    let real =
        estimate_with_progress(ctx, config, objective, frozen, model, precond, Some((&cp(&real_state), resume)))?;
    let Some((real, real_trace)) = real else { return Ok(None) };
    println!("σ² = {:.1e}: frozen-activation objective (same noise)", config.sigma2);
    let fr = estimate_with_progress(ctx, config, frozen, frozen, model, precond, Some((&cp(&frozen_state), resume)))?;
    let Some((frozen, frozen_trace)) = fr else { return Ok(None) };
    let relu_excess = paired_difference(&real, &frozen)?;
    Ok(Some(Paired { real, real_trace, frozen, frozen_trace, relu_excess }))
}

/// The f64 device the exact Hessian is computed on: the run's own when it is f64, else a CPU
/// backend other than the run's (a device holds one dtype per process): flex, or ndarray when the
/// run is on flex.
fn f64_device(ctx: &Ctx) -> Result<burn::tensor::Device> {
    use crate::backend::Backend;
    if ctx.dtype == FloatDType::F64 {
        return Ok(ctx.device.clone());
    }
    let other = [Backend::Flex, Backend::Ndarray].into_iter().find(|b| *b != ctx.backend && b.compiled_in());
    let Some(b) = other else {
        anyhow::bail!(
            "the exact Hessian needs f64 and this {} run is f32 with no second CPU backend compiled in; \
             run with --dtype f64",
            ctx.backend
        )
    };
    println!("exact Hessian in f64 on {b} (the Langevin chains run in {:?} on {})", ctx.dtype, ctx.backend);
    b.device(FloatDType::F64)
}

/// The MNIST digits: the standard release in `--mnist DIR`, else the bundled 10,000.
pub fn load_mnist(dir: Option<&std::path::Path>) -> Result<Mnist> {
    Ok(match dir {
        Some(d) => Mnist::load_standard(d).with_context(|| format!("--mnist {}", d.display()))?,
        None => Mnist::bundled()?,
    })
}

/// The data settings as a checkpoint's manifest records them (with the MNIST folder when not the
/// bundled one).
pub fn data_record(data: &NoisyMnistConfig, mnist: Option<&std::path::Path>) -> serde_json::Value {
    let mut v = serde_json::to_value(data).unwrap_or_default();
    if let (Some(d), Some(map)) = (mnist, v.as_object_mut()) {
        map.insert("mnist".into(), serde_json::json!(d));
    }
    v
}

/// The weights file of `--arch dncnn --weights FILE`, with the flags that only make sense with or
/// without it checked.
fn imported_weights(a: &DncnnArgs) -> Result<Option<PathBuf>> {
    let i = &a.import;
    anyhow::ensure!(i.label_smoothing.is_none(), "--label-smoothing: the DnCNN's loss is a mean squared error");
    match (&i.arch, &i.weights) {
        (Some(arch), Some(w)) => {
            anyhow::ensure!(arch == "dncnn", "--arch {arch}: the dncnn experiment takes --arch dncnn");
            anyhow::ensure!(!a.retrain, "--retrain trains a checkpoint, but --weights {} brings θ₀", w.display());
            Ok(Some(w.clone()))
        }
        _ => {
            anyhow::ensure!(
                i.renames.is_empty() && !i.allow_partial,
                "--rename and --allow-partial apply to --weights"
            );
            if let Some(d) = &i.data {
                anyhow::bail!(
                    "--data {}: dncnn reads a batch file with --arch dncnn --weights; a checkpoint's batch comes \
                     from its data settings (--n-images, --noise-std, --mnist, --seed)",
                    d.display()
                );
            }
            Ok(None)
        }
    }
}

/// θ₀ and Adam's G from the checkpoint in `--dir` when it `matches` the data settings (and
/// `--retrain` is not given), else trained there.
fn checkpoint_theta0(
    ctx: &Ctx,
    a: &DncnnArgs,
    matches: bool,
) -> Result<(hessrank_models::DnCnn, DiagPreconditioner, hessrank_train::checkpoint::Manifest)> {
    let plain = ctx.device.clone().inner();
    Ok(if matches && !a.retrain {
        println!("loading {}", a.dir.display());
        Checkpoint::load(&a.dir, DnCnnConfig::new().with_seed(ctx.seed).init(&ctx.device)?, &plain)?
    } else {
        println!("training into {} (N = {}, noise std {})", a.dir.display(), a.n_images, a.noise_std);
        let out = train_dncnn(
            ctx,
            &DncnnTrain {
                dir: a.dir.clone(),
                n_images: a.n_images,
                noise_std: a.noise_std,
                mnist: a.mnist.clone(),
                schedule: a.schedule.clone(),
            },
        )?;
        (out.model, out.precond, out.manifest)
    })
}

/// Above this share of Σ|λ| in negative eigenvalues, θ₀ is reported as no minimum (the N = 256
/// checkpoint's round-off share is ~3e-5).
const NOT_A_MINIMUM_SHARE: f64 = 1e-2;

/// Above this magnification of U&S's filter below its interval, its count is reported as void.
const US_BLOWUP_LIMIT: f64 = 2.0;

/// What the exact spectrum says about the assumptions of Algorithm 1 and of U&S: θ₀ must be a
/// minimum (Proposition 1), and U&S's interval assumes a PSD matrix.
fn spectrum_warnings(spectrum: &Spectrum, grad_norm: f64, us_degree: usize) -> Vec<String> {
    let mut warnings = Vec::new();
    let share = spectrum.negative_share();
    if share > NOT_A_MINIMUM_SHARE {
        warnings.push(format!(
            "θ₀ is not a minimum: {} negative eigenvalues (λ_min {:.3e}) carry {:.1} % of Σ|λ|, and ‖∇L‖ = {:.3e}; \
             Algorithm 1 and the energy captured assume a minimum (Proposition 1), so they mean little here",
            spectrum.negatives(0.0),
            spectrum.min(),
            100.0 * share,
            grad_norm
        ));
    }
    let blowup = chebyshev_blowup(spectrum.min(), spectrum.max(), us_degree);
    if blowup > US_BLOWUP_LIMIT {
        warnings.push(format!(
            "Ubaru–Saad assumes a PSD matrix: λ_min {:.3e} lies below its interval, where its degree-{us_degree} \
             filter is magnified up to ×{blowup:.1e}; its count is not meaningful here",
            spectrum.min()
        ));
    }
    warnings
}

/// Above this ratio of a BatchNorm-fed channel's norm to θ₀'s, the drift is reported (the
/// curvature of the channel has fallen by its square, over 1.5×).
const SCALE_DRIFT_LIMIT: f64 = 1.25;

/// The chains' drift along the DnCNN's scale-invariant channels, at the end of the frozen run (from
/// its saved state), or `None` when the model has no BatchNorm.
#[derive(serde::Serialize)]
struct BnScaleDrift {
    /// The iteration of the saved state.
    k: usize,
    /// Each channel's norm ratios.
    channels: Vec<ScaleDrift>,
}

fn bn_scale_drift(state: &std::path::Path, model: &hessrank_models::DnCnn) -> Result<Option<BnScaleDrift>> {
    let groups = model.scale_invariant_groups();
    if groups.is_empty() || !state.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(state).with_context(|| format!("{}", state.display()))?;
    let saved: LangevinState = serde_json::from_str(&text).with_context(|| format!("{}", state.display()))?;
    let theta0 = hessrank_core::params::flatten_f64(model);
    Ok(Some(BnScaleDrift { k: saved.k, channels: scale_drift(&theta0, &saved.chain_params(), &groups) }))
}

/// The warning for a drift beyond [`SCALE_DRIFT_LIMIT`].
fn scale_drift_warning(d: &BnScaleDrift) -> Option<String> {
    let ratios: Vec<f64> = d.channels.iter().flat_map(|c| c.ratios.iter().copied()).collect();
    let (lo, hi) = ratios.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
    (hi > SCALE_DRIFT_LIMIT).then(|| {
        format!(
            "the noise grew the norms of the {} channels feeding BatchNorm (flat directions of the loss, which \
             a noise-free step leaves alone) by ×{lo:.2}–×{hi:.2} by k = {}: their curvature fell by up to \
             ×{:.0}, so the theory at θ₀ over-predicts the modes that equilibrate; a shorter K_tot or a smaller \
             σ² keeps the quadratic model",
            d.channels.len(),
            d.k,
            hi * hi
        )
    })
}

/// Runs the experiment.
pub fn run(ctx: &Ctx, a: DncnnArgs) -> Result<()> {
    let t0 = Instant::now();
    let mnist = load_mnist(a.mnist.as_deref())?;
    let data = NoisyMnistConfig::new().with_n_images(a.n_images).with_noise_std(a.noise_std).with_seed(ctx.seed);
    let plain = ctx.device.clone().inner();
    let record = data_record(&data, a.mnist.as_deref());
    let matches = Checkpoint::manifest(&a.dir).map(|m| m.model_kind == "dncnn" && m.data == record).unwrap_or(false);
    let imported = imported_weights(&a)?;
    if let Some(d) = &a.resume {
        anyhow::ensure!(
            imported.is_some() || (matches && !a.retrain),
            "--resume {}: the checkpoint {} is missing or was trained for other data settings; resume with \
             the --dir, --n-images, --noise-std, --mnist and --seed of the original run (and without --retrain)",
            d.display(),
            a.dir.display()
        );
    }
    let dir = RunDir::resume_or_create(a.resume.as_deref(), &ctx.out, "dncnn", "langevin-state.json")?;
    let every = a.checkpoint_every.max(1);

    // The fixed batch on a device: --data's file (only with --weights), else the data settings.
    let batch_on = |device: &burn::tensor::Device| -> Result<NoisyMnist> {
        Ok(match &a.import.data {
            Some(f) => NoisyMnist::from_file(f, device)?,
            None => NoisyMnist::new(&mnist, &data, device)?,
        })
    };

    // 1. θ₀ and G: weights trained elsewhere (G = I), else a matching checkpoint, else train.
    let (model, precond, objective, theta0) = if let Some(w) = &imported {
        let model = import_dncnn(w, &a.import, &ctx.device)?;
        let objective = batch_on(&ctx.device)?;
        let vg = value_and_grad(&objective, &model);
        let grad_norm = vg.grads.sq_norm().sqrt();
        println!("G = I: {} holds no Adam state to take the preconditioner from", w.display());
        let precond = DiagPreconditioner::identity(&ParamLayout::of(&model), &plain);
        let source = serde_json::json!({"weights": w, "data": a.import.data});
        (model, precond, objective, Theta0 { loss: vg.loss, grad_norm, source, training: serde_json::Value::Null })
    } else {
        let (model, precond, manifest) = checkpoint_theta0(ctx, &a, matches)?;
        let objective = batch_on(&ctx.device)?;
        let theta0 = Theta0 {
            loss: manifest.final_loss,
            grad_norm: manifest.final_grad_norm,
            source: serde_json::json!({"checkpoint": a.dir}),
            training: serde_json::to_value(&manifest.train_config)?,
        };
        (model, precond, objective, theta0)
    };
    println!(
        "θ₀: loss {:.8e}, ‖∇L‖ = {:.3e} ({:.0} s so far)",
        theta0.loss,
        theta0.grad_norm,
        t0.elapsed().as_secs_f64()
    );
    let frozen = objective.frozen_at(&model);

    // 2. The exact Hessian (finite differences on the frozen ReLU pattern, always in f64) and
    //    G^½HG^½.
    let (spectrum, h) = if let Some(file) = &a.hessian {
        let (n, values) = hessrank_rank::matrix_file::read_matrix(file)?;
        let want = ParamLayout::of(&model).numel();
        anyhow::ensure!(n == want, "--hessian {}: {n}×{n}, but the model has {want} parameters", file.display());
        println!("exact Hessian read from {}", file.display());
        let h = nalgebra::DMatrix::from_row_slice(n, n, &values);
        (Spectrum::of(&h), h)
    } else {
        let dev64 = f64_device(ctx)?;
        let model64 = match &imported {
            Some(w) => import_dncnn(w, &a.import, &dev64)?,
            None => {
                Checkpoint::load(&a.dir, DnCnnConfig::new().with_seed(ctx.seed).init(&dev64)?, &dev64.clone().inner())?
                    .0
            }
        };
        let frozen64 = batch_on(&dev64)?.frozen_at(&model64);
        let h = dense_matrix(&FdHessian::new(&frozen64, &model64));
        (Spectrum::of(&h), h)
    };
    let g = precond.to_flat();
    let mu = hessrank_rank::theory::mode_eigenvalues(&h, &g);
    let mu_max = mu.last().copied().unwrap_or(0.0);
    println!(
        "exact Hessian ({} parameters, {:.0} s): λ_max {:.3e}, Tr H {:.3e}, {} negative eigenvalues; μ_max(G^½HG^½) {:.3e}",
        spectrum.eigenvalues.len(),
        t0.elapsed().as_secs_f64(),
        spectrum.max(),
        spectrum.trace,
        spectrum.negatives(1e-6),
        mu_max
    );

    // 3. Algorithm 1 at each σ², on the real loss and (paired) on the frozen objective, with η from
    //    the exact μ_max.
    let eta = a.eta_c / mu_max;
    let config_at = |sigma2: f64| {
        LangevinConfig::new()
            .with_step(StepSize::Fixed(eta))
            .with_sigma2(sigma2)
            .with_k_tot(a.iters)
            .with_k_avg(a.avg)
            .with_chains(a.chains)
            .with_scheme(a.scheme)
            .with_seed(ctx.seed)
            .with_drift(a.drift)
            .with_check_step(false)
    };
    let mut sweep = Vec::new();
    for (i, &sigma2) in a.sigma2.iter().enumerate() {
        let config = config_at(sigma2);
        config.validate()?;
        let done = run_paired(ctx, &config, &objective, &frozen, &model, &precond, &dir, i, every, a.resume.is_some())?;
        let Some(p) = done else { return super::estimate::write_interrupted(&dir) };
        let theory = DiscreteTheory { mu: mu.clone(), eta, sigma2, scheme: a.scheme };
        sweep.push((p, theory.expected_estimate(a.iters, a.avg), theory));
    }
    let (p, predicted, theory) = &sweep[0];
    let (r, frozen_r) = (&p.real, &p.frozen);

    // 4. U&S on the dense Hessian (products are free once H is formed).
    let us_cfg = UbaruSaadConfig {
        gap_rule: a.us_rule,
        degree: a.us_degree,
        nvecs: a.us_vecs,
        seed: ctx.seed,
        ..Default::default()
    };
    let h_op = DenseOperator::new(h.nrows(), h.transpose().as_slice().to_vec()).expect("square");
    let us = UbaruSaad::estimate(&h_op, &us_cfg);

    // 5. The rank at every threshold, the energies and the verdicts.
    let curve = threshold_curve(&p.real_trace, eta, Some(&mu), Some(theory));
    let frozen_curve = threshold_curve(&p.frozen_trace, eta, None, None);
    let effective = theory.effective_rank(a.iters);
    let energy_ours = spectrum.energy_at_rank(r.estimate);
    let energy_us = spectrum.energy_at_rank(us.rank);
    let check = FrozenCheck::of(frozen_r.estimate, frozen_r.stderr, *predicted);
    let mut warnings = spectrum_warnings(&spectrum, theta0.grad_norm, a.us_degree);
    let drift = bn_scale_drift(&dir.path.join(state_files(0).1), &model)?;
    if let Some(w) = drift.as_ref().and_then(scale_drift_warning) {
        warnings.push(w);
    }

    // 6. Files and plots.
    write_outputs(&dir, &a, &spectrum, p, &us, theory, *predicted)?;
    write_threshold_curve(&dir, &curve, Some(&frozen_curve), "DnCNN")?;
    let sweep_rows: Vec<SweepRow> = sweep
        .iter()
        .map(|(p, pred, _)| SweepRow::of(&p.real, Some((&p.frozen, &p.relu_excess)), Some(*pred)))
        .collect();
    write_sweep(&dir, "DnCNN", &sweep_rows)?;
    let result = serde_json::json!({
        "estimate": r,
        "validation": {
            "frozen": {"estimate": frozen_r.estimate, "stderr": frozen_r.stderr, "ci95": frozen_r.ci95, "r_hat": frozen_r.r_hat, "ess": frozen_r.ess, "z_vs_theory": check.z, "agrees_within_2_5_se": check.agrees, "result": frozen_r},
        },
        "relu_excess": p.relu_excess,
        "ubaru_saad": {"rank": us.rank, "stderr": us.stderr, "threshold": us.threshold, "lambda_max": us.lambda_max, "matvecs": us.matvecs, "variant": format!("{:?}", us_cfg.gap_rule)},
        "energy_captured": {"ours": energy_ours, "ubaru_saad": energy_us},
        "theory": {"expected_estimate": predicted, "effective_rank_at_k_tot": effective, "mu_max": mu_max, "eta_mu_max": eta * mu_max},
        "threshold_curve": thin_log(&curve, 200),
        "sigma2_sweep": sweep_rows,
        "spectrum": {"lambda_max": spectrum.max(), "trace": spectrum.trace, "negatives": spectrum.negatives(1e-6), "rank_98_5_percent_energy": spectrum.rank_for_energy(0.985), "asymmetry": spectrum.asymmetry},
        "theta0": {"loss": theta0.loss, "grad_norm": theta0.grad_norm, "source": theta0.source, "precond": if imported.is_some() { "identity" } else { "adam" }},
        "data": objective.config, "mnist": a.mnist, "backend": ctx.backend.to_string(), "dtype": format!("{:?}", ctx.dtype), "seed": ctx.seed,
        "warnings": warnings,
        "scale_drift": drift,
        "wall_s": t0.elapsed().as_secs_f64()
    });
    dir.json("result.json", &result)?;
    dir.json(super::estimate::WINDOW_TRACES, &r.traces)?;
    dir.json("window-traces-frozen.json", &frozen_r.traces)?;
    dir.json("config.json", &serde_json::json!({"langevin": config_at(a.sigma2[0]), "sigma2": a.sigma2, "data": data, "mnist": a.mnist, "ubaru_saad": us_cfg, "theta0": theta0.source, "hessian": a.hessian, "training": theta0.training}))?;

    println!();
    println!(
        "DnCNN ({} parameters, N = {} images, noise std {}, σ² = {:.1e}):",
        ParamLayout::of(&model).numel(),
        objective.config.n_images,
        objective.config.noise_std,
        a.sigma2[0]
    );
    println!(
        "  rank estimate (Algorithm 1, real loss)   {:.1} ± {:.1}  → captures {:.1} % of the Hessian's energy{}",
        r.estimate,
        r.stderr,
        100.0 * energy_ours,
        if r.partial { " (PARTIAL)" } else { "" }
    );
    println!(
        "  frozen-Hessian check                     {:.1} ± {:.1}  vs theory {predicted:.1}: {:+.1} SE, {}",
        frozen_r.estimate,
        frozen_r.stderr,
        check.z,
        check.verdict()
    );
    println!(
        "  ReLU excess (real − frozen, paired)      {:+.1} ± {:.1}  ({})",
        p.relu_excess.value,
        p.relu_excess.stderr,
        super::sweep::relu_excess_meaning(&p.relu_excess)
    );
    println!(
        "  theory for this run                      {predicted:.1}  (exact spectrum of G^½HG^½, η μ_max = {:.2}, K = {}, {:?})",
        eta * mu_max,
        a.iters,
        a.scheme
    );
    println!(
        "  drift correction                         {:.1}  ({:?}; uncorrected {:.1})",
        r.drift.unwrap_or(0.0),
        a.drift,
        r.estimate_uncorrected
    );
    println!(
        "  chains                                   {} real + {} frozen  (R̂ {:.3} / {:.3}, bulk ESS {:.0} / {:.0})",
        r.chains, frozen_r.chains, r.r_hat, frozen_r.r_hat, r.ess, frozen_r.ess
    );
    for w in r.warnings.iter().map(|w| ("real", w)).chain(frozen_r.warnings.iter().map(|w| ("frozen", w))) {
        println!("  warning ({}): {}", w.0, w.1);
    }
    println!(
        "  Ubaru–Saad                               {:.1} ± {:.1}  → captures {:.1} % (threshold {:.3e})",
        us.rank,
        us.stderr,
        100.0 * energy_us,
        us.threshold
    );
    println!("  98.5 % of the energy lies in the top {} eigenvalues", spectrum.rank_for_energy(0.985));
    for w in &warnings {
        println!("  WARNING: {w}");
    }
    println!("  modes with μ < {:.3e} are not yet equilibrated", r.eigenvalue_threshold);
    if sweep.len() > 1 {
        println!("  σ² sweep (real / frozen / ReLU excess):");
        for (p, pred, _) in &sweep {
            println!(
                "    σ² = {:.1e}: {:.1} ± {:.1} / {:.1} ± {:.1} / {:+.1} ± {:.1}  (theory {pred:.1})",
                p.real.config.sigma2,
                p.real.estimate,
                p.real.stderr,
                p.frozen.estimate,
                p.frozen.stderr,
                p.relu_excess.value,
                p.relu_excess.stderr
            );
        }
    }
    println!(
        "plots: {} (Figure 3), validation.svg (trace vs theory), threshold.svg (rank at every threshold){}",
        dir.path.join("figure3.svg").display(),
        if sweep.len() > 1 { ", sigma2-sweep.svg" } else { "" }
    );
    println!("data in {} ({:.0} s)", dir.path.display(), t0.elapsed().as_secs_f64());
    if r.partial {
        println!("interrupted after {} iterations: continue with --resume {}", r.iterations, dir.path.display());
    }
    Ok(())
}

/// Writes `threshold.csv` and `threshold.svg`: r(k) against log₁₀ μ_k = log₁₀ 1/(2ηk), with the
/// frozen run's curve, the exact count above μ_k and the theory where they are given (`estimate`
/// on a model without an exact spectrum draws the Langevin curve alone).
pub fn write_threshold_curve(
    dir: &RunDir,
    curve: &[ThresholdPoint],
    frozen: Option<&[ThresholdPoint]>,
    model: &str,
) -> Result<()> {
    let nan = f64::NAN;
    let at = |i: usize| frozen.and_then(|f| f.get(i));
    dir.csv(
        "threshold.csv",
        &["iteration", "threshold", "real", "real_stderr", "frozen", "frozen_stderr", "exact_count", "theory"],
        curve.iter().enumerate().map(|(i, p)| {
            vec![
                p.k as f64,
                p.threshold,
                p.estimate,
                p.stderr.unwrap_or(nan),
                at(i).map_or(nan, |f| f.estimate),
                at(i).and_then(|f| f.stderr).unwrap_or(nan),
                p.exact_count.map_or(nan, |c| c as f64),
                p.theory.unwrap_or(nan),
            ]
        }),
    )?;
    let stride = (curve.len() / 1500).max(1);
    let pts = |c: &[ThresholdPoint], f: &dyn Fn(&ThresholdPoint) -> Option<f64>| {
        c.iter().step_by(stride).filter_map(|p| f(p).map(|y| (p.threshold.log10(), y))).collect::<Vec<_>>()
    };
    let mut series = vec![Series {
        label: if frozen.is_some() { "real loss (drift-corrected)".into() } else { "Langevin r(k)".into() },
        points: pts(curve, &|p| Some(p.estimate)),
        color: RGBColor(31, 119, 180),
        dashed: false,
    }];
    if let Some(f) = frozen {
        series.push(Series {
            label: "frozen activations".into(),
            points: pts(f, &|p| Some(p.estimate)),
            color: RGBColor(44, 160, 44),
            dashed: false,
        });
    }
    if curve.iter().any(|p| p.exact_count.is_some()) {
        series.push(Series {
            label: "exact count of μ_i above μ".into(),
            points: pts(curve, &|p| p.exact_count.map(|c| c as f64)),
            color: RGBColor(0, 0, 0),
            dashed: true,
        });
    }
    if curve.iter().any(|p| p.theory.is_some()) {
        series.push(Series {
            label: "discrete theory, exact spectrum".into(),
            points: pts(curve, &|p| p.theory),
            color: RGBColor(214, 39, 40),
            dashed: true,
        });
    }
    line_chart(
        &dir.path.join("threshold.svg"),
        &format!("{model}: the rank at every eigenvalue threshold μ = 1/(2ηk)"),
        "log₁₀ μ (eigenvalues of G^½HG^½ above it count)",
        "r(k) = 4/σ² · (L(θ_k) − L(θ_0))",
        &series,
        &[],
    )
}

fn write_outputs(
    dir: &RunDir,
    a: &DncnnArgs,
    spectrum: &Spectrum,
    p: &Paired,
    us: &UbaruSaad,
    theory: &DiscreteTheory,
    predicted: f64,
) -> Result<()> {
    let (r, trace) = (&p.real, &p.real_trace);
    write_spectrum(
        dir,
        spectrum,
        "figure3.svg",
        "DnCNN: normalised cumulative eigenvalue energy of the Hessian",
        &[
            VLine { label: format!("Langevin estimate {:.0}", r.estimate), x: r.estimate, color: RGBColor(0, 0, 0) },
            VLine { label: format!("Ubaru–Saad {:.0}", us.rank), x: us.rank, color: RGBColor(150, 150, 150) },
        ],
    )?;
    let scale = 4.0 / a.sigma2[0];
    let loss0 = r.chain.iter().map(|c| c.loss0).sum::<f64>() / r.chain.len() as f64;
    let rows: Vec<Vec<f64>> = trace
        .iter()
        .map(|p| {
            let excess = scale * (p.mean_loss - loss0);
            let k = p.k;
            vec![k as f64, excess, excess - p.mean_excess, p.mean_excess, scale * theory.expected_loss(k)]
        })
        .collect();
    dir.csv("trace.csv", &["iteration", "scaled_excess_loss", "scaled_drift", "corrected", "theory"], rows.clone())?;
    let stride = (rows.len() / 1500).max(1);
    let pts = |c: usize| rows.iter().step_by(stride).map(|r| (r[0], r[c])).collect::<Vec<_>>();
    line_chart(
        &dir.path.join("validation.svg"),
        &format!("DnCNN: measured 4/σ²·(L − L₀) vs theory (expected estimate {predicted:.0})"),
        "iteration",
        "4/σ² · (L(θ_k) − L(θ_0))",
        &[
            Series {
                label: "measured (drift-corrected)".into(),
                points: pts(3),
                color: RGBColor(31, 119, 180),
                dashed: false,
            },
            Series {
                label: "discrete theory, exact spectrum".into(),
                points: pts(4),
                color: RGBColor(214, 39, 40),
                dashed: false,
            },
            Series {
                label: "drift of the noise-free chain".into(),
                points: pts(2),
                color: RGBColor(100, 100, 100),
                dashed: true,
            },
        ],
        &[],
    )?;
    Ok(())
}
