//! A small LeNet-like CNN classifier for 28×28 digits: stages of 3×3 "same" convolution, ReLU and
//! 2×2 average pooling, then one linear layer to the logits. The default `4-8` has 4,266
//! parameters: 40 + 296 in the convolutions, 3,930 in the head (8 channels × 7 × 7 → 10).

use crate::classification::Classifier;
use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d, Relu};
use burn::tensor::{Device, Tensor, TensorData};
use hessrank_core::Error as CoreError;
use hessrank_core::noise::SeededNoise;
use hessrank_core::params::{ParamLayout, map_trainable};
use hessrank_kernels::Kernels;
use rand_distr::{Distribution, Uniform};

/// The channels of each convolution stage of a [`Cnn`], and its input and output sizes.
#[derive(Config, Debug)]
pub struct CnnConfig {
    /// Output channels of each stage, e.g. `[4, 8]`.
    pub channels: Vec<usize>,
    /// Classes (the head's width).
    #[config(default = 10)]
    pub classes: usize,
    /// Side of the square single-channel input.
    #[config(default = 28)]
    pub side: usize,
    /// Seed of the initial weights.
    #[config(default = 0)]
    pub seed: u64,
}

impl CnnConfig {
    /// Parses `4-8` (the `cnn:` architecture's suffix: channels per stage).
    pub fn parse(spec: &str) -> hessrank_core::Result<Self> {
        let channels: Option<Vec<usize>> = spec.split('-').map(|s| s.trim().parse().ok()).collect();
        let cfg = CnnConfig::new(channels.unwrap_or_default());
        cfg.validate().map_err(|_| {
            CoreError::config("cnn", spec, "channels per stage joined by '-', each ≥ 1, at most 4 stages (e.g. 4-8)")
        })?;
        Ok(cfg)
    }

    /// Checks the stages: at least one, each with ≥ 1 channel, and few enough that every pooling
    /// still has a 2×2 window to average.
    pub fn validate(&self) -> hessrank_core::Result<()> {
        if self.channels.is_empty() || self.channels.contains(&0) {
            return Err(CoreError::config("channels", format!("{:?}", self.channels), "at least one stage, each ≥ 1"));
        }
        if self.classes < 2 {
            return Err(CoreError::config("classes", self.classes, "≥ 2"));
        }
        if self.side >> self.channels.len() == 0 {
            return Err(CoreError::config(
                "channels",
                format!("{:?}", self.channels),
                format!("at most {} stages for {}×{} inputs", self.side.ilog2(), self.side, self.side),
            ));
        }
        Ok(())
    }

    /// The side of the feature maps after the last pooling (each 2×2 pooling floors the side).
    pub fn final_side(&self) -> usize {
        self.side >> self.channels.len()
    }

    /// The features the head reads: last channels × final side².
    pub fn features(&self) -> usize {
        self.channels.last().copied().unwrap_or(0) * self.final_side().pow(2)
    }

    /// Builds the network on `device`: weights and biases from U(−b, b), b = 1/√fan_in (PyTorch's
    /// default for `Conv2d` and `Linear`), drawn on the host from `seed` so every backend gets the
    /// same network.
    pub fn init(&self, device: &Device) -> hessrank_core::Result<Cnn> {
        self.validate()?;
        let mut c_in = 1;
        let mut fan_ins = Vec::new();
        let mut convs = Vec::new();
        for &c in &self.channels {
            convs.push(Conv2dConfig::new([c_in, c], [3, 3]).with_padding(PaddingConfig2d::Same).init(device));
            fan_ins.push(c_in * 9);
            c_in = c;
        }
        fan_ins.push(self.features());
        let net = Cnn {
            convs,
            head: LinearConfig::new(self.features(), self.classes).init(device),
            relu: Relu::new(),
            pool: AvgPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            kernels: Kernels::default(),
        };
        let layout = ParamLayout::of(&net);
        let mut noise = SeededNoise::new(self.seed, 0);
        Ok(map_trainable(net, |i, t| {
            let spec = &layout.specs[i];
            let stage = match spec.path.split('.').collect::<Vec<_>>().as_slice() {
                ["convs", k, ..] => k.parse().unwrap_or(0),
                _ => self.channels.len(),
            };
            let b = 1.0 / (fan_ins[stage] as f64).sqrt();
            let u = Uniform::new(-b, b).expect("b > 0");
            let values: Vec<f64> = (0..spec.numel()).map(|_| u.sample(noise.rng())).collect();
            Tensor::from_data(TensorData::new(values, [spec.numel()]), &t.device())
        }))
    }

    /// The key renames that take a PyTorch `nn.Sequential(Conv2d, ReLU, AvgPool2d, …, Flatten,
    /// Linear)` state_dict onto this network: stage i's convolution sits at index 3i, the Linear
    /// at 3·stages + 1 (burn-store's PyTorch adapter transposes its weight).
    pub fn pytorch_sequential_renames(&self) -> Vec<(String, String)> {
        let n = self.channels.len();
        let mut renames: Vec<_> = (0..n).map(|i| (format!(r"^{}\.", 3 * i), format!("convs.{i}."))).collect();
        renames.push((format!(r"^{}\.", 3 * n + 1), "head.".to_string()));
        renames
    }
}

/// The classifier.
#[derive(Module, Debug)]
pub struct Cnn {
    /// The 3×3 convolutions, one per stage, input first.
    pub convs: Vec<Conv2d>,
    /// The linear layer from the flattened last feature maps to the logits.
    pub head: Linear,
    /// The activation after each convolution.
    pub relu: Relu,
    /// The 2×2 average pooling after each activation.
    pub pool: AvgPool2d,
    /// Which implementation the convolutions run (not a parameter).
    #[module(skip)]
    pub kernels: Kernels,
}

impl Cnn {
    /// The same network running its convolutions on `kernels`.
    pub fn with_kernels(mut self, kernels: Kernels) -> Self {
        self.kernels = kernels;
        self
    }

    fn forward_with(&self, x: Tensor<2>, mut act: impl FnMut(usize, Tensor<4>) -> Tensor<4>) -> Tensor<2> {
        let [n, features] = x.dims();
        let side = (features as f64).sqrt().round() as usize;
        assert_eq!(side * side, features, "the CNN reads square single-channel images, got {features} features");
        let mut h = x.reshape([n, 1, side, side]);
        for (i, conv) in self.convs.iter().enumerate() {
            h = self.pool.forward(act(i, self.kernels.conv2d(conv, h)));
        }
        let [_, c, a, b] = h.dims();
        self.head.forward(h.reshape([n, c * a * b]))
    }

    /// The logits [N, classes] of images flattened to [N, side²].
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.forward_with(x, |_, h| self.relu.forward(h))
    }
}

impl Classifier for Cnn {
    type Masks = Vec<Tensor<4>>;

    fn logits(&self, inputs: Tensor<2>) -> Tensor<2> {
        self.forward(inputs)
    }

    fn relu_masks(&self, inputs: Tensor<2>) -> Vec<Tensor<4>> {
        let mut masks = Vec::new();
        self.forward_with(inputs, |_, h| {
            masks.push(h.clone().detach().greater_elem(0.0).float());
            self.relu.forward(h)
        });
        masks
    }

    fn logits_masked(&self, inputs: Tensor<2>, masks: &Vec<Tensor<4>>) -> Tensor<2> {
        self.forward_with(inputs, |i, h| h.mul(masks[i].clone()))
    }
}
