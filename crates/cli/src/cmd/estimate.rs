//! `hessrank estimate`: the rank of a checkpoint's Hessian by Algorithm 1.

use super::{LangevinArgs, ResumeArgs, summary_line};
use crate::flags::describe;
use crate::output::sweep::{SweepRow, write_sweep};
use crate::output::{WINDOW_TRACES, write_interrupted};
use crate::progress::CliObserver;
use crate::records::{BlockRow, EstimateConfig, Source, ValidationRow};
use crate::run_dir::RunDir;
use crate::{Ctx, problem, with_problem};
use anyhow::{Context, Result};
use clap::Args;
use hessrank_core::{DiagPreconditioner, ParamLayout};
use hessrank_experiments::paired::{StateFiles, exact_mode_eigenvalues, run_paired, run_real};
use hessrank_experiments::sweep::{FrozenCheck, relu_excess_meaning};
use hessrank_rank::RankEstimate;
use hessrank_rank::langevin::TracePoint;
use hessrank_rank::theory::DiscreteTheory;
use hessrank_rank::validation::{thin_log, threshold_curve};
use std::path::PathBuf;

/// Arguments of `estimate`.
#[derive(Args, Debug)]
pub struct EstimateArgs {
    /// Checkpoint folder (written by `hessrank train`).
    #[arg(long, default_value = "models/dncnn-mnist")]
    pub model: PathBuf,
    /// A model trained elsewhere, or another batch.
    #[command(flatten)]
    pub import: problem::ImportArgs,
    /// Preconditioner: adam (the checkpoint's), identity, or a JSON file saved by hessrank
    /// (default: adam for a checkpoint, identity for --weights, which hold no Adam state).
    #[arg(long)]
    pub precond: Option<String>,
    /// Algorithm 1's settings.
    #[command(flatten)]
    pub langevin: LangevinArgs,
    /// Run the dynamics on these parameters only (path globs: `mid.*`, `first.weight`; `*` spans
    /// dots), the rest held at θ₀: the estimate is the rank of that diagonal block of the Hessian.
    #[arg(long, num_args = 1.., value_delimiter = ',')]
    pub params: Vec<String>,
    /// One estimate per layer (`first`, `mid.0`, `last` on the DnCNN; `layers.0`, `layers.1` on an
    /// MLP), in one table (per-layer.csv).
    #[arg(long, conflicts_with_all = ["params", "resume"])]
    pub per_layer: bool,
    /// Like-for-like check: also run the same chains (same noise) on the frozen-activation
    /// objective, and compare them with the discrete theory on the exact Hessian (dense, f64
    /// finite differences; up to 5,000 parameters). Writes validation.json.
    #[arg(long, conflicts_with = "per_layer")]
    pub validate: bool,
    /// Saving and resuming.
    #[command(flatten)]
    pub save: ResumeArgs,
}

/// The preconditioner named by `--precond` (`None`: Adam's where the model has it, else G = I).
pub fn choose_precond(
    which: Option<&str>,
    checkpoint: Option<DiagPreconditioner>,
    layout: &ParamLayout,
    ctx: &Ctx,
) -> Result<DiagPreconditioner> {
    let plain = ctx.device.clone().inner();
    Ok(match (which, checkpoint) {
        (None | Some("adam"), Some(adam)) => adam,
        (Some("adam"), None) => anyhow::bail!(
            "--precond adam: these weights come without Adam's second moment; use identity or a preconditioner file"
        ),
        (None, None) => DiagPreconditioner::identity(layout, &plain),
        (Some(which), _) => match which {
            "identity" => DiagPreconditioner::identity(layout, &plain),
            file => DiagPreconditioner::load(std::path::Path::new(file), layout, &plain)
                .with_context(|| format!("--precond {file}: expected adam, identity or a preconditioner file"))?,
        },
    })
}

/// Writes an estimate's files: `result.json`, the window's per-chain excess traces
/// (`window-traces.json`, what `merge` pools) and the recorded mean trace (`trace.csv`).
pub fn write_estimate(dir: &RunDir, r: &RankEstimate, trace: &[TracePoint]) -> Result<()> {
    dir.json("result.json", r)?;
    dir.json(WINDOW_TRACES, &r.traces)?;
    dir.csv(
        "trace.csv",
        &["iteration", "mean_loss", "mean_scaled_excess", "companion_loss"],
        trace.iter().map(|p| vec![p.k as f64, p.mean_loss, p.mean_excess, p.companion.unwrap_or(f64::NAN)]),
    )?;
    Ok(())
}

