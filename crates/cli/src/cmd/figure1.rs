//! `hessrank figure1`: the paper's Figure 1, run by [`hessrank_experiments::figure1`]; this file
//! turns flags into its spec and writes and prints its report.

use super::parse_scheme;
use crate::Ctx;
use crate::output::figure1::{print, write};
use crate::progress::CliObserver;
use anyhow::Result;
use clap::Args;
use hessrank_experiments::figure1::{Figure1Spec, run as run_figure1};
use hessrank_experiments::store::RunStore;
use hessrank_rank::Scheme;

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
    let spec = Figure1Spec {
        d: a.d,
        depth: a.depth,
        eta: a.eta,
        sigma2: a.sigma2,
        k_tot: a.iters,
        k_avg: a.avg,
        scheme: a.scheme,
        seed: ctx.seed,
    };
    spec.langevin_config()?;
    let dir = RunStore::create(&ctx.out, "figure1")?;
    dir.json("config.json", &spec)?;
    let report = run_figure1(&spec, &ctx.device, &mut CliObserver::new(ctx.quiet, ctx.stop.clone()))?;
    write(&dir, &report)?;
    print(&dir, &report);
    Ok(())
}
