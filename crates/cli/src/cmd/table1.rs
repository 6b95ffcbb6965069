//! `hessrank table1`: the paper's Table 1 and Figure 2, run by [`hessrank_experiments::table1`];
//! this file turns flags into its spec and writes and prints its report.

use super::{ResumeArgs, UsArgs, parse_eta, parse_scheme};
use crate::Ctx;
use crate::output::table1::{print, write};
use crate::progress::CliObserver;
use anyhow::Result;
use clap::Args;
use hessrank_experiments::store::RunStore;
use hessrank_experiments::table1::{Protocol, Table1Spec, run as run_table1};
use hessrank_rank::{Scheme, StepSize};

/// How the trials of one d are drawn (see [`Protocol`]).
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum ProtocolArg {
    /// One spectrum per d, a new gauge per trial (the authors' script).
    Authors,
    /// A new spectrum per trial.
    Fresh,
}

/// Arguments of `table1` (defaults: the paper's settings).
#[derive(Args, Debug)]
pub struct Table1Args {
    /// Dimensions d (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "8,16,32,64,128,256")]
    pub dims: Vec<usize>,
    /// Trials per d (each at its own random global minimum).
    #[arg(long, default_value_t = 100)]
    pub trials: usize,
    /// How trials differ: authors (one spectrum per d, a new gauge per trial, the paper's) or
    /// fresh (a new spectrum per trial).
    #[arg(long, value_enum, default_value = "authors")]
    pub protocol: ProtocolArg,
    /// Discretisation: em (the paper) or lm.
    #[arg(long, value_parser = parse_scheme, default_value = "em")]
    pub scheme: Scheme,
    /// Step size: a number (the paper: 1e-4), auto or auto:C.
    #[arg(long, value_parser = parse_eta, default_value = "1e-4", allow_hyphen_values = true)]
    pub eta: StepSize,
    /// Total iterations K_tot.
    #[arg(long, default_value_t = 15000)]
    pub iters: usize,
    /// Iterations averaged, K_avg.
    #[arg(long, default_value_t = 10000)]
    pub avg: usize,
    /// Chains per trial.
    #[arg(long, default_value_t = 1)]
    pub chains: usize,
    /// Noise power σ².
    #[arg(long, default_value_t = 2e-5, allow_hyphen_values = true)]
    pub sigma2: f64,
    /// Depth M.
    #[arg(long, default_value_t = 5)]
    pub depth: usize,
    /// The Ubaru–Saad baseline.
    #[command(flatten)]
    pub us: UsArgs,
    /// Skip U&S.
    #[arg(long)]
    pub no_us: bool,
    /// Saving and resuming: finished dimensions are read back, the interrupted one continues from
    /// its saved state.
    #[command(flatten)]
    pub save: ResumeArgs,
}

/// Runs `table1`.
pub fn run(ctx: &Ctx, a: Table1Args) -> Result<()> {
    let langevin = Table1Spec::langevin_config(a.eta, a.sigma2, a.iters, a.avg, a.scheme)?;
    let dir = match &a.save.resume {
        Some(d) => RunStore { path: d.clone() },
        None => RunStore::create(&ctx.out, "table1")?,
    };
    let spec = Table1Spec {
        dims: a.dims,
        trials: a.trials,
        protocol: match a.protocol {
            ProtocolArg::Authors => Protocol::Authors,
            ProtocolArg::Fresh => Protocol::Fresh,
        },
        chains: a.chains,
        depth: a.depth,
        langevin,
        us_vecs: a.us.us_vecs,
        us_degree: a.us.us_degree,
        us_rule: a.us.us_rule,
        no_us: a.no_us,
        seed: ctx.seed,
        state_dir: dir.path.clone(),
        checkpoint_every: a.save.checkpoint_every,
        resume: a.save.resume.is_some(),
    };
    let report = run_table1(&spec, &ctx.device, &mut CliObserver::new(ctx.quiet, ctx.stop.clone()))?;
    write(&dir, &spec, &report)?;
    print(&dir, &spec, &report);
    Ok(())
}
