//! `hessrank dncnn` (and the default job): the paper's DnCNN experiment (Figure 3), run by
//! [`hessrank_experiments::dncnn`]; this file turns flags into its spec and writes and prints its
//! report. With `--arch dncnn --weights FILE [--data FILE]` θ₀ comes from a network trained
//! elsewhere (G = I).

use super::train::Schedule;
use super::{LangevinArgs, ResumeArgs, UsArgs};
use crate::flags::describe;
use crate::output::dncnn::{print, write};
use crate::progress::CliObserver;
use crate::source::ImportArgs;
use crate::{Ctx, backend};
use anyhow::Result;
use clap::Parser;
use hessrank_core::error::Error;
use hessrank_experiments::dncnn::{DncnnSpec, Theta0Source, run as run_dncnn};
use hessrank_experiments::registry::ModelSource;
use hessrank_experiments::store::RunStore;
use hessrank_models::NoisyMnistConfig;
use hessrank_rank::{DriftCorrection, LangevinConfig};
use std::path::PathBuf;

/// The main job's adaptive length: stages of 500, 1,000, 2,000 and 4,000 iterations (about two
/// minutes for the real and the frozen chains together on 2 cores), unless a plateau comes first.
pub const MAIN_JOB_LENGTH: hessrank_rank::langevin::AdaptiveLength = hessrank_rank::langevin::AdaptiveLength {
    first: 500,
    precision: 0.01,
    resolve: None,
    max_iters: 4000,
    max_time_s: None,
};

/// Arguments of `dncnn` (defaults: a CPU-friendly size that finishes in a few minutes on 2 cores).
#[derive(Parser, Debug)]
pub struct DncnnArgs {
    /// Checkpoint folder: loaded when it matches the data settings, else trained (not with --weights).
    #[arg(long, default_value = "models/dncnn-mnist", conflicts_with = "weights")]
    pub dir: PathBuf,
    /// Train again even if a matching checkpoint exists.
    #[arg(long, conflicts_with = "weights")]
    pub retrain: bool,
    /// Images N in the fixed batch (the paper: all of MNIST).
    #[arg(long, default_value_t = 32, conflicts_with = "data")]
    pub n_images: usize,
    /// Noise standard deviation.
    #[arg(long, default_value_t = 1.0, conflicts_with = "data")]
    pub noise_std: f64,
    /// A folder with the standard MNIST release (the four IDX files; the 60,000 training images
    /// are used) instead of the bundled 10,000 digits.
    #[arg(long, conflicts_with = "data")]
    pub mnist: Option<PathBuf>,
    /// Algorithm 1's settings (the paper: σ² 1e-5, K_tot 30,000, K_avg 10,000); `--eta auto:C` is
    /// η = C/μ_max with μ_max from the exact spectrum; a σ² list runs a sweep (the first is the
    /// headline result).
    #[command(flatten)]
    pub langevin: LangevinArgs,
    /// The Ubaru–Saad baseline.
    #[command(flatten)]
    pub us: UsArgs,
    /// What the dynamics do with the loss's scale-invariant groups (the weights feeding
    /// BatchNorm, LayerNorm or GroupNorm, found at θ₀): project (each moves on the sphere of its
    /// θ₀ norm; the default wherever there are groups) or off (the plain dynamics: their norms
    /// random-walk upward on long runs, warned before the run when predicted past ×1.25).
    #[arg(long, value_parser = crate::args::parse_symmetry)]
    pub symmetry: Option<hessrank_rank::Symmetry>,

    /// Saving and resuming (the checkpoint in --dir must be the one the run started from).
    #[command(flatten)]
    pub save: ResumeArgs,
    /// The exact Hessian at θ₀ as saved by `spectrum --save-hessian` (f64 .npy), instead of
    /// computing it here: lets an f32 run skip the slower second f64 backend. Its size is checked.
    #[arg(long)]
    pub hessian: Option<PathBuf>,
    /// Training schedule (when training).
    #[command(flatten)]
    pub schedule: Schedule,
    /// θ₀ trained elsewhere instead of the checkpoint: `--arch dncnn --weights FILE`, optionally
    /// with `--data FILE` (the batch; else the one --n-images, --noise-std and --seed describe).
    #[command(flatten)]
    pub import: ImportArgs,
}

