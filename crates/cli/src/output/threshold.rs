//! The rank at every eigenvalue threshold as `threshold.csv` and `threshold.svg`, for `dncnn` and
//! `estimate`.

use crate::plots::{Series, line_chart};
use anyhow::Result;
use hessrank_experiments::store::RunStore;
use hessrank_rank::validation::ThresholdPoint;
use plotters::style::RGBColor;

/// Writes `threshold.csv` and `threshold.svg`: r(k) against log₁₀ μ_k = log₁₀ 1/(2ηk), with the
/// frozen run's curve, the exact count above μ_k and the theory where they are given (`estimate`
/// on a model without an exact spectrum draws the Langevin curve alone).
pub fn write_threshold_curve(
    dir: &RunStore,
    curve: &[ThresholdPoint],
    frozen: Option<&[ThresholdPoint]>,
    model: &str,
) -> Result<()> {
    let nan = f64::NAN;
    let at = |i: usize| frozen.and_then(|f| f.get(i));
    dir.csv(
        "threshold.csv",
        &["iteration", "threshold", "real", "real_stderr", "frozen", "frozen_stderr", "exact_count", "theory"],
        curve.iter().enumerate().map(|(i, p)| {
            vec![
                p.k as f64,
                p.threshold,
                p.estimate,
                p.stderr.unwrap_or(nan),
                at(i).map_or(nan, |f| f.estimate),
                at(i).and_then(|f| f.stderr).unwrap_or(nan),
                p.exact_count.map_or(nan, |c| c as f64),
                p.theory.unwrap_or(nan),
            ]
        }),
    )?;
    let stride = (curve.len() / 1500).max(1);
    let pts = |c: &[ThresholdPoint], f: &dyn Fn(&ThresholdPoint) -> Option<f64>| {
        c.iter().step_by(stride).filter_map(|p| f(p).map(|y| (p.threshold.log10(), y))).collect::<Vec<_>>()
    };
    let mut series = vec![Series {
        label: if frozen.is_some() { "real loss (drift-corrected)".into() } else { "Langevin r(k)".into() },
        points: pts(curve, &|p| Some(p.estimate)),
        color: RGBColor(31, 119, 180),
        dashed: false,
    }];
    if let Some(f) = frozen {
        series.push(Series {
            label: "frozen activations".into(),
            points: pts(f, &|p| Some(p.estimate)),
            color: RGBColor(44, 160, 44),
            dashed: false,
        });
    }
    if curve.iter().any(|p| p.exact_count.is_some()) {
        series.push(Series {
            label: "exact count of μ_i above μ".into(),
            points: pts(curve, &|p| p.exact_count.map(|c| c as f64)),
            color: RGBColor(0, 0, 0),
            dashed: true,
        });
    }
    if curve.iter().any(|p| p.theory.is_some()) {
        series.push(Series {
            label: "discrete theory, exact spectrum".into(),
            points: pts(curve, &|p| p.theory),
            color: RGBColor(214, 39, 40),
            dashed: true,
        });
    }
    line_chart(
        &dir.path.join("threshold.svg"),
        &format!("{model}: the rank at every eigenvalue threshold μ = 1/(2ηk)"),
        "log₁₀ μ (eigenvalues of G^½HG^½ above it count)",
        "r(k) = 4/σ² · (L(θ_k) − L(θ_0))",
        &series,
        &[],
    )
}
