//! `hessrank merge DIR…`: pools the chains of `estimate` (or `dncnn`) runs that differ only in
//! seed — how chains spread over machines are combined — into one estimate with R̂ and ESS.

use super::summary_line;
use crate::Ctx;
use crate::output::WINDOW_TRACES;
use crate::records::MergeConfig;
use crate::run_dir::RunDir;
use anyhow::{Context, Result, bail};
use clap::Args;
use hessrank_core::atomic::read_json;
use hessrank_rank::RankEstimate;
use hessrank_rank::langevin::{MergeInput, merge};
use std::path::{Path, PathBuf};

/// Arguments of `merge`.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Results folders of the runs (each with result.json and window-traces.json).
    pub dirs: Vec<PathBuf>,
}

/// Reads one run's estimate and its window traces.
pub fn read_run(dir: &Path) -> Result<MergeInput> {
    let path = dir.join("result.json");
    let mut value: serde_json::Value =
        read_json(&path).with_context(|| format!("{}: not a finished estimate run", dir.display()))?;
    // `dncnn` nests the estimate under "estimate"; `estimate` writes it at the top level.
    if value.get("estimate").is_some_and(serde_json::Value::is_object) {
        value = value["estimate"].take();
    }
    if value.get("estimate").is_some_and(serde_json::Value::is_null) {
        bail!("{}: a partial run with no estimate (continue it with --resume first)", path.display());
    }
    let mut estimate: RankEstimate = serde_json::from_value(value).with_context(|| {
        format!("{}: not the result of a hessrank estimate (missing or invalid field)", path.display())
    })?;
    estimate.traces = read_json(&dir.join(WINDOW_TRACES))?;
    Ok(MergeInput { source: dir.to_path_buf(), estimate })
}

/// Runs `merge`.
pub fn run(ctx: &Ctx, a: MergeArgs) -> Result<()> {
    if a.dirs.is_empty() {
        bail!("merge: give the results folders of at least one run (e.g. results/estimate-*)");
    }
    let runs = a.dirs.iter().map(|d| read_run(d)).collect::<Result<Vec<_>>>()?;
    let merged = merge(&runs)?;
    let dir = RunDir::create(&ctx.out, "merge")?;
    dir.json("config.json", &MergeConfig { merged: &a.dirs })?;
    dir.json("result.json", &merged)?;
    dir.json(WINDOW_TRACES, &merged.traces)?;
    println!("{} runs: {}", runs.len(), summary_line(&merged));
    for w in &merged.warnings {
        eprintln!("warning: {w}");
    }
    println!("results in {}", dir.path.display());
    Ok(())
}
