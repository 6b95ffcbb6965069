//! The registered model kinds: each names its architecture's configuration and the data its loss
//! is computed on, typed, as a checkpoint's manifest records them (`model_kind`, `model_config`,
//! `data`).

use hessrank_core::Result;
use hessrank_models::classification::Classification;
use hessrank_models::{
    CnnConfig, DnCnnConfig, GlobalMinimum, LinearNetConfig, MlpConfig, NoisyMnistConfig, SampleObjective,
};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A model kind with its typed configuration and data: everything needed to rebuild the model's
/// template and its fixed objective. Serialised with the tag `model_kind` beside `model_config` and
/// `data`, the layout of every manifest written so far, so old checkpoints load as they are.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "model_kind", rename_all = "lowercase")]
pub enum ModelKind {
    /// A deep linear net on regression data y = T x.
    Linear {
        /// The architecture.
        model_config: LinearNetConfig,
        /// The data.
        data: LinearData,
    },
    /// The DnCNN denoiser on fixed noisy MNIST.
    Dncnn {
        /// The architecture.
        model_config: DnCnnConfig,
        /// The batch.
        data: DncnnData,
    },
    /// A ReLU MLP classifier (cross-entropy).
    Mlp {
        /// The architecture.
        model_config: MlpConfig,
        /// The batch and the loss.
        data: ClassifierData,
    },
    /// A small ReLU CNN classifier (cross-entropy).
    Cnn {
        /// The architecture.
        model_config: CnnConfig,
        /// The batch and the loss.
        data: ClassifierData,
    },
}

impl ModelKind {
    /// The kind's name as the manifest spells it.
    pub fn name(&self) -> &'static str {
        match self {
            ModelKind::Linear { .. } => "linear",
            ModelKind::Dncnn { .. } => "dncnn",
            ModelKind::Mlp { .. } => "mlp",
            ModelKind::Cnn { .. } => "cnn",
        }
    }

    /// Whether the kind's loss has ReLU kinks, so a frozen-activation objective exists.
    pub fn has_frozen(&self) -> bool {
        !matches!(self, ModelKind::Linear { .. })
    }
}

/// The data of a linear net: x ~ N(0, I), y = T x with T of a random global minimum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearData {
    /// Dimension d.
    pub d: usize,
    /// Depth M.
    pub depth: usize,
    /// Samples n.
    pub samples: usize,
    /// Seed of T and of the samples.
    pub seed: u64,
}

impl LinearData {
    /// The sample objective on `device`.
    pub fn objective(&self, device: &burn::tensor::Device) -> Result<SampleObjective> {
        let min = GlobalMinimum::random(self.d, self.depth, self.seed)?;
        Ok(SampleObjective::regression(&min.t, self.samples, self.seed, device))
    }
}

/// The DnCNN's batch: N noisy MNIST images, and the MNIST release they come from when it is not
/// the bundled one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DncnnData {
    /// Images, noise level and seed.
    #[serde(flatten)]
    pub noise: NoisyMnistConfig,
    /// The standard MNIST release folder, when not the bundled digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mnist: Option<PathBuf>,
}

impl DncnnData {
    /// Whether two batches are the same draw (a checkpoint is reused only for its own batch).
    pub fn same_batch(&self, other: &DncnnData) -> bool {
        let (a, b) = (&self.noise, &other.noise);
        a.n_images == b.n_images
            && a.noise_std.to_bits() == b.noise_std.to_bits()
            && a.seed == b.seed
            && self.mnist == other.mnist
    }
}

/// The batch of a classifier: N MNIST digits (pixels / 255, flattened) with their labels, and the
/// label smoothing of the loss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierData {
    /// Digits N.
    pub n_images: usize,
    /// Seed of the subset.
    pub seed: u64,
    /// The standard MNIST release folder, when not the bundled digits.
    #[serde(default)]
    pub mnist: Option<PathBuf>,
    /// Label smoothing ε of the cross-entropy (0: plain).
    #[serde(default)]
    pub label_smoothing: f64,
}

impl ClassifierData {
    /// N of the default batch for imported classifier weights.
    pub const DEFAULT_N: usize = 256;

    /// The fixed cross-entropy objective on `device`.
    pub fn objective<M>(&self, device: &burn::tensor::Device) -> Result<Classification<M>> {
        let mnist = crate::data::load_mnist(self.mnist.as_deref())?;
        Classification::mnist(&mnist, self.n_images, self.seed, device)?.with_label_smoothing(self.label_smoothing)
    }
}
