//! Softmax cross-entropy over a fixed batch of labelled inputs, for any ReLU classifier: the real
//! objective, the frozen-ReLU objective whose Hessian the theory uses, and SGD minibatches.
//!
//! Label smoothing ε (PyTorch's `CrossEntropyLoss(label_smoothing=ε)`) is what makes a classifier
//! probe-able on data it separates: plain cross-entropy then has no minimum (the loss falls for
//! ever as the logits grow, and the Hessian with it), while with ε > 0 every example's loss is
//! smallest at the finite logits whose softmax equals the smoothed target.

use crate::mnist::Mnist;
use crate::tensor_file::TensorFile;
use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};
use hessrank_core::Error as CoreError;
use hessrank_core::noise::SeededNoise;
use hessrank_core::{Minibatches, Objective};
use rand::seq::SliceRandom;
use std::fmt::Debug;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

/// A ReLU network that maps flattened inputs [N, features] to logits [N, classes], and can replay
/// itself with every ReLU replaced by a fixed 0/1 mask.
pub trait Classifier: Module + Clone + Debug {
    /// The ReLU patterns of one forward pass (detached constants).
    type Masks: Clone + Debug + Send + Sync;

    /// The logits [N, classes] of inputs [N, features].
    fn logits(&self, inputs: Tensor<2>) -> Tensor<2>;

    /// The 0/1 pattern of every ReLU at the current parameters.
    fn relu_masks(&self, inputs: Tensor<2>) -> Self::Masks;

    /// The network with each ReLU replaced by its fixed mask: value and gradient equal
    /// [`Classifier::logits`]'s where the masks were taken, and smooth, so finite differences of
    /// gradients see no kinks.
    fn logits_masked(&self, inputs: Tensor<2>, masks: &Self::Masks) -> Tensor<2>;
}

/// Mean softmax cross-entropy of `logits` [N, C] against integer `targets` [N] smoothed by
/// `label_smoothing` ε, i.e. against q = (1 − ε)·onehot + ε/C (PyTorch's definition):
/// logsumexp(z) − (1 − ε)·z_target − ε·mean_k z_k, with the row maximum taken out of the
/// logsumexp. (Not `log(softmax)`: once a class's probability underflows to 0, its log is −∞ and
/// the backward pass multiplies 0 by ∞, which is exactly what a well-trained classifier reaches.)
pub fn cross_entropy(logits: Tensor<2>, targets: Tensor<1, Int>, label_smoothing: f64) -> Tensor<1> {
    let n = targets.dims()[0];
    let max = logits.clone().max_dim(1).detach();
    let lse = logits.clone().sub(max.clone()).exp().sum_dim(1).log().add(max);
    let picked = logits.clone().gather(1, targets.reshape([n, 1]));
    if label_smoothing == 0.0 {
        return lse.sub(picked).mean();
    }
    let spread = logits.mean_dim(1);
    lse.sub(picked.mul_scalar(1.0 - label_smoothing)).sub(spread.mul_scalar(label_smoothing)).mean()
}

/// Checks a label smoothing ε: finite, 0 ≤ ε < 1.
pub fn check_label_smoothing(label_smoothing: f64) -> hessrank_core::Result<()> {
    if !(0.0..1.0).contains(&label_smoothing) {
        return Err(CoreError::config("label_smoothing", label_smoothing, "0 ≤ ε < 1 (0: plain cross-entropy)"));
    }
    Ok(())
}

/// A fixed batch of labelled inputs for the classifier `M`: the loss is the mean cross-entropy
/// (deterministic, full batch).
#[derive(Debug)]
pub struct Classification<M> {
    /// Inputs [N, features].
    pub inputs: Tensor<2>,
    /// Class labels [N].
    pub targets: Tensor<1, Int>,
    /// The file the batch came from (`None`: MNIST digits chosen by seed).
    pub source: Option<PathBuf>,
    /// Label smoothing ε of the cross-entropy (0: plain).
    pub label_smoothing: f64,
    model: PhantomData<fn() -> M>,
}

impl<M> Clone for Classification<M> {
    fn clone(&self) -> Self {
        let batch = Self::new(self.inputs.clone(), self.targets.clone(), self.source.clone());
        Self { label_smoothing: self.label_smoothing, ..batch }
    }
}

impl<M> Classification<M> {
    /// The batch `inputs` [N, features] with labels `targets` [N], plain cross-entropy.
    pub fn new(inputs: Tensor<2>, targets: Tensor<1, Int>, source: Option<PathBuf>) -> Self {
        Self { inputs, targets, source, label_smoothing: 0.0, model: PhantomData }
    }

    /// The same batch with label smoothing ε (0 ≤ ε < 1).
    pub fn with_label_smoothing(mut self, label_smoothing: f64) -> hessrank_core::Result<Self> {
        check_label_smoothing(label_smoothing)?;
        self.label_smoothing = label_smoothing;
        Ok(self)
    }

