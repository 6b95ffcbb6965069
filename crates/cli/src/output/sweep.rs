//! The σ² sweep's table and plot (`sigma2-sweep.csv`, `sigma2-sweep.svg`) for `dncnn` and
//! `estimate`.

use crate::plots::{Series, line_chart};
use anyhow::Result;
use hessrank_experiments::store::RunStore;
pub use hessrank_experiments::sweep::SweepRow;
use plotters::style::RGBColor;

/// Writes `sigma2-sweep.csv` and, for more than one σ², `sigma2-sweep.svg` (estimates ± 2 SE
/// against log₁₀ σ²).
pub fn write_sweep(dir: &RunStore, model: &str, rows: &[SweepRow]) -> Result<()> {
    let nan = f64::NAN;
    let table: Vec<Vec<f64>> = rows
        .iter()
        .map(|r| {
            vec![
                r.sigma2,
                r.real.estimate,
                r.real.stderr,
                r.frozen.map_or(nan, |f| f.estimate),
                r.frozen.map_or(nan, |f| f.stderr),
                r.relu_excess.as_ref().map_or(nan, |d| d.value),
                r.relu_excess.as_ref().map_or(nan, |d| d.stderr),
                r.theory.unwrap_or(nan),
            ]
        })
        .collect();
    dir.csv(
        "sigma2-sweep.csv",
        &["sigma2", "real", "real_stderr", "frozen", "frozen_stderr", "relu_excess", "relu_excess_stderr", "theory"],
        table.clone(),
    )?;
    if rows.len() < 2 {
        return Ok(());
    }
    let line = |label: &str, c: usize, color: RGBColor, dashed: bool, band: Option<(f64, usize)>| Series {
        label: label.into(),
        points: table
            .iter()
            .filter(|r| r[c].is_finite())
            .map(|r| (r[0].log10(), r[c] + band.map_or(0.0, |(sign, s)| sign * 2.0 * r[s])))
            .collect(),
        color,
        dashed,
    };
    let (blue, green, red) = (RGBColor(31, 119, 180), RGBColor(44, 160, 44), RGBColor(214, 39, 40));
    let mut series = vec![
        line("real loss", 1, blue, false, None),
        line("real ± 2 SE", 1, blue, true, Some((1.0, 2))),
        line("", 1, blue, true, Some((-1.0, 2))),
    ];
    if rows.iter().any(|r| r.frozen.is_some()) {
        series.push(line("frozen activations", 3, green, false, None));
        series.push(line("frozen ± 2 SE", 3, green, true, Some((1.0, 4))));
        series.push(line("", 3, green, true, Some((-1.0, 4))));
    }
    if rows.iter().any(|r| r.theory.is_some()) {
        series.push(line("theory (exact spectrum)", 7, red, false, None));
    }
    line_chart(
        &dir.path.join("sigma2-sweep.svg"),
        &format!("{model}: the rank estimate against σ²"),
        "log₁₀ σ²",
        "rank estimate",
        &series,
        &[],
    )
}
