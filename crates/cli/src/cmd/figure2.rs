//! `hessrank figure2 DIR…`: the paper's Figure 2 from finished `table1` runs, every run's
//! Langevin estimates and the first run's U&S on one log–log chart with ±1 std bars.

use crate::Ctx;
use crate::plots::{Bars, errorbar_chart};
use anyhow::{Result, bail};
use clap::Args;
use hessrank_experiments::store::RunStore;
use hessrank_experiments::table1_saved::SavedTable1;
use plotters::style::RGBColor;
use std::path::PathBuf;

/// Arguments of `figure2`.
#[derive(Args, Debug)]
pub struct Figure2Args {
    /// Results folders of finished `table1` runs (e.g. one with `--scheme em`, one with `--scheme lm`).
    pub dirs: Vec<PathBuf>,
}

/// Colours of the runs' Langevin bars, in order; U&S is red.
const COLOURS: [RGBColor; 4] =
    [RGBColor(31, 119, 180), RGBColor(44, 160, 44), RGBColor(148, 103, 189), RGBColor(255, 127, 14)];

/// Runs `figure2`.
pub fn run(ctx: &Ctx, a: Figure2Args) -> Result<()> {
    if a.dirs.is_empty() {
        bail!("figure2: give the results folders of finished table1 runs (e.g. results/table1-*)");
    }
    let runs: Vec<SavedTable1> = a.dirs.iter().map(|d| SavedTable1::read(d)).collect::<Result<_, _>>()?;
    let mut groups: Vec<Bars> = runs
        .iter()
        .zip(COLOURS.iter().cycle())
        .map(|(r, &color)| Bars {
            label: format!("Langevin (ours), {}", r.label()),
            points: r.rows.iter().map(|row| (row.true_rank, row.mean, row.std)).collect(),
            color,
        })
        .collect();
    if let Some(with_us) = runs.iter().find(|r| r.rows.iter().any(|row| row.us_mean.is_some())) {
        let points = with_us
            .rows
            .iter()
            .filter_map(|row| Some((row.true_rank, row.us_mean?, row.us_std.unwrap_or(0.0))))
            .collect();
        groups.push(Bars { label: "Ubaru–Saad".into(), points, color: RGBColor(214, 39, 40) });
    }
    let dir = RunStore::create(&ctx.out, "figure2")?;
    let path = dir.path.join("figure2.svg");
    errorbar_chart(&path, "Estimated Hessian rank of linear nets (±1 std)", "true rank d²", "estimated rank", &groups)?;
    for r in &runs {
        println!("{}: {} widths from {}", r.label(), r.rows.len(), r.dir.display());
    }
    println!("figure in {}", path.display());
    Ok(())
}
