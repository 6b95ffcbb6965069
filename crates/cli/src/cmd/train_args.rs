//! The flags of `hessrank train`: one subcommand per model kind, the batch flags of the
//! classifiers and the training schedule (shared with `dncnn`, which trains when it has no
//! checkpoint).

pub use super::schedule::{DncnnTrain, Schedule};
use anyhow::Result;
use clap::{Args, Subcommand};
use hessrank_experiments::registry::ClassifierData;
use std::path::PathBuf;

/// Arguments of `train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// The model kind to train.
    #[command(subcommand)]
    pub what: What,
}

/// One subcommand per model kind.
#[derive(Subcommand, Debug)]
pub enum What {
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
pub struct MlpTrain {
    /// Output folder.
    #[arg(long, default_value = "models/mlp-mnist")]
    pub dir: PathBuf,
    /// Layer widths, input first (784 for MNIST) and classes (10) last.
    #[arg(long, default_value = "784-64-10")]
    pub widths: String,
    #[command(flatten)]
    pub data: ClassifierFlags,
    #[command(flatten)]
    pub schedule: Schedule,
}

/// CNN training flags.
#[derive(Args, Debug, Clone)]
pub struct CnnTrain {
    /// Output folder.
    #[arg(long, default_value = "models/cnn-mnist")]
    pub dir: PathBuf,
    /// Channels of each 3×3 convolution stage (each followed by ReLU and 2×2 average pooling).
    #[arg(long, default_value = "4-8")]
    pub channels: String,
    #[command(flatten)]
    pub data: ClassifierFlags,
    #[command(flatten)]
    pub schedule: Schedule,
}

/// The batch and loss flags of the classifiers.
#[derive(Args, Debug, Clone)]
pub struct ClassifierFlags {
    /// Digits N in the fixed batch.
    #[arg(long, default_value_t = 256)]
    pub n_images: usize,
    /// A folder with the standard MNIST release instead of the bundled digits.
    #[arg(long)]
    pub mnist: Option<PathBuf>,
    /// Label smoothing ε of the cross-entropy (PyTorch's `label_smoothing`). With ε = 0 a network
    /// that separates its batch has no minimum; ε > 0 gives it one at finite weights.
    #[arg(long, default_value_t = 0.0)]
    pub label_smoothing: f64,
}

impl ClassifierFlags {
    /// The data record of a checkpoint trained with these flags and `seed`.
    pub fn data(&self, seed: u64) -> Result<ClassifierData> {
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

/// Linear-net training flags.
#[derive(Args, Debug, Clone)]
pub struct LinearTrain {
    /// Output folder.
    #[arg(long, default_value = "models/linear")]
    pub dir: PathBuf,
    /// Dimension d.
    #[arg(long, default_value_t = 8)]
    pub d: usize,
    /// Depth M.
    #[arg(long, default_value_t = 3)]
    pub depth: usize,
    /// Samples n.
    #[arg(long, default_value_t = 256)]
    pub samples: usize,
    #[command(flatten)]
    pub schedule: Schedule,
}