/// Runs `estimate`: one σ², or a sweep (`--sigma2 A,B,C`) that also runs, for models with a
/// frozen-activation objective, the same chains on it (paired) and writes `sigma2-sweep.csv`/`.svg`.
pub fn run(ctx: &Ctx, a: EstimateArgs) -> Result<()> {
    let configs: Vec<_> = a.langevin.sigma2.iter().map(|&s| a.langevin.config_at(ctx, s)).collect::<Result<_>>()?;
    let sweep = configs.len() > 1;
    let loaded = problem::load_source(&a.model, &a.import, &ctx.device)?;
    let dir = RunDir::resume_or_create(a.save.resume.as_deref(), &ctx.out, "estimate", "langevin-state.json")?;
    let precond = a.precond.as_deref().unwrap_or(if loaded.precond.is_some() { "adam" } else { "identity" });
    let source = Source { model: &loaded.origin, weights: &a.import.weights, data: &a.import.data };
    dir.json(
        "config.json",
        &EstimateConfig {
            source,
            precond,
            langevin: &configs[0],
            sigma2: &a.langevin.sigma2,
            backend: ctx.backend.to_string(),
            dtype: format!("{:?}", ctx.dtype),
            seed: ctx.seed,
        },
    )?;
    let has_frozen = !matches!(loaded.problem, problem::Problem::Linear { .. });
    if sweep && !has_frozen {
        println!("this model has no frozen-activation objective: the σ² sweep has the real estimates only");
    }
    anyhow::ensure!(
        !a.validate || has_frozen,
        "--validate: the linear net has no ReLU pattern to freeze (figure1 and table1 check it against its closed form)"
    );
    let paired = has_frozen && (sweep || a.validate);
    let exact_mu = if a.validate { Some(validation_spectrum(ctx, &a, &loaded)?) } else { None };
    if a.per_layer {
        anyhow::ensure!(!sweep, "--per-layer runs one σ² (got {})", configs.len());
        return per_layer(ctx, &a, &loaded, &configs[0], &dir);
    }
    let mut rows = Vec::new();
    let mut first = None;
    let mut observer = CliObserver::new(ctx.quiet, ctx.stop.clone());
    for (index, config) in configs.iter().enumerate() {
        let files = StateFiles {
            dir: Some(&dir.path),
            index,
            every: a.save.checkpoint_every.max(1),
            resume: a.save.resume.is_some(),
        };
        let run = with_problem!(&loaded.problem, |model, objective, curvature| {
            let layout = ParamLayout::of(model);
            let g = choose_precond(a.precond.as_deref(), loaded.precond.clone(), &layout, ctx)?;
            let g = restrict(g, &layout, &a.params, index == 0)?;
            // No `?` on the runs: an interruption is handled below, not returned.
            if paired {
                run_paired(config, objective, curvature, model, &g, files, &mut observer)
                    .map(|p| (p.real, p.real_trace, Some((p.frozen, p.relu_excess))))
            } else {
                run_real(config, objective, curvature, model, &g, files, &mut observer, "langevin")
                    .map(|(r, trace)| (r, trace, None))
            }
        });
        let (r, trace, frozen) = match run {
            Err(e @ hessrank_core::Error::Interrupted { .. }) => {
                println!("{}", describe(&e));
                return write_interrupted(&dir);
            }
            run => run?,
        };
        if sweep || a.validate {
            let theory = exact_mu.as_ref().map(|mu| {
                DiscreteTheory { mu: mu.clone(), eta: r.eta, sigma2: config.sigma2, scheme: config.scheme }
                    .expected_estimate(config.k_tot, config.k_avg)
            });
            rows.push(SweepRow::of(&r, frozen.as_ref().map(|(f, d)| (f, d)), theory));
            println!("σ² = {:.1e}: {}", config.sigma2, summary_line(&r));
        }
        if first.is_none() {
            first = Some((r, trace));
        }
    }
    let (r, trace) = first.expect("at least one σ²");
    write_estimate(&dir, &r, &trace)?;
    // The rank at every threshold from the trace alone (no exact spectrum for a general model).
    let curve = threshold_curve(&trace, r.eta, None, None);
    dir.json("threshold.json", &thin_log(&curve, 200))?;
    crate::output::threshold::write_threshold_curve(&dir, &curve, None, "estimate")?;
    if sweep {
        write_sweep(&dir, &loaded.origin, &rows)?;
        dir.json("sigma2-sweep.json", &rows)?;
        for row in &rows {
            if let (Some(f), Some(d)) = (row.frozen, &row.relu_excess) {
                println!(
                    "σ² = {:.1e}: real {:.1} ± {:.1}, frozen {:.1} ± {:.1}, real − frozen {:+.1} ± {:.1}",
                    row.sigma2, row.real.estimate, row.real.stderr, f.estimate, f.stderr, d.value, d.stderr
                );
            }
        }
        println!("σ² sweep: sigma2-sweep.csv and sigma2-sweep.svg (result.json holds the first σ²)");
    }
    if a.validate {
        write_validation(&dir, &rows)?;
    }
    println!("{} ({} parameters)", summary_line(&r), r.n_params);
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
    println!("modes of G^½HG^½ below {:.3e} are not equilibrated (threshold 1/(2ηK_tot))", r.eigenvalue_threshold);
    println!("results in {} (threshold.svg: the rank at every eigenvalue threshold)", dir.path.display());
    if r.partial {
        println!("interrupted after {} iterations: continue with --resume {}", r.iterations, dir.path.display());
    }
    Ok(())
}

