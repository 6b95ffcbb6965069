//! Table 1's files and summary: `trials.csv`, `result.json`, `figure2.svg` and the printed table.

use crate::plots::{Bars, errorbar_chart};
use anyhow::Result;
use hessrank_experiments::store::RunStore;
use hessrank_experiments::table1::{Table1Report, Table1Spec, mean_std};
use plotters::style::RGBColor;

/// Writes the report's files into `dir` (Figure 2 only for a finished sweep).
pub fn write(dir: &RunStore, spec: &Table1Spec, r: &Table1Report) -> Result<()> {
    dir.csv(
        "trials.csv",
        &["d", "trial", "estimate", "us_estimate", "true_rank"],
        r.trials.iter().map(|t| vec![t.d as f64, t.trial as f64, t.estimate, t.us_estimate, t.true_rank]),
    )?;
    dir.json("result.json", r)?;
    if r.partial {
        return Ok(());
    }
    let bars = |value: &dyn Fn(&hessrank_experiments::table1::Trial) -> f64| -> Vec<(f64, f64, f64)> {
        spec.dims
            .iter()
            .map(|&d| {
                let v: Vec<f64> = r.trials.iter().filter(|t| t.d == d).map(value).collect();
                let (m, s) = mean_std(&v);
                ((d * d) as f64, m, s)
            })
            .collect()
    };
    let mut groups =
        vec![Bars { label: "Langevin (ours)".into(), points: bars(&|t| t.estimate), color: RGBColor(31, 119, 180) }];
    if !spec.no_us {
        groups.push(Bars {
            label: "Ubaru–Saad".into(),
            points: bars(&|t| t.us_estimate),
            color: RGBColor(214, 39, 40),
        });
    }
    errorbar_chart(
        &dir.path.join("figure2.svg"),
        "Estimated Hessian rank of linear nets (±1 std)",
        "true rank d²",
        "estimated rank",
        &groups,
    )
}

/// Prints the table, or where the sweep stopped.
pub fn print(dir: &RunStore, spec: &Table1Spec, r: &Table1Report) {
    if let Some(why) = &r.stopped {
        println!("interrupted at {why}; continue with --resume {}", dir.path.display());
        return;
    }
    println!(
        "\nTable 1 — normalised RMSE of the rank estimate ({} trials per d, {:?} protocol, scheme {:?}, U&S {:?})",
        spec.trials, spec.protocol, spec.langevin.scheme, spec.us_rule
    );
    println!(
        "{:>6} {:>10} {:>12} {:>10} {:>12} {:>12} {:>10} {:>9} {:>9} {:>22} {:>5}",
        "d²",
        "ours",
        "paper ours",
        "U&S",
        "paper U&S",
        "mean ours",
        "theory",
        "+infl.",
        "−deficit",
        "slow modes (μ ≤)",
        "dtype"
    );
    let pct = |x: Option<f64>| x.map(|x| format!("{:.2} %", 100.0 * x)).unwrap_or_else(|| "—".into());
    let dash = || "—".to_string();
    for row in &r.table {
        let b = row.breakdown;
        println!(
            "{:>6} {:>10} {:>12} {:>10} {:>12} {:>12.1} {:>10} {:>9} {:>9} {:>22} {:>5}",
            row.true_rank,
            pct(Some(row.nrmse)),
            pct(row.paper_nrmse),
            pct(row.us_nrmse),
            pct(row.paper_us_nrmse),
            row.mean,
            row.theory.map(|t| format!("{t:.1}")).unwrap_or_else(dash),
            b.map(|b| format!("{:.1}", b.inflation)).unwrap_or_else(dash),
            b.map(|b| format!("{:.1}", b.deficit)).unwrap_or_else(dash),
            b.map(|b| format!("{} ({:.2e})", b.slow_modes, b.slow_mu)).unwrap_or_else(dash),
            row.dtype.as_deref().unwrap_or("—"),
        );
    }
    println!(
        "theory: the discrete-time expectation of the estimate on the exact spectrum for this η, σ² and K, \
         = d² + inflation (EM's 1/(1 − ημ/2)) − deficit (modes not yet equilibrated); slow modes: the \
         fewest smallest modes that carry 90 % of the deficit"
    );
    println!("results in {}", dir.path.display());
}