/// The experiment's spec from the flags (flags that only make sense with or without --weights
/// are checked here).
fn spec(ctx: &Ctx, a: &DncnnArgs, state_dir: PathBuf) -> Result<DncnnSpec> {
    let i = &a.import;
    anyhow::ensure!(i.label_smoothing.is_none(), "--label-smoothing: the DnCNN's loss is a mean squared error");
    anyhow::ensure!(
        i.onnx.is_none(),
        "--onnx: the dncnn experiment runs the built-in DnCNN; probe an exported network with `hessrank estimate --onnx`"
    );
    let theta0 = match (&i.arch, &i.weights) {
        (Some(arch), Some(file)) => {
            anyhow::ensure!(arch == "dncnn", "--arch {arch}: the dncnn experiment takes --arch dncnn");
            let ModelSource::Weights(import) = i.spec(&a.dir)?.source else { unreachable!("--weights given") };
            Theta0Source::Weights { file: file.clone(), options: import.options(Vec::new()), data: i.data.clone() }
        }
        _ => {
            anyhow::ensure!(
                i.renames.is_empty() && !i.allow_partial,
                "--rename and --allow-partial apply to --weights"
            );
            if let Some(d) = &i.data {
                anyhow::bail!(
                    "--data {}: dncnn reads a batch file with --arch dncnn --weights; a checkpoint's batch comes \
                     from its data settings (--n-images, --noise-std, --mnist, --seed)",
                    d.display()
                );
            }
            Theta0Source::Checkpoint { dir: a.dir.clone(), retrain: a.retrain, schedule: a.schedule.config() }
        }
    };
    // The experiment's own defaults under the flags: the main job's budget and the drift correction.
    let base = LangevinConfig::new().with_drift(DriftCorrection::ControlVariate).adaptive_from(MAIN_JOB_LENGTH);
    let l = &a.langevin;
    Ok(DncnnSpec {
        theta0,
        data: NoisyMnistConfig::new().with_n_images(a.n_images).with_noise_std(a.noise_std).with_seed(ctx.seed),
        mnist: a.mnist.clone(),
        sigma2: l.sigma2s(),
        langevin: l.config_with(ctx, base)?,
        ubaru_saad: a.us.config(ctx.seed),
        hessian: a.hessian.clone(),
        state_dir,
        checkpoint_every: a.save.checkpoint_every,
        resume: a.save.resume.is_some(),
        symmetry: a.symmetry,
    })
}

/// Runs the experiment.
pub fn run(ctx: &Ctx, a: DncnnArgs) -> Result<()> {
    let dir = RunStore::resume_or_create(a.save.resume.as_deref(), &ctx.out, "dncnn")?;
    let spec = spec(ctx, &a, dir.path.clone())?;
    let exact_device = match &spec.hessian {
        Some(_) => ctx.device.clone(),
        None => backend::f64_device(ctx)?,
    };
    let outcome = run_dncnn(&spec, &ctx.device, &exact_device, &mut CliObserver::new(ctx.quiet, ctx.stop.clone()));
    match outcome {
        Ok(report) => {
            write(&dir, &report)?;
            print(&dir, &report);
        }
        Err(e @ Error::Interrupted { .. }) => {
            println!("{}", describe(&e));
            crate::output::write_interrupted(&dir)?;
        }
        Err(Error::Format { path, .. }) if spec.resume && path == a.dir => anyhow::bail!(
            "--resume {}: the checkpoint {} is missing or was trained for other data settings; resume with the --dir, \
             --n-images, --noise-std, --mnist and --seed of the original run (and without --retrain)",
            dir.path.display(),
            a.dir.display()
        ),
        Err(e) => return Err(e.into()),
    }
    Ok(())
}
