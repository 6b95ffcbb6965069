//! The training schedule's flags (SGD → GD → L-BFGS → Adam), shared by `train` and `dncnn` (which
//! trains when it has no checkpoint), and the DnCNN's training flags.

use clap::Args;
use hessrank_train::{AdamPhase, GdPhase, PrecondScale, SgdPhase, TrainConfig};
use std::path::PathBuf;

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
