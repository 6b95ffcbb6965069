//! `hessrank`: train networks and estimate the rank of their loss Hessian by preconditioned
//! Langevin dynamics (Bar, Mulayoff, Michaeli, Talmon, AAAI 2024).
//!
//! The backend is chosen here and only here, by cargo feature and `--backend`; every library crate
//! takes a `&Device`. With no subcommand, runs the DnCNN experiment at a CPU-friendly size.

#![forbid(unsafe_code)]

mod args;
mod backend;
mod cmd;
mod flags;
mod output;
mod plots;
mod progress;
mod provenance;
mod records;
mod source;

use backend::Backend;
use burn::tensor::FloatDType;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Estimate the rank of a loss Hessian from the expected loss of preconditioned Langevin dynamics.
#[derive(Parser, Debug)]
#[command(name = "hessrank", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Compute backend (among those compiled in; default: flex, else ndarray).
    #[arg(long, global = true, value_parser = parse_backend)]
    backend: Option<Backend>,
    /// Float precision of the device (default: f64 on the CPU backends, f32 on wgpu).
    #[arg(long, global = true, value_enum)]
    dtype: Option<Dtype>,
    /// Root folder of results; each run writes into <out>/<command>-<timestamp>/.
    #[arg(long, global = true, default_value = "results")]
    out: PathBuf,
    /// Seed of every random draw.
    #[arg(long, global = true, default_value_t = 0)]
    seed: u64,
    /// CPU threads (the size of the global thread pool, set before any work).
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// No progress bars.
    #[arg(long, global = true)]
    quiet: bool,
}

fn parse_backend(s: &str) -> Result<Backend, String> {
    s.parse()
}

/// Float precision.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Dtype {
    /// 32-bit.
    F32,
    /// 64-bit (ground truths need it).
    F64,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a model (SGD → GD → Adam) into models/<name>/, keeping Adam's second moment as G.
    Train(cmd::train::TrainArgs),
    /// Estimate the Hessian rank of a checkpoint by Algorithm 1.
    Estimate(cmd::estimate::EstimateArgs),
    /// Exact Hessian eigenvalues and the energy curve of a (small) checkpoint.
    Spectrum(cmd::spectrum::SpectrumArgs),
    /// Baselines on a checkpoint: Ubaru–Saad rank, Lanczos top-k, Hutchinson trace.
    Baseline(cmd::baseline::BaselineArgs),
    /// Pool the chains of estimate runs that differ only in seed (chains run on many machines).
    Merge(cmd::merge::MergeArgs),
    /// Rank of a symmetric PSD matrix read from .npy or CSV.
    MatrixRank(cmd::matrix_rank::MatrixRankArgs),
    /// The paper's Figure 1: a linear net's loss trace beside Theorem 1 and Proposition 1.
    Figure1(cmd::figure1::Figure1Args),
    /// The paper's Table 1 and Figure 2: rank estimates of linear nets against the truth and U&S.
    Table1(cmd::table1::Table1Args),
    /// The paper's Figure 2 from finished table1 runs: both schemes and U&S on one chart.
    Figure2(cmd::figure2::Figure2Args),
    /// The DnCNN experiment (Figure 3): train or load, estimate, exact spectrum, U&S, validation.
    Dncnn(cmd::dncnn::DncnnArgs),
}

/// What every command needs.
pub struct Ctx {
    /// The autodiff device.
    pub device: burn::tensor::Device,
    /// Its backend.
    pub backend: Backend,
    /// Its dtype.
    pub dtype: FloatDType,
    /// Root of results.
    pub out: PathBuf,
    /// Seed.
    pub seed: u64,
    /// No progress bars.
    pub quiet: bool,
    /// Raised by Ctrl-C: long runs stop at the next iteration and write what they have.
    pub stop: Arc<AtomicBool>,
}

/// Small blocks from mimalloc, data buffers from glibc (see [`hessrank_alloc::SplitAllocator`]).
#[global_allocator]
static ALLOC: hessrank_alloc::SplitAllocator = hessrank_alloc::SplitAllocator;

fn main() {
    hessrank_alloc::retain_freed_memory();
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("error: {}", flags::describe_chain(&e));
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    if let Some(t) = cli.threads {
        anyhow::ensure!(t >= 1, "--threads must be ≥ 1 (got {t})");
        rayon::ThreadPoolBuilder::new().num_threads(t).build_global()?;
    }
    let backend = cli.backend.unwrap_or_else(Backend::default_backend);
    let dtype = match cli.dtype {
        Some(Dtype::F32) => FloatDType::F32,
        Some(Dtype::F64) => FloatDType::F64,
        None if backend == Backend::Wgpu => FloatDType::F32,
        None => FloatDType::F64,
    };
    provenance::set_provenance(&backend.to_string(), &format!("{dtype:?}"), cli.seed);
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\ninterrupt: finishing the current step and writing what was done (Ctrl-C again to abort)");
    });
    let ctx =
        Ctx { device: backend.device(dtype)?, backend, dtype, out: cli.out, seed: cli.seed, quiet: cli.quiet, stop };
    match cli.command {
        Some(Command::Train(a)) => cmd::train::run(&ctx, a),
        Some(Command::Estimate(a)) => cmd::estimate::run(&ctx, a),
        Some(Command::Spectrum(a)) => cmd::spectrum::run(&ctx, a),
        Some(Command::Baseline(a)) => cmd::baseline::run(&ctx, a),
        Some(Command::MatrixRank(a)) => cmd::matrix_rank::run(&ctx, a),
        Some(Command::Merge(a)) => cmd::merge::run(&ctx, a),
        Some(Command::Figure1(a)) => cmd::figure1::run(&ctx, a),
        Some(Command::Table1(a)) => cmd::table1::run(&ctx, a),
        Some(Command::Figure2(a)) => cmd::figure2::run(&ctx, a),
        Some(Command::Dncnn(a)) => cmd::dncnn::run(&ctx, a),
        None => cmd::dncnn::run(&ctx, cmd::dncnn::DncnnArgs::parse_from(["dncnn"])),
    }
}
