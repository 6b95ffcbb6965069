//! `hessrank merge DIR…`: pools the chains of `estimate` (or `dncnn`) runs that differ only in
//! seed — how chains spread over machines are combined — into one estimate with R̂ and ESS.

use super::summary_line;
use crate::Ctx;
use crate::records::MergeConfig;
use anyhow::{Result, bail};
use clap::Args;
use hessrank_experiments::merge::merge_runs;
use hessrank_experiments::store::{self, RunStore};
use std::path::PathBuf;

/// Arguments of `merge`.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Results folders of the runs (each with estimate.json and window-traces.json).
    pub dirs: Vec<PathBuf>,
}

/// Runs `merge`.
pub fn run(ctx: &Ctx, a: MergeArgs) -> Result<()> {
    if a.dirs.is_empty() {
        bail!("merge: give the results folders of at least one run (e.g. results/estimate-*)");
    }
    let merged = merge_runs(&a.dirs)?;
    let dir = RunStore::create(&ctx.out, "merge")?;
    dir.json(store::CONFIG, &MergeConfig { merged: &a.dirs })?;
    dir.json(store::RESULT, &merged)?;
    dir.write_estimate(&merged)?;
    println!("{} runs: {}", a.dirs.len(), summary_line(&merged));
    crate::output::print_warnings(&merged.warnings);
    println!("results in {}", dir.path.display());
    Ok(())
}
