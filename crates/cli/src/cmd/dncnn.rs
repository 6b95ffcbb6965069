//! `hessrank dncnn` (and the default job): the paper's DnCNN experiment end to end — train (or
//! load `models/dncnn-mnist/`), take Adam's preconditioner, estimate the rank by Algorithm 1,
//! compute the exact Hessian spectrum and U&S, draw Figure 3 and a validation panel comparing the
//! measured loss trace with the discrete-time theory on the exact spectrum of G^½HG^½.

use super::parse_scheme;
use super::spectrum::{exact_spectrum, write_spectrum};
use super::train::{DncnnTrain, Schedule, train_dncnn};
use crate::Ctx;
use crate::plots::{Series, VLine, line_chart};
use crate::run_dir::RunDir;
use anyhow::Result;
use clap::Parser;
use hessrank_core::{DenseOperator, ParamLayout};
use hessrank_models::{DnCnnConfig, Mnist, NoisyMnist, NoisyMnistConfig};
use hessrank_rank::baselines::{UbaruSaad, UbaruSaadConfig};
use hessrank_rank::hessian::Spectrum;
use hessrank_rank::langevin::Checkpointing;
use hessrank_rank::theory::DiscreteTheory;
use hessrank_rank::{DriftCorrection, LangevinConfig, Scheme, StepSize};
use hessrank_train::checkpoint::Checkpoint;
use plotters::style::RGBColor;
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `dncnn` (defaults: a CPU-friendly size that finishes in a few minutes on 2 cores).
#[derive(Parser, Debug)]
pub struct DncnnArgs {
    /// Checkpoint folder: loaded when it matches the data settings, else trained.
    #[arg(long, default_value = "models/dncnn-mnist")]
    pub dir: PathBuf,
    /// Train again even if a matching checkpoint exists.
    #[arg(long)]
    pub retrain: bool,
    /// Images N in the fixed batch (the paper: all of MNIST).
    #[arg(long, default_value_t = 32)]
    pub n_images: usize,
    /// Noise standard deviation.
    #[arg(long, default_value_t = 1.0)]
    pub noise_std: f64,
    /// Noise power σ² (the paper: 1e-5).
    #[arg(long, default_value_t = 1e-5, allow_hyphen_values = true)]
    pub sigma2: f64,
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
    /// Save the Langevin run's state (langevin-state.json in the run folder) every this many
    /// iterations.
    #[arg(long, default_value_t = 500)]
    pub checkpoint_every: usize,
    /// Continue the run saved in this results folder (same flags and seed), writing its results
    /// there. The checkpoint in --dir must be the one the run started from.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Training schedule (when training).
    #[command(flatten)]
    pub schedule: Schedule,
}

