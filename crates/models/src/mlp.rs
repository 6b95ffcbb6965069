//! A ReLU multilayer perceptron classifier (`784-64-10`: linear layers, ReLU between them, logits
//! out) and its softmax cross-entropy objective over a fixed batch of labelled inputs, with the
//! frozen-ReLU variant for exact curvature.

use crate::mnist::Mnist;
use crate::tensor_file::TensorFile;
use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig, Relu};
use burn::tensor::{Device, Int, Tensor, TensorData};
use hessrank_core::noise::SeededNoise;
use hessrank_core::params::{ParamLayout, map_trainable};
use hessrank_core::{Minibatches, Objective};

use hessrank_core::Error as CoreError;
use rand::seq::SliceRandom;
use rand_distr::{Distribution, Uniform};
use std::path::{Path, PathBuf};

/// Layer widths of an MLP, input first, classes last.
#[derive(Config, Debug)]
pub struct MlpConfig {
    /// Widths, e.g. `[784, 64, 10]`.
    pub sizes: Vec<usize>,
    /// Seed of the initial weights.
    #[config(default = 0)]
    pub seed: u64,
}

impl MlpConfig {
    /// Parses `784-64-10` (the `mlp:` architecture's suffix).
    pub fn parse(spec: &str) -> hessrank_core::Result<Self> {
        let sizes: Option<Vec<usize>> = spec.split('-').map(|s| s.trim().parse().ok()).collect();
        let cfg = MlpConfig::new(sizes.unwrap_or_default());
        cfg.validate().map_err(|_| {
            CoreError::config("mlp", spec, "widths joined by '-', at least two, each ≥ 1 (e.g. 784-64-10)")
        })?;
        Ok(cfg)
    }

    /// Checks the widths.
    pub fn validate(&self) -> hessrank_core::Result<()> {
        if self.sizes.len() < 2 || self.sizes.contains(&0) {
            return Err(CoreError::config("sizes", format!("{:?}", self.sizes), "at least two widths, each ≥ 1"));
        }
        Ok(())
    }

    /// Builds the network on `device`: weights and biases from U(−b, b), b = 1/√fan_in (PyTorch's
    /// `nn.Linear` default), drawn on the host from `seed` so every backend gets the same network.
    pub fn init(&self, device: &Device) -> hessrank_core::Result<Mlp> {
        self.validate()?;
        let layers = self.sizes.windows(2).map(|w| LinearConfig::new(w[0], w[1]).init(device)).collect();
        let net = Mlp { layers, relu: Relu::new() };
        let layout = ParamLayout::of(&net);
        let mut noise = SeededNoise::new(self.seed, 0);
        Ok(map_trainable(net, |i, t| {
            let spec = &layout.specs[i];
            let layer: usize = spec.path.split('.').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
            let b = 1.0 / (self.sizes[layer] as f64).sqrt();
            let u = Uniform::new(-b, b).expect("b > 0");
            let values: Vec<f64> = (0..spec.numel()).map(|_| u.sample(noise.rng())).collect();
            Tensor::from_data(TensorData::new(values, [spec.numel()]), &t.device())
        }))
    }

    /// The key renames that take a PyTorch `nn.Sequential(Linear, ReLU, Linear, …)` state_dict onto
    /// this network: the Linear layers sit at indices 0, 2, 4, … (burn-store's PyTorch adapter
    /// transposes their weights).
    pub fn pytorch_sequential_renames(&self) -> Vec<(String, String)> {
        (0..self.sizes.len() - 1).map(|i| (format!(r"^{}\.", 2 * i), format!("layers.{i}."))).collect()
    }

    /// The number of classes (the last width).
    pub fn classes(&self) -> usize {
        *self.sizes.last().unwrap_or(&0)
    }
}

/// The classifier.
#[derive(Module, Debug)]
pub struct Mlp {
    /// The linear layers, input first.
    pub layers: Vec<Linear>,
    /// The activation between them.
    pub relu: Relu,
}

