//! The DnCNN denoiser (Zhang et al. 2017) at the paper's small size: 3×3 convolutions, ReLU,
//! BatchNorm on the middle layers, residual learning (denoised = noisy − net(noisy)).
//!
//! The default — conv 1→8 (+bias), ReLU, conv 8→8 (+bias), BatchNorm(8), ReLU, conv 8→1 (+bias) —
//! has exactly 753 trainable parameters: 80 + 584 + 16 + 73.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d, Relu};
use burn::tensor::{Device, Tensor, TensorData};
use hessrank_core::Error;
use hessrank_core::noise::SeededNoise;
use hessrank_core::params::{ParamLayout, map_trainable};
use hessrank_kernels::Kernels;
use rand_distr::{Distribution, Uniform};

/// Configuration of a DnCNN.
#[derive(Config, Debug)]
pub struct DnCnnConfig {
    /// Number of convolution layers (≥ 2): first, `depth − 2` middle ones, last.
    #[config(default = 3)]
    pub depth: usize,
    /// Feature channels of the hidden layers.
    #[config(default = 8)]
    pub features: usize,
    /// Image channels (1 for MNIST).
    #[config(default = 1)]
    pub channels: usize,
    /// Kernel size (odd; "same" padding).
    #[config(default = 3)]
    pub kernel: usize,
    /// BatchNorm after each middle convolution.
    #[config(default = true)]
    pub batch_norm: bool,
    /// Seed of the initial weights.
    #[config(default = 0)]
    pub seed: u64,
}

impl DnCnnConfig {
    /// Checks the configuration, naming the first bad field.
    pub fn validate(&self) -> hessrank_core::Result<()> {
        if self.depth < 2 {
            return Err(Error::config("depth", self.depth, "≥ 2 convolution layers"));
        }
        if self.features == 0 || self.channels == 0 {
            return Err(Error::config("features/channels", format!("{}/{}", self.features, self.channels), "≥ 1"));
        }
        if self.kernel.is_multiple_of(2) {
            return Err(Error::config("kernel", self.kernel, "an odd size (same padding)"));
        }
        Ok(())
    }

    /// Builds the network on `device`. Weights and biases are drawn from U(−b, b) with
    /// b = 1/√fan_in (PyTorch's convolution default) from `seed`; BatchNorm starts at γ = 1, β = 0.
    pub fn init(&self, device: &Device) -> hessrank_core::Result<DnCnn> {
        self.validate()?;
        let k = [self.kernel, self.kernel];
        let conv = |i, o| Conv2dConfig::new([i, o], k).with_padding(PaddingConfig2d::Same).init(device);
        let mid = (0..self.depth - 2)
            .map(|_| MidLayer {
                conv: conv(self.features, self.features),
                bn: self.batch_norm.then(|| BatchNormConfig::new(self.features).init(device)),
            })
            .collect();
        let net = DnCnn {
            first: conv(self.channels, self.features),
            mid,
            last: conv(self.features, self.channels),
            relu: Relu::new(),
            kernels: Kernels::default(),
        };
        // Burn's initialisers draw from the backend's global generator; redraw on the host from
        // `seed` so a configuration always gives the same network on every backend.
        let layout = ParamLayout::of(&net);
        let mut noise = SeededNoise::new(self.seed, 0);
        let kk = self.kernel * self.kernel;
        Ok(map_trainable(net, |i, t| {
            let spec = &layout.specs[i];
            let n = spec.numel();
            let values: Vec<f64> = if spec.path.contains(".bn.") || spec.path.starts_with("bn") {
                vec![if spec.path.ends_with("gamma") { 1.0 } else { 0.0 }; n]
            } else {
                let fan_in = if spec.path.starts_with("first") { self.channels * kk } else { self.features * kk };
                let b = 1.0 / (fan_in as f64).sqrt();
                let u = Uniform::new(-b, b).expect("b > 0");
                (0..n).map(|_| u.sample(noise.rng())).collect()
            };
            Tensor::from_data(TensorData::new(values, [n]), &t.device())
        }))
    }
}

/// The default DnCNN on `device` with the weights in `file` (safetensors or PyTorch `.pt`), keys
/// mapped by `options`' own renames first and then from a PyTorch `nn.Sequential`
/// ([`DnCnnConfig::pytorch_sequential_renames`]), with the load's report.
pub fn load_dncnn(
    file: &std::path::Path,
    options: &crate::WeightsOptions,
    device: &Device,
) -> hessrank_core::Result<(DnCnn, crate::WeightsReport)> {
    let cfg = DnCnnConfig::new();
    let options = options.clone().with_renames(cfg.pytorch_sequential_renames());
    crate::load_weights(cfg.init(device)?, file, &options)
}

impl DnCnnConfig {
    /// The key renames that take a PyTorch `nn.Sequential` DnCNN's `state_dict` onto this
    /// network's module paths: `Conv2d, ReLU, [Conv2d, BatchNorm2d, ReLU] × (depth − 2), Conv2d`
    /// has its parameters at indices `0`, `2 + 3i`/`3 + 3i` and `3(depth − 2) + 2` (without
    /// BatchNorm, `2 + 2i` and `2(depth − 2) + 2`). Keys that do not start with an index are left alone,
    /// so a file written with Burn's own paths loads too.
    pub fn pytorch_sequential_renames(&self) -> Vec<(String, String)> {
        let per_mid = if self.batch_norm { 3 } else { 2 };
        let mut renames = vec![(r"^0\.".to_string(), "first.".to_string())];
        for i in 0..self.depth.saturating_sub(2) {
            let conv = 2 + per_mid * i;
            renames.push((format!(r"^{conv}\."), format!("mid.{i}.conv.")));
            if self.batch_norm {
                renames.push((format!(r"^{}\.", conv + 1), format!("mid.{i}.bn.")));
            }
        }
        renames.push((format!(r"^{}\.", 2 + per_mid * self.depth.saturating_sub(2)), "last.".to_string()));
        renames
    }
}

