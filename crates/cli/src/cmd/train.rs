//! `hessrank train dncnn|mlp|cnn|linear`.

use crate::Ctx;
use crate::problem::{ClassifierData, LinearData};
use crate::progress::{CliObserver, TrainProgress};
use anyhow::Result;
use clap::{Args, Subcommand};
use hessrank_models::classification::{Classification, ClassificationBatches, Classifier};
use hessrank_models::{CnnConfig, GlobalMinimum, LinearNetConfig, MlpConfig, NoisyMnistConfig};
use hessrank_train::{AdamPhase, GdPhase, PrecondScale, RunInfo, SgdPhase, TrainConfig, TrainOutcome, train};
use std::path::PathBuf;

/// Arguments of `train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand, Debug)]
enum What {
    /// The 753-parameter DnCNN on noisy MNIST.
    Dncnn(DncnnTrain),
    /// A ReLU MLP classifier on MNIST labels (softmax cross-entropy).
    Mlp(MlpTrain),
    /// A small LeNet-like ReLU CNN classifier on MNIST labels (softmax cross-entropy).
    Cnn(CnnTrain),
    /// A deep linear net on regression data y = T x.
    Linear(LinearTrain),
}

/// MLP training flags.
#[derive(Args, Debug, Clone)]
struct MlpTrain {
    /// Output folder.
    #[arg(long, default_value = "models/mlp-mnist")]
    dir: PathBuf,
    /// Layer widths, input first (784 for MNIST) and classes (10) last.
    #[arg(long, default_value = "784-64-10")]
    widths: String,
    #[command(flatten)]
    data: ClassifierFlags,
    #[command(flatten)]
    schedule: Schedule,
}

/// CNN training flags.
#[derive(Args, Debug, Clone)]
struct CnnTrain {
    /// Output folder.
    #[arg(long, default_value = "models/cnn-mnist")]
    dir: PathBuf,
    /// Channels of each 3×3 convolution stage (each followed by ReLU and 2×2 average pooling).
    #[arg(long, default_value = "4-8")]
    channels: String,
    #[command(flatten)]
    data: ClassifierFlags,
    #[command(flatten)]
    schedule: Schedule,
}

/// The batch and loss flags of the classifiers.
#[derive(Args, Debug, Clone)]
struct ClassifierFlags {
    /// Digits N in the fixed batch.
    #[arg(long, default_value_t = 256)]
    n_images: usize,
    /// A folder with the standard MNIST release instead of the bundled digits.
    #[arg(long)]
    mnist: Option<PathBuf>,
    /// Label smoothing ε of the cross-entropy (PyTorch's `label_smoothing`). With ε = 0 a network
    /// that separates its batch has no minimum; ε > 0 gives it one at finite weights.
    #[arg(long, default_value_t = 0.0)]
    label_smoothing: f64,
}

impl ClassifierFlags {
    /// The data record of a checkpoint trained with these flags and `seed`.
    fn data(&self, seed: u64) -> Result<ClassifierData> {
        hessrank_models::classification::check_label_smoothing(self.label_smoothing)
            .map_err(|e| anyhow::anyhow!("--label-smoothing: {e}"))?;
        Ok(ClassifierData {
            n_images: self.n_images,
            seed,
            mnist: self.mnist.clone(),
            label_smoothing: self.label_smoothing,
        })
    }
}

/// Trains the classifier `model` (of kind `kind`, config `config`) on `data`'s batch into `dir`.
fn train_classifier<M: Classifier>(
    ctx: &Ctx,
    kind: &str,
    config: serde_json::Value,
    model: M,
    data: &ClassifierData,
    schedule: &Schedule,
    dir: &std::path::Path,
) -> Result<TrainOutcome<M>> {
    let full: Classification<M> = data.objective(&ctx.device)?;
    let batches = ClassificationBatches::new(&full, ctx.seed);
    let info = RunInfo { model_kind: kind.into(), model_config: config, data: serde_json::to_value(data)? };
    let mut bar = TrainProgress::new(ctx.quiet, ctx.stop.clone());
    let out = train(&schedule.config(), &batches, &full, model, dir, info, &mut bar);
    drop(bar);
    Ok(out?)
}

/// The schedule's flags.
#[derive(Args, Debug, Clone)]
pub struct Schedule {
    /// SGD epochs (fresh noise each epoch).
    #[arg(long, default_value_t = 40)]
    pub sgd_epochs: usize,
    /// SGD learning rate.
    #[arg(long, default_value_t = 0.05)]
    pub sgd_lr: f64,
    /// SGD minibatch size.
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    /// Full-batch GD step limit.
    #[arg(long, default_value_t = 300)]
    pub gd_steps: usize,
    /// Full-batch GD step size.
    #[arg(long, default_value_t = 0.05)]
    pub gd_lr: f64,
    /// Stop GD when ‖∇L‖ ≤ this.
    #[arg(long, default_value_t = 1e-7)]
    pub gd_tol: f64,
    /// L-BFGS steps after GD (the project's L-BFGS with Armijo backtracking).
    #[arg(long, default_value_t = 4000)]
    pub lbfgs_steps: usize,
    /// Adam steps (on a copy of θ₀) for the second moment.
    #[arg(long, default_value_t = 100)]
    pub adam_steps: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub adam_lr: f64,
}

