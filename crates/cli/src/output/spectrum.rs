//! A spectrum's files: `spectrum.csv` and the normalised cumulative energy plot.

use crate::plots::{Series, VLine, line_chart};
use anyhow::Result;
use hessrank_experiments::store::RunStore;
use hessrank_rank::hessian::Spectrum;
use plotters::style::RGBColor;

/// Writes `spectrum.csv` and the energy-curve plot `svg` (with reference lines `vlines`).
pub fn write_spectrum(dir: &RunStore, spectrum: &Spectrum, svg: &str, title: &str, vlines: &[VLine]) -> Result<()> {
    let energy = spectrum.energy_curve();
    dir.csv(
        "spectrum.csv",
        &["index", "eigenvalue", "energy"],
        spectrum.eigenvalues.iter().zip(&energy).enumerate().map(|(i, (l, e))| vec![(i + 1) as f64, *l, *e]),
    )?;
    line_chart(
        &dir.path.join(svg),
        title,
        "j (eigenvalues in descending order)",
        "Σ_{i≤j} λ_i / Tr H",
        &[Series {
            label: "Hessian spectrum".into(),
            points: energy.iter().enumerate().map(|(i, e)| ((i + 1) as f64, *e)).collect(),
            color: RGBColor(31, 119, 180),
            dashed: false,
        }],
        vlines,
    )
}
