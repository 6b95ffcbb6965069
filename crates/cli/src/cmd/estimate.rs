//! `hessrank estimate`: flags → [`EstimateSpec`] → the library's `estimate` (or `per_layer`) →
//! the run folder and the printed summary.

use super::{LangevinArgs, ResumeArgs};
use crate::flags::describe;
use crate::output::estimate::{write_estimate, write_per_layer};
use crate::output::write_interrupted;
use crate::progress::CliObserver;
use crate::records::{EstimateConfig, Source};
use crate::{Ctx, source};
use anyhow::Result;
use clap::Args;
use hessrank_core::Error;
use hessrank_experiments::estimate::{EstimateSpec, PrecondChoice, estimate, per_layer};
use hessrank_experiments::store::{self, RunStore};
use std::path::PathBuf;

/// Arguments of `estimate`.
#[derive(Args, Debug)]
pub struct EstimateArgs {
    /// Checkpoint folder (written by `hessrank train`).
    #[arg(long, default_value = "models/dncnn-mnist")]
    pub model: PathBuf,
    /// A model trained elsewhere, or another batch.
    #[command(flatten)]
    pub import: source::ImportArgs,
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
    /// What the dynamics do with the loss's scale-invariant groups (the weights feeding
    /// BatchNorm, LayerNorm or GroupNorm, found at θ₀): project (each moves on the sphere of its
    /// θ₀ norm; the default wherever there are groups) or off (the plain dynamics: their norms
    /// random-walk upward on long runs, warned before the run when predicted past ×1.25).
    #[arg(long, value_parser = crate::args::parse_symmetry)]
    pub symmetry: Option<hessrank_rank::Symmetry>,
}

/// `--precond` as the library's choice.
fn precond_choice(flag: Option<&str>) -> PrecondChoice {
    match flag {
        None => PrecondChoice::Default,
        Some("adam") => PrecondChoice::Adam,
        Some("identity") => PrecondChoice::Identity,
        Some(file) => PrecondChoice::File(file.into()),
    }
}

/// Runs `estimate`.
pub fn run(ctx: &Ctx, a: EstimateArgs) -> Result<()> {
    let mut spec = EstimateSpec {
        langevin: a.langevin.config_with(ctx, LangevinArgs::adaptive_base())?,
        sigma2: a.langevin.sigma2s(),
        precond: precond_choice(a.precond.as_deref()),
        params: a.params.clone(),
        validate: a.validate,
        checkpoint_every: a.save.checkpoint_every,
        resume: a.save.resume.is_some(),
        symmetry: a.symmetry,
    };
    spec.validate_settings()?;
    let problem = source::load(&a.import.spec(&a.model)?, &ctx.device)?;
    // G is resolved once, here, so that a bad --precond is named before any work.
    let (g, precond) = spec.precond.resolve(&problem).map_err(|e| match &spec.precond {
        PrecondChoice::Adam => anyhow::anyhow!(
            "--precond adam: these weights come without Adam's second moment; use identity or a preconditioner file"
        ),
        PrecondChoice::File(f) => {
            anyhow::anyhow!("--precond {}: expected adam, identity or a preconditioner file ({e})", f.display())
        }
        _ => e.into(),
    })?;
    spec.precond = PrecondChoice::Given { g, name: precond.clone() };
    let dir = RunStore::resume_or_create(a.save.resume.as_deref(), &ctx.out, "estimate")?;
    let source = Source { model: &problem.origin, weights: &a.import.weights, data: &a.import.data };
    let (backend, dtype) = (ctx.backend.to_string(), format!("{:?}", ctx.dtype));
    let (langevin, sigma2, seed) = (&spec.langevin, &spec.sigma2, ctx.seed);
    let config = EstimateConfig { source, precond: &precond, langevin, sigma2, backend, dtype, seed };
    dir.json(store::CONFIG, &config)?;
    let mut observer = CliObserver::new(ctx.quiet, ctx.stop.clone());
    let outcome = if a.per_layer {
        per_layer(&spec, &problem, &mut observer).map(|rows| write_per_layer(&dir, &rows))
    } else {
        estimate(&spec, &problem, Some(&dir), &mut observer)
            .map(|r| write_estimate(&dir, &a.params, &problem.origin, &r))
    };
    match outcome {
        Err(e @ Error::Interrupted { .. }) => {
            println!("{}", describe(&e));
            write_interrupted(&dir)
        }
        Err(e) => Err(e.into()),
        Ok(written) => written,
    }
}
