//! `hessrank figure1`: the paper's Figure 1 — a deep linear net (d = 32, M = 5, G = I,
//! η = 1e-4, σ² = 2e-5) at a random global minimum; its loss trace beside Theorem 1's expected
//! loss and Proposition 1's limit, both from the closed-form Hessian spectrum.

use super::{parse_scheme, summary_line};
use crate::Ctx;
use crate::plots::{Series, line_chart};
use crate::progress::LangevinProgress;
use crate::run_dir::RunDir;
use anyhow::Result;
use clap::Args;
use hessrank_core::{DiagPreconditioner, ParamLayout};
use hessrank_models::GlobalMinimum;
use hessrank_rank::Langevin;
use hessrank_rank::theory::DiscreteTheory;
use hessrank_rank::{LangevinConfig, Scheme, StepSize};
use plotters::style::RGBColor;

/// Arguments of `figure1` (defaults: the paper's settings).
#[derive(Args, Debug)]
pub struct Figure1Args {
    /// Dimension d (d_x = d_y = every width).
    #[arg(long, default_value_t = 32)]
    pub d: usize,
    /// Depth M.
    #[arg(long, default_value_t = 5)]
    pub depth: usize,
    /// Step size η.
    #[arg(long, default_value_t = 1e-4, allow_hyphen_values = true)]
    pub eta: f64,
    /// Noise power σ².
    #[arg(long, default_value_t = 2e-5, allow_hyphen_values = true)]
    pub sigma2: f64,
    /// Iterations.
    #[arg(long, default_value_t = 15000)]
    pub iters: usize,
    /// Iterations averaged for the estimate.
    #[arg(long, default_value_t = 10000)]
    pub avg: usize,
    /// Discretisation (the paper: em).
    #[arg(long, value_parser = parse_scheme, default_value = "em")]
    pub scheme: Scheme,
}

/// Runs `figure1`.
pub fn run(ctx: &Ctx, a: Figure1Args) -> Result<()> {
    let min = GlobalMinimum::random(a.d, a.depth, ctx.seed)?;
    let net = min.net(&ctx.device);
    let objective = min.objective(&ctx.device);
    let g = DiagPreconditioner::identity(&ParamLayout::of(&net), &ctx.device.clone().inner());
    let config = LangevinConfig::new()
        .with_step(StepSize::Fixed(a.eta))
        .with_sigma2(a.sigma2)
        .with_k_tot(a.iters)
        .with_k_avg(a.avg)
        .with_scheme(a.scheme)
        .with_seed(ctx.seed)
        .with_check_step(false);
    config.validate()?;
    let dir = RunDir::create(&ctx.out, "figure1")?;
    dir.json("config.json", &serde_json::json!({"d": a.d, "depth": a.depth, "seed": ctx.seed, "langevin": config, "backend": ctx.backend.to_string()}))?;
    let mut bar = LangevinProgress::new("figure1", ctx.quiet, ctx.stop.clone());
    let r = Langevin::new(&config).observe(&mut bar).run(&objective, &net, &g);
    bar.finish();
    let r = r?;

    // Theory from the closed-form spectrum (G = I, Σ = σ²I): E f(t) = σ²/4 Σ (1 − e^{−2λt}).
    let mut lambda = min.hessian_eigenvalues();
    lambda.extend(std::iter::repeat_n(0.0, a.depth * a.d * a.d - lambda.len()));
    let theorem1 =
        |k: usize| a.sigma2 / 4.0 * lambda.iter().map(|&l| -(-2.0 * l * a.eta * k as f64).exp_m1()).sum::<f64>();
    let prop1 = a.sigma2 / 4.0 * (a.d * a.d) as f64;
    let discrete = DiscreteTheory { mu: lambda.clone(), eta: a.eta, sigma2: a.sigma2, scheme: a.scheme };
    let loss0 = r.chain[0].loss0;
    let rows: Vec<Vec<f64>> = bar
        .trace
        .points
        .iter()
        .map(|p| vec![p.k as f64, p.mean_loss - loss0, theorem1(p.k), prop1, discrete.expected_loss(p.k)])
        .collect();
    dir.csv(
        "trace.csv",
        &["iteration", "loss_minus_loss0", "theorem1", "prop1_limit", "discrete_expectation"],
        rows.clone(),
    )?;
    let stride = (rows.len() / 1500).max(1);
    let pts = |col: usize| rows.iter().step_by(stride).map(|r| (r[0], r[col])).collect::<Vec<_>>();
    line_chart(
        &dir.path.join("figure1.svg"),
        &format!("Linear net d = {}, M = {}: loss during LD ({} parameters)", a.d, a.depth, a.depth * a.d * a.d),
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
    let predicted = discrete.expected_estimate(a.iters, a.avg);
    dir.json("result.json", &serde_json::json!({"estimate": r, "true_rank": a.d * a.d, "theorem1_at_end": theorem1(a.iters), "prop1_limit": prop1, "discrete_expected_estimate": predicted}))?;
    println!(
        "{} — true rank {}; the discrete-time theory expects {:.1} for this run length",
        summary_line(&r),
        a.d * a.d,
        predicted
    );
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
    println!("plot and data in {}", dir.path.display());
    Ok(())
}