/// `--validate`: the eigenvalues μ of G^½HG^½ with H the exact Hessian of the frozen-activation
/// objective at θ₀ (f64 central differences of gradients), G the run's (restricted by --params).
fn validation_spectrum(ctx: &Ctx, a: &EstimateArgs, loaded: &problem::Loaded) -> Result<Vec<f64>> {
    anyhow::ensure!(
        ctx.dtype == burn::tensor::FloatDType::F64,
        "--validate computes the exact Hessian in f64: run with --dtype f64 (the CPU default)"
    );
    with_problem!(&loaded.problem, |model, _objective, curvature| {
        let layout = ParamLayout::of(model);
        let g = choose_precond(a.precond.as_deref(), loaded.precond.clone(), &layout, ctx)?;
        let g = restrict(g, &layout, &a.params, false)?;
        println!(
            "--validate: the exact Hessian of the frozen-activation objective ({} parameters, f64)",
            layout.numel()
        );
        Ok(exact_mode_eigenvalues(curvature, model, &g)?)
    })
}

/// Prints each σ²'s frozen estimate against the theory and writes `validation.json`.
fn write_validation(dir: &RunDir, rows: &[SweepRow]) -> Result<()> {
    let mut out = Vec::new();
    for row in rows {
        let (Some(f), Some(theory)) = (row.frozen, row.theory) else { continue };
        let check = FrozenCheck::of(f.estimate, f.stderr, theory);
        println!(
            "σ² = {:.1e}: frozen {:.1} ± {:.1} vs theory {theory:.1} on the exact Hessian: {:+.1} SE, {}",
            row.sigma2,
            f.estimate,
            f.stderr,
            check.z,
            check.verdict()
        );
        if let Some(d) = &row.relu_excess {
            println!(
                "σ² = {:.1e}: ReLU excess (real − frozen, paired) {:+.1} ± {:.1}: {}",
                row.sigma2,
                d.value,
                d.stderr,
                relu_excess_meaning(d)
            );
        }
        out.push(ValidationRow::of(row, f, theory, &check));
    }
    dir.json("validation.json", &out)?;
    println!("like-for-like check in validation.json");
    Ok(())
}

/// G restricted to the `--params` globs (unchanged when none are given); says what moves.
fn restrict(g: DiagPreconditioner, layout: &ParamLayout, params: &[String], say: bool) -> Result<DiagPreconditioner> {
    if params.is_empty() {
        return Ok(g);
    }
    let keep = layout.select(params).map_err(|e| anyhow::anyhow!("--params: {e}"))?;
    let moving: usize = layout.specs.iter().zip(&keep).filter(|(_, k)| **k).map(|(s, _)| s.numel()).sum();
    if say {
        println!(
            "--params {}: the dynamics move {moving} of {} parameters, the rest stay at θ₀ (the rank of that block of H)",
            params.join(","),
            layout.numel()
        );
    }
    Ok(g.restricted(&keep)?)
}

/// `--per-layer`: one estimate per layer, as a table (`per-layer.csv`, `per-layer.json`).
fn per_layer(
    ctx: &Ctx,
    a: &EstimateArgs,
    loaded: &problem::Loaded,
    config: &hessrank_rank::LangevinConfig,
    dir: &RunDir,
) -> Result<()> {
    let rows = with_problem!(&loaded.problem, |model, objective, curvature| {
        let layout = ParamLayout::of(model);
        let g = choose_precond(a.precond.as_deref(), loaded.precond.clone(), &layout, ctx)?;
        let mut rows = Vec::new();
        for (block, glob) in layout.layer_blocks() {
            let keep = layout.select(std::slice::from_ref(&glob))?;
            let n: usize = layout.specs.iter().zip(&keep).filter(|(_, k)| **k).map(|(s, _)| s.numel()).sum();
            let g = g.restricted(&keep)?;
            let mut observer = CliObserver::new(ctx.quiet, ctx.stop.clone());
            let r = match run_real(
                config,
                objective,
                curvature,
                model,
                &g,
                StateFiles::NONE,
                &mut observer,
                block.as_str(),
            ) {
                Err(e @ hessrank_core::Error::Interrupted { .. }) => {
                    println!("{}", describe(&e));
                    return write_interrupted(dir);
                }
                r => r?.0,
            };
            println!("{block:<10} {n:>6} parameters: {r}");
            rows.push(BlockRow { block, params: glob, n_params: n, result: r });
        }
        rows
    });
    dir.json("per-layer.json", &rows)?;
    dir.csv(
        "per-layer.csv",
        &["block_index", "n_params", "estimate", "stderr", "r_hat"],
        rows.iter()
            .enumerate()
            .map(|(i, r)| vec![i as f64, r.n_params as f64, r.result.estimate, r.result.stderr, r.result.r_hat]),
    )?;
    println!("per-block estimates in {} (per-layer.csv: blocks in the order of per-layer.json)", dir.path.display());
    Ok(())
}
