//! `merge` as a library call: the runs' estimates read back through the run store and pooled into
//! one (chains of one seed spread over machines, combined as Stan combines per-chain files).

use crate::store::RunStore;
use hessrank_core::{Error, Result};
use hessrank_rank::RankEstimate;
use hessrank_rank::langevin::{MergeInput, merge};
use std::path::PathBuf;

/// Pools the estimates of the run folders `dirs`, which must differ only in seed and chains.
pub fn merge_runs(dirs: &[PathBuf]) -> Result<RankEstimate> {
    if dirs.is_empty() {
        return Err(Error::config("runs", "none", "the folders of at least one finished run"));
    }
    let runs = dirs
        .iter()
        .map(|d| Ok(MergeInput { source: d.clone(), estimate: RunStore::open(d)?.read_estimate()? }))
        .collect::<Result<Vec<_>>>()?;
    merge(&runs)
}
