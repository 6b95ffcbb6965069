//! The σ² sweep's table and plot (`sigma2-sweep.csv`, `sigma2-sweep.svg`): the real and frozen
//! estimates, their paired difference and the theory at each σ², for `dncnn` and `estimate`.

use crate::plots::{Series, line_chart};
use crate::run_dir::RunDir;
use anyhow::Result;
use hessrank_rank::RankEstimate;
use hessrank_rank::validation::{PairedDifference, agrees_within};
use plotters::style::RGBColor;
use serde::Serialize;

/// An estimate and its standard error.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Value {
    /// The estimate.
    pub estimate: f64,
    /// Its standard error.
    pub stderr: f64,
}

/// One σ² of a sweep.
#[derive(Debug, Clone, Serialize)]
pub struct SweepRow {
    /// σ².
    pub sigma2: f64,
    /// Algorithm 1 on the real loss.
    pub real: Value,
    /// The same chains on the frozen-activation objective (where the model has one).
    pub frozen: Option<Value>,
    /// real − frozen, paired.
    pub relu_excess: Option<PairedDifference>,
    /// The discrete theory's expected estimate on the exact spectrum (where it is known).
    pub theory: Option<f64>,
}

impl SweepRow {
    /// The row of a real estimate, with its frozen partner and the theory when known.
    pub fn of(real: &RankEstimate, frozen: Option<(&RankEstimate, &PairedDifference)>, theory: Option<f64>) -> Self {
        Self {
            sigma2: real.config.sigma2,
            real: Value { estimate: real.estimate, stderr: real.stderr },
            frozen: frozen.map(|(f, _)| Value { estimate: f.estimate, stderr: f.stderr }),
            relu_excess: frozen.map(|(_, d)| d.clone()),
            theory,
        }
    }
}

/// The like-for-like check: the frozen chains' estimate against the discrete theory on the exact
/// spectrum, in standard errors, and whether it lies within [`FROZEN_Z`] of it.
pub struct FrozenCheck {
    /// (frozen − theory) / SE.
    pub z: f64,
    /// |z| ≤ [`FROZEN_Z`].
    pub agrees: bool,
}

/// Standard errors within which the frozen chains agree with the theory.
pub const FROZEN_Z: f64 = 2.5;

impl FrozenCheck {
    /// The check of a frozen `estimate` ± `stderr` against `theory`.
    pub fn of(estimate: f64, stderr: f64, theory: f64) -> Self {
        Self { z: (estimate - theory) / stderr, agrees: agrees_within(estimate, stderr, theory, FROZEN_Z) }
    }

    /// The verdict in words.
    pub fn verdict(&self) -> &'static str {
        if self.agrees { "agrees (the estimator is right on this Hessian)" } else { "DISAGREES beyond 2.5 SE" }
    }
}

/// Standard errors beyond which the ReLU excess is read as a sign, not noise.
const EXCESS_Z: f64 = 3.0;

/// What a paired ReLU excess (real − frozen) says, by its sign. Positive: units at their kink act
/// as convex hinges, so the real loss rises faster than its Hessian predicts (the DnCNN). Negative:
/// crossing kinks lowers the loss, so θ₀ sits on the edge of its activation pattern's region rather
/// than at a minimum of the real loss, and the dynamics drift to lower loss (the MLP classifier).
pub fn relu_excess_meaning(d: &PairedDifference) -> &'static str {
    if d.value > EXCESS_Z * d.stderr {
        "loss from units at their kink, which the Hessian does not see"
    } else if d.value < -EXCESS_Z * d.stderr {
        "crossing ReLU kinks LOWERS the loss: θ₀ is on the edge of its activation pattern's region, \
         not at a minimum of the real loss, so the real estimate assumes what is not there"
    } else {
        "within 3 SE of 0: no loss beyond the Hessian's is resolved at this σ² and length"
    }
}

/// Writes `sigma2-sweep.csv` and, for more than one σ², `sigma2-sweep.svg` (estimates ± 2 SE
/// against log₁₀ σ²).
pub fn write_sweep(dir: &RunDir, model: &str, rows: &[SweepRow]) -> Result<()> {
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