    /// The first `n` digits of a permutation of `mnist` drawn from `seed`, pixels / 255 flattened.
    pub fn mnist(mnist: &Mnist, n: usize, seed: u64, device: &Device) -> hessrank_core::Result<Self> {
        if n == 0 || n > mnist.len() {
            return Err(CoreError::config("n_images", n, format!("between 1 and {} (the dataset size)", mnist.len())));
        }
        let mut idx: Vec<usize> = (0..mnist.len()).collect();
        idx.shuffle(SeededNoise::new(seed, 0).rng());
        idx.truncate(n);
        let features = mnist.rows * mnist.cols;
        let pixels: Vec<f32> = idx.iter().flat_map(|&i| mnist.image(i).iter().map(|&p| p as f32 / 255.0)).collect();
        let labels: Vec<i64> = idx.iter().map(|&i| mnist.labels[i] as i64).collect();
        Ok(Self::new(
            Tensor::from_data(TensorData::new(pixels, [n, features]), device),
            Tensor::from_data(TensorData::new(labels, [n]), device),
            None,
        ))
    }

    /// The batch in a safetensors file: `inputs` [N, features] (or [N, 1, 28, 28], flattened) and
    /// `targets` [N], integer labels in 0..classes.
    pub fn from_file(path: &Path, features: usize, classes: usize, device: &Device) -> hessrank_core::Result<Self> {
        let file = TensorFile::read(path)?;
        let shape = file.tensors.get("inputs").map(|t| t.shape.clone()).unwrap_or_default();
        let (shape, x) = if shape.len() == 4 {
            file.float("inputs", &[None, Some(1), Some(28), Some(28)])?
        } else {
            file.float("inputs", &[None, Some(features)])?
        };
        let n = shape[0];
        let got: usize = shape[1..].iter().product();
        if got != features {
            return Err(CoreError::Tensor {
                path: path.into(),
                key: "inputs".into(),
                problem: hessrank_core::TensorProblem::Shape { expected: vec![n, features], found: shape },
            });
        }
        let (_, y) = file.int("targets", &[Some(n)], classes as i64)?;
        Ok(Self::new(
            Tensor::from_data(TensorData::new(x, [n, features]), device),
            Tensor::from_data(TensorData::new(y, [n]), device),
            Some(path.into()),
        ))
    }

    /// Examples N.
    pub fn len(&self) -> usize {
        self.targets.dims()[0]
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The same batch as the objective of another classifier.
    pub fn for_model<N>(self) -> Classification<N> {
        let Self { inputs, targets, source, label_smoothing, .. } = self;
        Classification { inputs, targets, source, label_smoothing, model: PhantomData }
    }
}

impl<M: Classifier> Classification<M> {
    /// This objective with `model`'s ReLU pattern frozen.
    pub fn frozen_at(&self, model: &M) -> FrozenClassification<M> {
        FrozenClassification { masks: model.relu_masks(self.inputs.clone()), base: self.clone() }
    }
}

impl<M: Classifier> Objective for Classification<M> {
    type Model = M;

    fn loss(&self, model: &M) -> Tensor<1> {
        cross_entropy(model.logits(self.inputs.clone()), self.targets.clone(), self.label_smoothing)
    }
}

/// The cross-entropy with the classifier's ReLU pattern frozen at θ₀ (the Hessian the theory uses).
#[derive(Debug, Clone)]
pub struct FrozenClassification<M: Classifier> {
    base: Classification<M>,
    masks: M::Masks,
}

impl<M: Classifier> Objective for FrozenClassification<M> {
    type Model = M;

    fn loss(&self, model: &M) -> Tensor<1> {
        let logits = model.logits_masked(self.base.inputs.clone(), &self.masks);
        cross_entropy(logits, self.base.targets.clone(), self.base.label_smoothing)
    }
}

/// Minibatches of the fixed batch, reshuffled every epoch from `(seed, epoch)` (for SGD).
#[derive(Debug)]
pub struct ClassificationBatches<M> {
    full: Classification<M>,
    seed: u64,
}

impl<M> ClassificationBatches<M> {
    /// Minibatches over `full`.
    pub fn new(full: &Classification<M>, seed: u64) -> Self {
        Self { full: full.clone(), seed }
    }
}

impl<M: Classifier> Minibatches for ClassificationBatches<M> {
    type Model = M;
    type Batch = Classification<M>;

    fn epoch(&self, epoch: u64, batch_size: usize) -> Vec<Classification<M>> {
        let n = self.full.len();
        let device = self.full.inputs.device();
        let mut noise = SeededNoise::new(self.seed, 1_000 + epoch);
        crate::minibatch::shuffled_batches(n, noise.rng(), batch_size, &device)
            .into_iter()
            .map(|idx| {
                let batch = Classification::new(
                    self.full.inputs.clone().select(0, idx.clone()),
                    self.full.targets.clone().select(0, idx),
                    self.full.source.clone(),
                );
                Classification { label_smoothing: self.full.label_smoothing, ..batch }
            })
            .collect()
    }
}
