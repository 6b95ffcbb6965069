//! Figure 1's files and summary: `trace.csv`, `figure1.svg` and `result.json`.

use crate::cmd::summary_line;
use crate::plots::{Series, line_chart};
use anyhow::Result;
use hessrank_experiments::figure1::Figure1Report;
use hessrank_experiments::store::RunStore;
use plotters::style::RGBColor;

/// Writes the report's files into `dir`.
pub fn write(dir: &RunStore, r: &Figure1Report) -> Result<()> {
    let rows: Vec<Vec<f64>> = r
        .trace
        .iter()
        .map(|p| vec![p.iteration as f64, p.loss_minus_loss0, p.theorem1, p.prop1_limit, p.discrete_expectation])
        .collect();
    dir.csv(
        "trace.csv",
        &["iteration", "loss_minus_loss0", "theorem1", "prop1_limit", "discrete_expectation"],
        rows.clone(),
    )?;
    let stride = (rows.len() / 1500).max(1);
    let pts = |col: usize| rows.iter().step_by(stride).map(|row| (row[0], row[col])).collect::<Vec<_>>();
    let s = &r.spec;
    line_chart(
        &dir.path.join("figure1.svg"),
        &format!("Linear net d = {}, M = {}: loss during LD ({} parameters)", s.d, s.depth, s.depth * s.d * s.d),
        "iteration",
        "L(θ_k) − L(θ_0)",
        &[
            Series { label: "LD loss".into(), points: pts(1), color: RGBColor(31, 119, 180), dashed: false },
            Series { label: "Theorem 1".into(), points: pts(2), color: RGBColor(214, 39, 40), dashed: false },
            Series {
                label: "Proposition 1 limit σ²d²/4".into(),
                points: pts(3),
                color: RGBColor(0, 0, 0),
                dashed: true,
            },
        ],
        &[],
    )?;
    dir.json("result.json", r)?;
    Ok(())
}

/// Prints the summary.
pub fn print(dir: &RunStore, r: &Figure1Report) {
    println!(
        "{} — true rank {}; the discrete-time theory expects {:.1} for this run length",
        summary_line(&r.estimate),
        r.true_rank,
        r.discrete_expected_estimate
    );
    crate::output::print_warnings(&r.estimate.warnings);
    println!("plot and data in {}", dir.path.display());
}