impl Schedule {
    /// The training configuration.
    pub fn config(&self) -> TrainConfig {
        TrainConfig::new(
            SgdPhase::new().with_epochs(self.sgd_epochs).with_lr(self.sgd_lr).with_batch_size(self.batch_size),
            GdPhase::new()
                .with_max_steps(self.gd_steps)
                .with_lr(self.gd_lr)
                .with_tol(self.gd_tol)
                .with_lbfgs_steps(self.lbfgs_steps),
            AdamPhase::new().with_steps(self.adam_steps).with_lr(self.adam_lr),
        )
        .with_precond_scale(PrecondScale::MeanOne)
    }
}

/// DnCNN training flags.
#[derive(Args, Debug, Clone)]
pub struct DncnnTrain {
    /// Output folder.
    #[arg(long, default_value = "models/dncnn-mnist")]
    pub dir: PathBuf,
    /// Images N in the fixed batch.
    #[arg(long, default_value_t = 32)]
    pub n_images: usize,
    /// Noise standard deviation (pixels in [0, 1]).
    #[arg(long, default_value_t = 1.0)]
    pub noise_std: f64,
    /// A folder with the standard MNIST release (the four IDX files) instead of the bundled digits.
    #[arg(long)]
    pub mnist: Option<PathBuf>,
    /// The schedule.
    #[command(flatten)]
    pub schedule: Schedule,
}

/// Linear-net training flags.
#[derive(Args, Debug, Clone)]
struct LinearTrain {
    /// Output folder.
    #[arg(long, default_value = "models/linear")]
    dir: PathBuf,
    /// Dimension d.
    #[arg(long, default_value_t = 8)]
    d: usize,
    /// Depth M.
    #[arg(long, default_value_t = 3)]
    depth: usize,
    /// Samples n.
    #[arg(long, default_value_t = 256)]
    samples: usize,
    #[command(flatten)]
    schedule: Schedule,
}

/// Trains the DnCNN into `a.dir` (the library's training, the same as `dncnn` runs when it has no
/// checkpoint).
fn train_dncnn(ctx: &Ctx, a: &DncnnTrain) -> Result<TrainOutcome<hessrank_models::DnCnn>> {
    let mnist = hessrank_experiments::data::load_mnist(a.mnist.as_deref())?;
    let data = NoisyMnistConfig::new().with_n_images(a.n_images).with_noise_std(a.noise_std).with_seed(ctx.seed);
    let mut observer = CliObserver::new(ctx.quiet, ctx.stop.clone());
    let schedule = a.schedule.config();
    Ok(hessrank_experiments::dncnn::train_dncnn(
        &data,
        &mnist,
        a.mnist.as_deref(),
        &a.dir,
        &schedule,
        &ctx.device,
        &mut observer,
    )?)
}

fn report<M>(dir: &std::path::Path, out: &TrainOutcome<M>) {
    let m = &out.manifest;
    for p in &m.phases {
        let g = p.final_grad_norm.map(|g| format!(", ‖∇L‖ {g:.3e}")).unwrap_or_default();
        println!(
            "  {:<5} {:>6} steps, loss {:.6e}{g}, stopped by {} ({:.1} s)",
            p.phase, p.steps, p.final_loss, p.stop, p.wall_s
        );
    }
    println!(
        "θ₀: loss {:.8e}, ‖∇L‖ = {:.3e}; G scale {:.3e}; checkpoint in {}",
        m.final_loss,
        m.final_grad_norm,
        m.precond_scale,
        dir.display()
    );
}

/// Runs `train`.
pub fn run(ctx: &Ctx, a: TrainArgs) -> Result<()> {
    match a.what {
        What::Dncnn(d) => {
            let out = train_dncnn(ctx, &d)?;
            report(&d.dir, &out);
        }
        What::Mlp(m) => {
            let cfg = MlpConfig::parse(&m.widths)
                .map_err(|e| anyhow::anyhow!("--widths {}: {e}", m.widths))?
                .with_seed(ctx.seed);
            anyhow::ensure!(
                cfg.sizes[0] == 784 && cfg.classes() == 10,
                "--widths {}: MNIST needs 784 inputs and 10 classes",
                m.widths
            );
            let data = m.data.data(ctx.seed)?;
            let model = cfg.init(&ctx.device)?;
            let out = train_classifier(ctx, "mlp", serde_json::to_value(&cfg)?, model, &data, &m.schedule, &m.dir)?;
            report(&m.dir, &out);
        }
        What::Cnn(c) => {
            let cfg = CnnConfig::parse(&c.channels)
                .map_err(|e| anyhow::anyhow!("--channels {}: {e}", c.channels))?
                .with_seed(ctx.seed);
            let data = c.data.data(ctx.seed)?;
            let model = cfg.init(&ctx.device)?;
            let out = train_classifier(ctx, "cnn", serde_json::to_value(&cfg)?, model, &data, &c.schedule, &c.dir)?;
            report(&c.dir, &out);
        }
        What::Linear(l) => {
            GlobalMinimum::random(l.d, l.depth, ctx.seed)?;
            let data = LinearData { d: l.d, depth: l.depth, samples: l.samples, seed: ctx.seed };
            let objective = data.objective(&ctx.device)?;
            let cfg = LinearNetConfig::square(l.d, l.depth).with_init_std(0.3).with_seed(ctx.seed);
            let info = RunInfo {
                model_kind: "linear".into(),
                model_config: serde_json::to_value(&cfg)?,
                data: serde_json::to_value(&data)?,
            };
            let mut bar = TrainProgress::new(ctx.quiet, ctx.stop.clone());
            let out =
                train(&l.schedule.config(), &objective, &objective, cfg.init(&ctx.device)?, &l.dir, info, &mut bar);
            drop(bar);
            report(&l.dir, &out?);
        }
    }
    Ok(())
}
