//! The DnCNN experiment's files and summary: `result.json`, `config.json`, the window traces,
//! `trace.csv`, `threshold.*`, `sigma2-sweep.*`, `spectrum.csv`, Figure 3 and the validation plot.

use super::spectrum::write_spectrum;
use super::sweep::write_sweep;
use super::threshold::write_threshold_curve;
use crate::plots::{Series, VLine, line_chart};
use anyhow::Result;
use hessrank_experiments::dncnn::DncnnReport;
use hessrank_experiments::store;
use hessrank_experiments::store::RunStore;
use hessrank_experiments::sweep::{FrozenCheck, relu_excess_meaning};
use plotters::style::RGBColor;

/// Writes every file of the report into `dir`.
pub fn write(dir: &RunStore, r: &DncnnReport) -> Result<()> {
    let (real, p) = (&r.estimate, &r.runs[0]);
    write_spectrum(
        dir,
        &r.exact,
        "figure3.svg",
        "DnCNN: normalised cumulative eigenvalue energy of the Hessian",
        &[
            VLine {
                label: format!("Langevin estimate {:.0}", real.uncertainty.estimate),
                x: real.uncertainty.estimate,
                color: RGBColor(0, 0, 0),
            },
            VLine {
                label: format!("Ubaru–Saad {:.0}", r.ubaru_saad.rank),
                x: r.ubaru_saad.rank,
                color: RGBColor(150, 150, 150),
            },
        ],
    )?;
    let scale = 4.0 / real.config.sigma2;
    let loss0 = real.chain.iter().map(|c| c.loss0).sum::<f64>() / real.chain.len() as f64;
    let rows: Vec<Vec<f64>> = p
        .real_trace
        .iter()
        .map(|t| {
            let excess = scale * (t.mean_loss - loss0);
            vec![t.k as f64, excess, excess - t.mean_excess, t.mean_excess, scale * r.discrete.expected_loss(t.k)]
        })
        .collect();
    dir.csv("trace.csv", &["iteration", "scaled_excess_loss", "scaled_drift", "corrected", "theory"], rows.clone())?;
    let stride = (rows.len() / 1500).max(1);
    let pts = |c: usize| rows.iter().step_by(stride).map(|row| (row[0], row[c])).collect::<Vec<_>>();
    let series = |label: &str, c: usize, color: RGBColor, dashed: bool| Series {
        label: label.into(),
        points: pts(c),
        color,
        dashed,
    };
    line_chart(
        &dir.path.join("validation.svg"),
        &format!("DnCNN: measured 4/σ²·(L − L₀) vs theory (expected estimate {:.0})", r.theory.expected_estimate),
        "iteration",
        "4/σ² · (L(θ_k) − L(θ_0))",
        &[
            series("measured (drift-corrected)", 3, RGBColor(31, 119, 180), false),
            series("discrete theory, exact spectrum", 4, RGBColor(214, 39, 40), false),
            series("drift of the noise-free chain", 2, RGBColor(100, 100, 100), true),
        ],
        &[],
    )?;
    write_threshold_curve(dir, &r.curves[0], Some(&r.curves[1]), "DnCNN")?;
    write_sweep(dir, "DnCNN", &r.sigma2_sweep)?;
    dir.json(store::RESULT, r)?;
    dir.write_estimate(real)?;
    dir.json("window-traces-frozen.json", &r.validation.frozen.result.traces)?;
    dir.json("config.json", &r.config)?;
    Ok(())
}

