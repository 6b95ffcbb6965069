//! Pooling the chains of several runs that differ only in seed (or chain range): the way chains
//! spread over machines are combined. Any scheduler runs the same estimate with seed i; merging checks that
//! the runs started from the same θ₀ with the same G and settings, refuses a chain that appears
//! twice, and recomputes the statistics (R̂, ESS, the between-chain interval) over all chains.

use super::{LangevinConfig, RankEstimate};
use hessrank_core::{Error, Result};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// One run to merge: where it came from (named in errors) and its result, traces included.
#[derive(Debug, Clone)]
pub struct MergeInput {
    /// The run's folder or file.
    pub source: PathBuf,
    /// Its estimate; `traces` must hold the window's excess traces.
    pub estimate: RankEstimate,
}

/// The settings that must agree, as (field, value) pairs.
fn identity(r: &RankEstimate) -> Vec<(&'static str, String)> {
    let c: &LangevinConfig = &r.config;
    vec![
        ("theta0_sha256 (the checkpoint's parameters)", r.theta0_sha256.clone()),
        ("precond_sha256 (G)", r.precond_sha256.clone()),
        ("eta", format!("{:e}", r.eta)),
        ("sigma2", format!("{:e}", c.sigma2)),
        ("k_tot", c.k_tot.to_string()),
        ("k_avg", c.k_avg.to_string()),
        ("scheme", format!("{:?}", c.scheme)),
        ("drift", format!("{:?}", c.drift)),
        ("n_params", r.n_params.to_string()),
    ]
}

/// Pools `runs` into one estimate over all their chains.
///
/// Errors name the run and the field: no runs; a partial run or one without traces; any of θ₀, G,
/// η, σ², K_tot, K_avg, scheme or drift correction differing from the first run; or a chain (seed,
/// stream) present twice.
pub fn merge(runs: &[MergeInput]) -> Result<RankEstimate> {
    let first = runs.first().ok_or_else(|| Error::config("runs", 0, "at least one run to merge"))?;
    let want = identity(&first.estimate);
    let mut seen = BTreeSet::new();
    let (mut chain, mut traces) = (Vec::new(), Vec::new());
    let (mut grad_evals, mut wall_s, mut iterations) = (0, 0.0, 0);
    for run in runs {
        let r = &run.estimate;
        if r.partial {
            return Err(Error::format(
                &run.source,
                format!("partial run ({} of {} iterations)", r.iterations, r.config.k_tot),
            ));
        }
        if r.traces.len() != r.chain.len() || r.traces.iter().any(|t| t.len() != r.config.k_avg) {
            return Err(Error::format(
                &run.source,
                format!("traces: expected {} chains × {} window iterations", r.chain.len(), r.config.k_avg),
            ));
        }
        for ((field, expected), (_, found)) in want.iter().zip(identity(r)) {
            if *expected != found {
                return Err(Error::SettingsMismatch {
                    path: run.source.clone(),
                    field,
                    saved: found,
                    given: expected.clone(),
                });
            }
        }
        for c in 0..r.config.chains as u64 {
            let key = (r.config.seed, r.config.first_chain + c);
            if !seen.insert(key) {
                return Err(Error::format(
                    &run.source,
                    format!("seed {} chain {} is already in another run: merge runs of distinct seeds", key.0, key.1),
                ));
            }
        }
        chain.extend(r.chain.iter().cloned());
        traces.extend(r.traces.iter().cloned());
        grad_evals += r.grad_evals;
        wall_s += r.wall_s;
        iterations = iterations.max(r.iterations);
    }
    let mut merged = first.estimate.clone();
    merged.config.chains = runs.iter().map(|r| r.estimate.config.chains).sum();
    merged.grad_evals = grad_evals;
    merged.wall_s = wall_s;
    merged.iterations = iterations;
    merged.warnings.retain(|w| !w.is_statistical());
    merged.set_chains(chain, traces);
    Ok(merged)
}
