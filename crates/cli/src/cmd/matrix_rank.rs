//! `hessrank matrix-rank FILE`: the rank of a symmetric PSD matrix by the same dynamics on
//! L = ½ θᵀSθ (the paper's closing remark).

use super::{LangevinArgs, summary_line};
use crate::Ctx;
use crate::records::MatrixRankResult;
use anyhow::Result;
use clap::Args;
use hessrank_experiments::store::RunStore;
use hessrank_rank::matrix_file::read_matrix;
use hessrank_rank::quadratic::matrix_rank;
use std::path::PathBuf;

/// Arguments of `matrix-rank`.
#[derive(Args, Debug)]
pub struct MatrixRankArgs {
    /// A square symmetric PSD matrix: .npy (float64/float32) or CSV.
    pub file: PathBuf,
    /// Algorithm 1's settings (σ² is irrelevant for a quadratic; the chains run batched in one step).
    #[command(flatten)]
    pub langevin: LangevinArgs,
}

/// Runs `matrix-rank`.
pub fn run(ctx: &Ctx, a: MatrixRankArgs) -> Result<()> {
    let config = a.langevin.config(ctx)?;
    let (n, s) = read_matrix(&a.file)?;
    let dir = RunStore::create(&ctx.out, "matrix-rank")?;
    let r = matrix_rank(&s, n, &config, &ctx.device, &a.file.display().to_string())?;
    println!("{}: {n}×{n}, {}", a.file.display(), summary_line(&r));
    crate::output::print_run(&r);
    dir.json("result.json", &MatrixRankResult { file: &a.file, n, estimate: r })?;
    println!("results in {}", dir.path.display());
    Ok(())
}