impl Mlp {
    fn forward_with(&self, x: Tensor<2>, mut act: impl FnMut(usize, Tensor<2>) -> Tensor<2>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        let mut h = x;
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(h);
            if i < last {
                h = act(i, h);
            }
        }
        h
    }

    /// The logits [N, classes] of inputs [N, features].
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.forward_with(x, |_, h| self.relu.forward(h))
    }

    /// The 0/1 pattern of every ReLU at the current parameters (detached constants).
    pub fn relu_masks(&self, x: Tensor<2>) -> Vec<Tensor<2>> {
        let mut masks = Vec::new();
        self.forward_with(x, |_, h| {
            masks.push(h.clone().detach().greater_elem(0.0).float());
            self.relu.forward(h)
        });
        masks
    }

    /// The network with each ReLU replaced by its fixed mask (value and gradient equal
    /// [`Mlp::forward`]'s where the masks were taken; smooth, so finite differences see no kinks).
    pub fn forward_masked(&self, x: Tensor<2>, masks: &[Tensor<2>]) -> Tensor<2> {
        self.forward_with(x, |i, h| h.mul(masks[i].clone()))
    }
}

/// Mean softmax cross-entropy of `logits` [N, C] against integer `targets` [N], as
/// logsumexp(z) − z_target with the row maximum taken out first. (Not `log(softmax)`: once a
/// class's probability underflows to 0, its log is −∞ and the backward pass multiplies 0 by ∞,
/// which is exactly what a well-trained classifier reaches.)
pub fn cross_entropy(logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
    let n = targets.dims()[0];
    let max = logits.clone().max_dim(1).detach();
    let lse = logits.clone().sub(max.clone()).exp().sum_dim(1).log().add(max);
    let picked = logits.gather(1, targets.reshape([n, 1]));
    lse.sub(picked).mean()
}

/// A fixed batch of labelled inputs: the loss is the mean cross-entropy (deterministic).
#[derive(Debug, Clone)]
pub struct Classification {
    /// Inputs [N, features].
    pub inputs: Tensor<2>,
    /// Class labels [N].
    pub targets: Tensor<1, Int>,
    /// The file the batch came from (`None`: MNIST digits chosen by seed).
    pub source: Option<PathBuf>,
}

impl Classification {
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
        Ok(Self {
            inputs: Tensor::from_data(TensorData::new(pixels, [n, features]), device),
            targets: Tensor::from_data(TensorData::new(labels, [n]), device),
            source: None,
        })
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
        Ok(Self {
            inputs: Tensor::from_data(TensorData::new(x, [n, features]), device),
            targets: Tensor::from_data(TensorData::new(y, [n]), device),
            source: Some(path.into()),
        })
    }

    /// Examples N.
    pub fn len(&self) -> usize {
        self.targets.dims()[0]
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// This objective with `model`'s ReLU pattern frozen.
    pub fn frozen_at(&self, model: &Mlp) -> FrozenClassification {
        FrozenClassification { base: self.clone(), masks: model.relu_masks(self.inputs.clone()) }
    }
}

impl Objective for Classification {
    type Model = Mlp;

    fn loss(&self, model: &Mlp) -> Tensor<1> {
        cross_entropy(model.forward(self.inputs.clone()), self.targets.clone())
    }
}

/// The cross-entropy with the MLP's ReLU pattern frozen at θ₀ (the Hessian the theory uses).
#[derive(Debug, Clone)]
pub struct FrozenClassification {
    base: Classification,
    masks: Vec<Tensor<2>>,
}

impl Objective for FrozenClassification {
    type Model = Mlp;

    fn loss(&self, model: &Mlp) -> Tensor<1> {
        cross_entropy(model.forward_masked(self.base.inputs.clone(), &self.masks), self.base.targets.clone())
    }
}

/// Minibatches of the fixed batch, reshuffled every epoch from `(seed, epoch)` (for SGD).
#[derive(Debug, Clone)]
pub struct ClassificationBatches {
    full: Classification,
    seed: u64,
}

impl ClassificationBatches {
    /// Minibatches over `full`.
    pub fn new(full: &Classification, seed: u64) -> Self {
        Self { full: full.clone(), seed }
    }
}

impl Minibatches for ClassificationBatches {
    type Model = Mlp;
    type Batch = Classification;

    fn epoch(&self, epoch: u64, batch_size: usize) -> Vec<Classification> {
        let n = self.full.len();
        let device = self.full.inputs.device();
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(SeededNoise::new(self.seed, 1_000 + epoch).rng());
        order
            .chunks(batch_size.max(1))
            .map(|chunk| {
                let idx = Tensor::<1, Int>::from_data(
                    TensorData::new(chunk.iter().map(|&i| i as i64).collect::<Vec<_>>(), [chunk.len()]),
                    &device,
                );
                Classification {
                    inputs: self.full.inputs.clone().select(0, idx.clone()),
                    targets: self.full.targets.clone().select(0, idx),
                    source: self.full.source.clone(),
                }
            })
            .collect()
    }
}