/// Runs the experiment.
pub fn run(ctx: &Ctx, a: DncnnArgs) -> Result<()> {
    let t0 = Instant::now();
    let data = NoisyMnistConfig::new().with_n_images(a.n_images).with_noise_std(a.noise_std).with_seed(ctx.seed);
    let plain = ctx.device.clone().inner();
    let matches = Checkpoint::manifest(&a.dir)
        .map(|m| m.model_kind == "dncnn" && m.data == serde_json::to_value(&data).unwrap_or_default())
        .unwrap_or(false);
    if let Some(d) = &a.resume {
        anyhow::ensure!(
            matches && !a.retrain,
            "--resume {}: the checkpoint {} is missing or was trained for other data settings; resume with \
             the --dir, --n-images, --noise-std and --seed of the original run (and without --retrain)",
            d.display(),
            a.dir.display()
        );
    }
    let dir = RunDir::resume_or_create(a.resume.as_deref(), &ctx.out, "dncnn", "langevin-state.json")?;
    let checkpointing = Checkpointing { path: dir.path.join("langevin-state.json"), every: a.checkpoint_every.max(1) };

    // 1. θ₀ and G: load a matching checkpoint, else train.
    let (model, precond, manifest) = if matches && !a.retrain {
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
                schedule: a.schedule.clone(),
            },
        )?;
        (out.model, out.precond, out.manifest)
    };
    println!(
        "θ₀: loss {:.8e}, ‖∇L‖ = {:.3e} ({:.0} s so far)",
        manifest.final_loss,
        manifest.final_grad_norm,
        t0.elapsed().as_secs_f64()
    );
    let mnist = Mnist::bundled()?;
    let objective = NoisyMnist::new(&mnist, &data, &ctx.device)?;
    let frozen = objective.frozen_at(&model);

    // 2. The exact Hessian (finite differences on the frozen ReLU pattern, f64) and G^½HG^½.
    let (spectrum, h) = exact_spectrum(ctx, &frozen, &model)?;
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

    // 3. Algorithm 1, with η from the exact μ_max and the drift of θ₀ subtracted.
    let eta = a.eta_c / mu_max;
    let config = LangevinConfig::new()
        .with_step(StepSize::Fixed(eta))
        .with_sigma2(a.sigma2)
        .with_k_tot(a.iters)
        .with_k_avg(a.avg)
        .with_chains(a.chains)
        .with_scheme(a.scheme)
        .with_seed(ctx.seed)
        .with_drift(a.drift)
        .with_check_step(false);
    config.validate().map_err(|e| anyhow::anyhow!(super::flag_names(&e.to_string())))?;
    let done = super::estimate::estimate_with_progress(
        ctx,
        &config,
        &objective,
        &frozen,
        &model,
        &precond,
        Some((&checkpointing, a.resume.is_some())),
    )?;
    let Some((r, trace)) = done else { return super::estimate::write_interrupted(&dir) };

    // 4. U&S on the dense Hessian (products are free once H is formed).
    let us_cfg = UbaruSaadConfig { degree: a.us_degree, nvecs: a.us_vecs, seed: ctx.seed, ..Default::default() };
    let us = UbaruSaad::estimate(
        &DenseOperator::new(h.nrows(), h.transpose().as_slice().to_vec()).expect("square"),
        &us_cfg,
    );

    // 5. What the theory expects for this η, K and scheme from the exact spectrum.
    let theory = DiscreteTheory { mu: mu.clone(), eta, sigma2: a.sigma2, scheme: a.scheme };
    let predicted = theory.expected_estimate(a.iters, a.avg);
    let effective = theory.effective_rank(a.iters);
    let energy_ours = spectrum.energy_at_rank(r.estimate);
    let energy_us = spectrum.energy_at_rank(us.rank);

    // 6. Files and plots.
    write_outputs(&dir, &a, &spectrum, &r, &us, &theory, &trace, predicted)?;
    let result = serde_json::json!({
        "estimate": r, "ubaru_saad": {"rank": us.rank, "stderr": us.stderr, "threshold": us.threshold, "lambda_max": us.lambda_max, "matvecs": us.matvecs},
        "energy_captured": {"ours": energy_ours, "ubaru_saad": energy_us},
        "theory": {"expected_estimate": predicted, "effective_rank_at_k_tot": effective, "mu_max": mu_max, "eta_mu_max": eta * mu_max},
        "spectrum": {"lambda_max": spectrum.max(), "trace": spectrum.trace, "negatives": spectrum.negatives(1e-6), "rank_98_5_percent_energy": spectrum.rank_for_energy(0.985), "asymmetry": spectrum.asymmetry},
        "theta0": {"loss": manifest.final_loss, "grad_norm": manifest.final_grad_norm, "checkpoint": a.dir},
        "data": data, "backend": ctx.backend.to_string(), "dtype": format!("{:?}", ctx.dtype), "seed": ctx.seed,
        "wall_s": t0.elapsed().as_secs_f64()
    });
    dir.json("result.json", &result)?;
    dir.json(super::estimate::WINDOW_TRACES, &r.traces)?;
    dir.json("config.json", &serde_json::json!({"langevin": config, "data": data, "ubaru_saad": us_cfg, "checkpoint": a.dir, "training": manifest.train_config}))?;

    println!();
    println!(
        "DnCNN ({} parameters, N = {} images, noise std {}):",
        ParamLayout::of(&model).numel(),
        a.n_images,
        a.noise_std
    );
    println!(
        "  Langevin estimate   {:.1} ± {:.1}  → captures {:.1} % of the Hessian's energy{}",
        r.estimate,
        r.stderr,
        100.0 * energy_ours,
        if r.partial { " (PARTIAL)" } else { "" }
    );
    println!(
        "  theory for this run {predicted:.1}  (exact spectrum of G^½HG^½, η μ_max = {:.2}, K = {}, {:?})",
        eta * mu_max,
        a.iters,
        a.scheme
    );
    println!(
        "  drift correction    {:.1}  ({:?}; uncorrected {:.1})",
        r.drift.unwrap_or(0.0),
        a.drift,
        r.estimate_uncorrected
    );
    println!("  chains              {}  (R̂ {:.3}, bulk ESS {:.0})", r.chains, r.r_hat, r.ess);
    for w in &r.warnings {
        println!("  warning: {w}");
    }
    println!(
        "  Ubaru–Saad          {:.1} ± {:.1}  → captures {:.1} % (threshold {:.3e})",
        us.rank,
        us.stderr,
        100.0 * energy_us,
        us.threshold
    );
    println!("  98.5 % of the energy lies in the top {} eigenvalues", spectrum.rank_for_energy(0.985));
    println!("  modes with μ < {:.3e} are not yet equilibrated", r.eigenvalue_threshold);
    println!("plots and data in {} ({:.0} s)", dir.path.display(), t0.elapsed().as_secs_f64());
    if r.partial {
        println!("interrupted after {} iterations: continue with --resume {}", r.iterations, dir.path.display());
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn write_outputs(
    dir: &RunDir,
    a: &DncnnArgs,
    spectrum: &Spectrum,
    r: &hessrank_rank::RankEstimate,
    us: &UbaruSaad,
    theory: &DiscreteTheory,
    trace: &[hessrank_rank::langevin::TracePoint],
    predicted: f64,
) -> Result<()> {
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
    let scale = 4.0 / a.sigma2;
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
