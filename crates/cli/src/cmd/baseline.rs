//! `hessrank baseline`: Ubaru–Saad rank, Lanczos top-k and Hutchinson trace of a checkpoint's
//! Hessian (finite-difference products, or the dense matrix when it fits), or of a symmetric PSD
//! matrix read from .npy or CSV (`--matrix`).

use crate::{Ctx, source};
use anyhow::Result;
use clap::Args;
use hessrank_experiments::curvature::{BaselineReport, BaselineSpec, baseline, baseline_of_matrix};
use hessrank_experiments::store::{self, RunStore};
use hessrank_rank::baselines::{GapRule, UbaruSaadConfig};
use std::path::PathBuf;

/// Arguments of `baseline`.
#[derive(Args, Debug)]
pub struct BaselineArgs {
    /// Checkpoint folder.
    #[arg(long, default_value = "models/dncnn-mnist")]
    pub model: PathBuf,
    /// A square symmetric PSD matrix (.npy float64/float32, or CSV) instead of a checkpoint.
    #[arg(long, conflicts_with_all = ["model", "weights"])]
    pub matrix: Option<PathBuf>,
    /// A model trained elsewhere, or another batch.
    #[command(flatten)]
    pub import: source::ImportArgs,
    /// U&S threshold rule: published (Ubaru and Saad's code, the paper's baseline) or first-minimum.
    #[arg(long, value_parser = super::parse_us_rule, default_value = "published")]
    pub us_rule: GapRule,
    /// U&S polynomial degree.
    #[arg(long, default_value_t = 50)]
    pub degree: usize,
    /// U&S probe vectors.
    #[arg(long, default_value_t = 300)]
    pub nvecs: usize,
    /// Top eigenvalues by Lanczos.
    #[arg(long, default_value_t = 5)]
    pub top_k: usize,
    /// Hutchinson probes.
    #[arg(long, default_value_t = 100)]
    pub probes: usize,
    /// Form the dense Hessian first when the model has at most this many parameters (2n gradients,
    /// then every product is free); above it, each product costs two gradients.
    #[arg(long, default_value_t = 5000)]
    pub dense_up_to: usize,
}

/// Runs `baseline`.
pub fn run(ctx: &Ctx, a: BaselineArgs) -> Result<()> {
    let ubaru_saad =
        UbaruSaadConfig { gap_rule: a.us_rule, degree: a.degree, nvecs: a.nvecs, seed: ctx.seed, ..Default::default() };
    let spec =
        BaselineSpec { ubaru_saad, top_k: a.top_k, probes: a.probes, dense_up_to: a.dense_up_to, seed: ctx.seed };
    let problem = match &a.matrix {
        Some(_) => None,
        None => Some(source::load(&a.import.spec(&a.model)?, &ctx.device)?),
    };
    let dir = RunStore::create(&ctx.out, "baseline")?;
    let result = match (&a.matrix, &problem) {
        (Some(file), _) => baseline_of_matrix(&spec, file)?,
        (None, Some(problem)) => baseline(&spec, problem)?,
        (None, None) => unreachable!("a problem is loaded without --matrix"),
    };
    report(&dir, &result)
}

/// Writes `result.json` and prints the numbers.
fn report(dir: &RunStore, result: &BaselineReport) -> Result<()> {
    dir.json(store::RESULT, result)?;
    println!(
        "U&S rank {:.1} ± {:.1} (threshold {:.3e}); top eigenvalues {}; Hutchinson trace {:.4e} ± {:.1e}",
        result.ubaru_saad.rank,
        result.ubaru_saad.stderr,
        result.ubaru_saad.threshold,
        serde_json::to_string(&result.lanczos.eigenvalues)?,
        result.hutchinson.trace,
        result.hutchinson.stderr,
    );
    println!("results in {}", dir.path.display());
    Ok(())
}
