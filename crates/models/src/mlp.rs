//! A ReLU multilayer perceptron classifier (`784-64-10`: linear layers, ReLU between them, logits
//! out). Its objective is [`crate::classification::Classification`].

use crate::classification::Classifier;
use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig, Relu};
use burn::tensor::{Device, Tensor, TensorData};
use hessrank_core::Error as CoreError;
use hessrank_core::noise::SeededNoise;
use hessrank_core::params::{ParamLayout, map_trainable};
use rand_distr::{Distribution, Uniform};

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

impl Classifier for Mlp {
    type Masks = Vec<Tensor<2>>;

    fn logits(&self, inputs: Tensor<2>) -> Tensor<2> {
        self.forward(inputs)
    }

    fn relu_masks(&self, inputs: Tensor<2>) -> Vec<Tensor<2>> {
        Mlp::relu_masks(self, inputs)
    }

    fn logits_masked(&self, inputs: Tensor<2>, masks: &Vec<Tensor<2>>) -> Tensor<2> {
        self.forward_masked(inputs, masks)
    }
}