/// Prints the summary table.
pub fn print(dir: &RunStore, r: &DncnnReport) {
    let (real, frozen, excess) = (&r.estimate, &r.validation.frozen, &r.relu_excess);
    let predicted = r.theory.expected_estimate;
    println!();
    println!(
        "DnCNN ({} parameters, N = {} images, noise std {}, σ² = {:.1e}):",
        r.n_params, r.data.n_images, r.data.noise_std, real.config.sigma2
    );
    println!(
        "  rank estimate (Algorithm 1, real loss)   {:.1} ± {:.1}  → captures {:.1} % of the Hessian's energy{}",
        real.uncertainty.estimate,
        real.uncertainty.stderr,
        100.0 * r.energy_captured.ours,
        if real.partial { " (PARTIAL)" } else { "" }
    );
    let verdict = FrozenCheck::of(frozen.result.uncertainty.estimate, frozen.result.uncertainty.stderr, predicted);
    println!(
        "  frozen-Hessian check                     {:.1} ± {:.1}  vs theory {predicted:.1}: {:+.1} SE, {}",
        frozen.result.uncertainty.estimate,
        frozen.result.uncertainty.stderr,
        frozen.z_vs_theory,
        verdict.verdict()
    );
    println!(
        "  ReLU excess (real − frozen, paired)      {:+.1} ± {:.1}  ({})",
        excess.value,
        excess.stderr,
        relu_excess_meaning(excess)
    );
    println!(
        "  theory for this run                      {predicted:.1}  (exact spectrum of G^½HG^½, η μ_max = {:.2}, K = {}, {:?})",
        r.theory.eta_mu_max, real.config.k_tot, real.config.scheme
    );
    println!(
        "  drift correction                         {:.1}  ({:?}; uncorrected {:.1})",
        real.drift.unwrap_or(0.0),
        real.config.drift,
        real.estimate_uncorrected
    );
    println!(
        "  chains                                   {} real + {} frozen  (R̂ {:.3} / {:.3}, bulk ESS {:.0} / {:.0})",
        real.chain.len(),
        frozen.result.chain.len(),
        real.uncertainty.r_hat,
        frozen.result.uncertainty.r_hat,
        real.uncertainty.ess,
        frozen.result.uncertainty.ess
    );
    if let Some(a) = &real.adaptive {
        println!("  run length                               {a}");
    }
    // The frozen chains run the real run's length: the real run's report speaks for both.
    for (which, w) in
        real.warnings.iter().map(|w| ("real", w)).chain(frozen.result.warnings.iter().map(|w| ("frozen", w)))
    {
        if crate::output::shows(real, w) {
            println!("  {} ({which}): {w}", if w.is_note() { "note" } else { "warning" });
        }
    }
    println!(
        "  Ubaru–Saad                               {:.1} ± {:.1}  → captures {:.1} % (threshold {:.3e})",
        r.ubaru_saad.rank,
        r.ubaru_saad.stderr,
        100.0 * r.energy_captured.ubaru_saad,
        r.ubaru_saad.threshold
    );
    println!("  98.5 % of the energy lies in the top {} eigenvalues", r.spectrum.rank_98_5_percent_energy);
    for w in &r.warnings {
        println!("  WARNING: {w}");
    }
    println!("  modes with μ < {:.3e} are not yet equilibrated", real.eigenvalue_threshold);
    if r.sigma2_sweep.len() > 1 {
        println!("  σ² sweep (real / frozen / ReLU excess):");
        for row in &r.sigma2_sweep {
            let (f, d) = (row.frozen.expect("paired"), row.relu_excess.as_ref().expect("paired"));
            println!(
                "    σ² = {:.1e}: {:.1} ± {:.1} / {:.1} ± {:.1} / {:+.1} ± {:.1}  (theory {:.1})",
                row.sigma2,
                row.real.estimate,
                row.real.stderr,
                f.estimate,
                f.stderr,
                d.value,
                d.stderr,
                row.theory.unwrap_or(f64::NAN)
            );
        }
    }
    println!(
        "plots: {} (Figure 3), validation.svg (trace vs theory), threshold.svg (rank at every threshold){}",
        dir.path.join("figure3.svg").display(),
        if r.sigma2_sweep.len() > 1 { ", sigma2-sweep.svg" } else { "" }
    );
    println!("data in {} ({:.0} s)", dir.path.display(), r.wall_s);
    if real.partial {
        println!("interrupted after {} iterations: continue with --resume {}", real.iterations, dir.path.display());
    }
}