impl DnCnn {
    /// The groups of parameters the loss is invariant to the scale of: each output channel of a
    /// convolution that feeds BatchNorm (training-mode BatchNorm divides by that channel's batch
    /// standard deviation), as (name, index range in the flattened parameters).
    pub fn scale_invariant_groups(&self) -> Vec<(String, std::ops::Range<usize>)> {
        let layout = hessrank_core::ParamLayout::of(self);
        let mut groups = Vec::new();
        let mut offset = 0;
        for spec in &layout.specs {
            let feeds_bn = spec.path.strip_suffix(".conv.weight").and_then(|layer| {
                let i: usize = layer.strip_prefix("mid.")?.parse().ok()?;
                self.mid.get(i)?.bn.as_ref()
            });
            if feeds_bn.is_some() {
                let fan_in = spec.numel() / spec.shape[0];
                for c in 0..spec.shape[0] {
                    groups.push((format!("{}[{c}]", spec.path), offset + c * fan_in..offset + (c + 1) * fan_in));
                }
            }
            offset += spec.numel();
        }
        groups
    }
}

/// A middle layer: convolution, optional BatchNorm, ReLU.
#[derive(Module, Debug)]
pub struct MidLayer {
    /// The convolution.
    pub conv: Conv2d,
    /// BatchNorm (training mode on an autodiff device: batch statistics).
    pub bn: Option<BatchNorm>,
}

/// The DnCNN denoiser.
#[derive(Module, Debug)]
pub struct DnCnn {
    /// channels → features.
    pub first: Conv2d,
    /// features → features, with BatchNorm.
    pub mid: Vec<MidLayer>,
    /// features → channels: the predicted noise.
    pub last: Conv2d,
    /// The activation.
    pub relu: Relu,
    /// Which implementation the convolutions and BatchNorm run (not a parameter).
    #[module(skip)]
    pub kernels: Kernels,
}

impl DnCnn {
    /// The same network running its layers on `kernels` (Burn's operations or hessrank's).
    pub fn with_kernels(mut self, kernels: Kernels) -> Self {
        self.kernels = kernels;
        self
    }

    /// The network with activation `act(i, pre_activation)` at the i-th ReLU.
    fn forward_with(&self, noisy: Tensor<4>, mut act: impl FnMut(usize, Tensor<4>) -> Tensor<4>) -> Tensor<4> {
        let k = self.kernels;
        let mut h = act(0, k.conv2d(&self.first, noisy.clone()));
        for (i, layer) in self.mid.iter().enumerate() {
            h = k.conv2d(&layer.conv, h);
            if let Some(bn) = &layer.bn {
                h = k.batch_norm(bn, h);
            }
            h = act(i + 1, h);
        }
        noisy.sub(k.conv2d(&self.last, h))
    }

    /// The predicted noise for `noisy` images [N, C, H, W].
    pub fn residual(&self, noisy: Tensor<4>) -> Tensor<4> {
        noisy.clone().sub(self.forward(noisy))
    }

    /// The denoised images: noisy − residual(noisy).
    ///
    /// The same network as [`DnCnn::forward_with`] with ReLU activations, written out so that
    /// each ReLU runs inside the layer before it (`Kernels::conv2d_relu`,
    /// `Kernels::batch_norm_relu`: one pass over memory fewer each way on the fast path).
    pub fn forward(&self, noisy: Tensor<4>) -> Tensor<4> {
        let k = self.kernels;
        let mut h = k.conv2d_relu(&self.first, noisy.clone());
        for layer in &self.mid {
            h = match &layer.bn {
                Some(bn) => k.batch_norm_relu(bn, k.conv2d(&layer.conv, h)),
                None => k.conv2d_relu(&layer.conv, h),
            };
        }
        noisy.sub(k.conv2d(&self.last, h))
    }

    /// The 0/1 activation pattern of every ReLU at the current parameters (detached constants).
    pub fn relu_masks(&self, noisy: Tensor<4>) -> Vec<Tensor<4>> {
        let mut masks = Vec::new();
        self.forward_with(noisy, |_, h| {
            masks.push(h.clone().detach().greater_elem(0.0).float());
            self.relu.forward(h)
        });
        masks
    }

    /// The network with every ReLU replaced by multiplication with a fixed mask (see
    /// [`DnCnn::relu_masks`]). At the parameters the masks were taken at, value and gradient equal
    /// [`DnCnn::forward`]'s; the second derivative is the one autodiff's double backward gives
    /// (ReLU″ = 0), without the kinks that make finite differences of gradients jump.
    pub fn forward_masked(&self, noisy: Tensor<4>, masks: &[Tensor<4>]) -> Tensor<4> {
        self.forward_with(noisy, |i, h| h.mul(masks[i].clone()))
    }
}
