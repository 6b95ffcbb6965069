//! `estimate`'s files and summary: `result.json` and `estimate.json`, the window and mean
//! traces, `threshold.*`, the σ² sweep, `validation.json` and the per-layer table.

use super::sweep::write_sweep;
use super::threshold::write_threshold_curve;
use crate::cmd::summary_line;
use anyhow::Result;
use hessrank_experiments::estimate::{BlockRow, EstimateReport};
use hessrank_experiments::store::{self, RunStore};
use hessrank_experiments::sweep::relu_excess_meaning;
use hessrank_rank::validation::thin_log;

/// Writes the report's files and prints its numbers.
pub fn write_estimate(dir: &RunStore, params: &[String], origin: &str, report: &EstimateReport) -> Result<()> {
    let r = &report.estimate;
    if !params.is_empty() {
        let (moving, all) = report.moving;
        println!(
            "--params {}: the dynamics moved {moving} of {all} parameters, the rest stayed at θ₀ (the rank of that block of H)",
            params.join(",")
        );
    }
    dir.json(store::RESULT, r)?;
    dir.write_estimate(r)?;
    dir.write_trace(&report.trace)?;
    dir.json(store::THRESHOLD, &thin_log(&report.threshold, 200))?;
    write_threshold_curve(dir, &report.threshold, None, "estimate")?;
    for row in &report.sweep {
        println!("σ² = {:.1e}: real {:.1} ± {:.1}", row.sigma2, row.real.estimate, row.real.stderr);
    }
    if report.sweep.len() > 1 {
        write_sweep(dir, origin, &report.sweep)?;
        dir.json("sigma2-sweep.json", &report.sweep)?;
        for row in &report.sweep {
            if let (Some(f), Some(d)) = (row.frozen, &row.relu_excess) {
                println!(
                    "σ² = {:.1e}: real {:.1} ± {:.1}, frozen {:.1} ± {:.1}, real − frozen {:+.1} ± {:.1}",
                    row.sigma2, row.real.estimate, row.real.stderr, f.estimate, f.stderr, d.value, d.stderr
                );
            }
        }
        println!("σ² sweep: sigma2-sweep.csv and sigma2-sweep.svg (result.json holds the first σ²)");
    }
    if !report.validation.is_empty() {
        for v in &report.validation {
            let verdict = if v.agrees_within_2_5_se {
                "agrees (the estimator is right on this Hessian)"
            } else {
                "DISAGREES beyond 2.5 SE"
            };
            println!(
                "σ² = {:.1e}: frozen {:.1} ± {:.1} vs theory {:.1} on the exact Hessian: {:+.1} SE, {verdict}",
                v.sigma2, v.frozen.estimate, v.frozen.stderr, v.theory, v.z_vs_theory
            );
            if let Some(d) = &v.relu_excess {
                println!(
                    "σ² = {:.1e}: ReLU excess (real − frozen, paired) {:+.1} ± {:.1}: {}",
                    v.sigma2,
                    d.value,
                    d.stderr,
                    relu_excess_meaning(d)
                );
            }
        }
        dir.json("validation.json", &report.validation)?;
        println!("like-for-like check in validation.json");
    }
    println!("{} ({} parameters)", summary_line(r), r.n_params);
    crate::output::print_run(r);
    println!("modes of G^½HG^½ below {:.3e} are not equilibrated (threshold 1/(2ηK_tot))", r.eigenvalue_threshold);
    println!("results in {} (threshold.svg: the rank at every eigenvalue threshold)", dir.path.display());
    if r.partial {
        println!("interrupted after {} iterations: continue with --resume {}", r.iterations, dir.path.display());
    }
    Ok(())
}

/// `--per-layer`'s table (`per-layer.json`, `per-layer.csv`).
pub fn write_per_layer(dir: &RunStore, rows: &[BlockRow]) -> Result<()> {
    dir.json("per-layer.json", &rows)?;
    dir.csv(
        "per-layer.csv",
        &["block_index", "n_params", "estimate", "stderr", "r_hat"],
        rows.iter().enumerate().map(|(i, r)| {
            vec![
                i as f64,
                r.n_params as f64,
                r.result.uncertainty.estimate,
                r.result.uncertainty.stderr,
                r.result.uncertainty.r_hat,
            ]
        }),
    )?;
    println!("per-block estimates in {} (per-layer.csv: blocks in the order of per-layer.json)", dir.path.display());
    Ok(())
}
