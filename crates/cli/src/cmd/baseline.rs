//! `hessrank baseline`: Ubaru–Saad rank, Lanczos top-k and Hutchinson trace of a checkpoint's
//! Hessian (finite-difference products, or the dense matrix when it fits), or of a symmetric PSD
//! matrix read from .npy or CSV (`--matrix`).

use crate::records::BaselineResult;
use crate::run_dir::RunDir;
use crate::{Ctx, problem, with_problem};
use anyhow::Result;
use clap::Args;
use hessrank_core::{DenseOperator, LinearOperator};
use hessrank_rank::baselines::{GapRule, UbaruSaad, UbaruSaadConfig};
use hessrank_rank::hessian::{FdHessian, dense_matrix, hutchinson, lanczos_top_k};
use hessrank_rank::matrix_file::read_matrix;
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
    pub import: problem::ImportArgs,
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
    let us_cfg =
        UbaruSaadConfig { gap_rule: a.us_rule, degree: a.degree, nvecs: a.nvecs, seed: ctx.seed, ..Default::default() };
    let all = |op: &dyn LinearOperator, gradient_evaluations: usize| {
        let us = UbaruSaad::estimate(op, &us_cfg);
        let top = lanczos_top_k(op, a.top_k, (2 * a.top_k + 20).min(op.dim()), ctx.seed);
        let tr = hutchinson(op, a.probes, ctx.seed);
        BaselineResult {
            ubaru_saad: us,
            lanczos: top,
            hutchinson: tr,
            n_params: op.dim(),
            gradient_evaluations,
            matrix: None,
            model: None,
        }
    };
    if let Some(file) = &a.matrix {
        let (n, s) = read_matrix(file)?;
        let dir = RunDir::create(&ctx.out, "baseline")?;
        let scale = s.iter().fold(0.0f64, |m, x| m.max(x.abs())).max(f64::MIN_POSITIVE);
        if let Some((i, j)) = (0..n)
            .flat_map(|i| (0..i).map(move |j| (i, j)))
            .find(|&(i, j)| (s[i * n + j] - s[j * n + i]).abs() > 1e-8 * scale)
        {
            anyhow::bail!(
                "{}: not symmetric: entry ({i}, {j}) = {} but ({j}, {i}) = {}",
                file.display(),
                s[i * n + j],
                s[j * n + i]
            );
        }
        let op = DenseOperator::new(n, s).expect("read_matrix returns n² entries");
        let mut result = all(&op, 0);
        result.matrix = Some(file.clone());
        return report(&dir, &result);
    }
    let loaded = problem::load_source(&a.model, &a.import, &ctx.device)?;
    let dir = RunDir::create(&ctx.out, "baseline")?;
    let result = with_problem!(&loaded.problem, |model, _objective, curvature| {
        let fd = FdHessian::new(curvature, model);
        let dense;
        let op: &dyn LinearOperator = if fd.dim() <= a.dense_up_to {
            let m = dense_matrix(&fd);
            dense = DenseOperator::new(m.nrows(), m.transpose().as_slice().to_vec()).expect("square");
            &dense
        } else {
            &fd
        };
        all(op, fd.grad_evals())
    });
    let mut result = result;
    result.model = Some(loaded.origin.clone());
    report(&dir, &result)
}

/// Writes `result.json` and prints the numbers.
fn report(dir: &RunDir, result: &BaselineResult) -> Result<()> {
    dir.json("result.json", result)?;
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
