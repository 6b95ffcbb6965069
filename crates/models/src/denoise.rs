//! The noisy-MNIST denoising objective: MSE between denoised and clean images over a **fixed** set
//! of N images with a **fixed** noise draw, so the loss is a deterministic function of the
//! parameters (BatchNorm runs in training mode over the whole batch); and a sampler that draws
//! fresh noise every epoch for SGD training.

use crate::dncnn::DnCnn;
use crate::mnist::Mnist;
use crate::tensor_file::TensorFile;
use burn::config::Config;
use burn::tensor::{Device, Tensor, TensorData};
use hessrank_core::noise::SeededNoise;
use hessrank_core::{Error, Minibatches, Objective};
use rand::seq::SliceRandom;
use std::path::{Path, PathBuf};

/// Noise stream of the fixed objective's draw (epoch samplers use `EPOCH_STREAM + epoch`).
const FIXED_STREAM: u64 = 1;
const EPOCH_STREAM: u64 = 1_000;

/// Which images, which noise.
#[derive(Config, Debug)]
pub struct NoisyMnistConfig {
    /// Number of images N in the fixed batch.
    #[config(default = 256)]
    pub n_images: usize,
    /// Standard deviation of the additive Gaussian noise (pixels are in [0, 1]; the paper uses 1).
    #[config(default = 1.0)]
    pub noise_std: f64,
    /// Seed of the image subset and of the noise.
    #[config(default = 0)]
    pub seed: u64,
}

impl NoisyMnistConfig {
    /// Checks N against the dataset and the noise level.
    pub fn validate(&self, mnist: &Mnist) -> hessrank_core::Result<()> {
        if self.n_images == 0 || self.n_images > mnist.len() {
            return Err(Error::config(
                "n_images",
                self.n_images,
                format!("between 1 and {} (the dataset size)", mnist.len()),
            ));
        }
        if !(self.noise_std.is_finite() && self.noise_std >= 0.0) {
            return Err(Error::config("noise_std", self.noise_std, "a finite number ≥ 0"));
        }
        Ok(())
    }

    /// Indices of the N images: the first N of a permutation of the dataset drawn from `seed`.
    pub fn image_indices(&self, mnist: &Mnist) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..mnist.len()).collect();
        idx.shuffle(SeededNoise::new(self.seed, 0).rng());
        idx.truncate(self.n_images);
        idx
    }
}

/// Clean images [N, 1, H, W] in [0, 1] for the given indices.
fn clean_tensor(mnist: &Mnist, indices: &[usize], device: &Device) -> Tensor<4> {
    let pixels: Vec<f32> = indices.iter().flat_map(|&i| mnist.image(i).iter().map(|&p| p as f32 / 255.0)).collect();
    Tensor::from_data(TensorData::new(pixels, [indices.len(), 1, mnist.rows, mnist.cols]), device)
}

/// The fixed denoising objective L(θ) = mean((denoise_θ(noisy) − clean)²).
#[derive(Debug, Clone)]
pub struct NoisyMnist {
    /// Clean images [N, 1, 28, 28].
    pub clean: Tensor<4>,
    /// Noisy images (clean + fixed noise).
    pub noisy: Tensor<4>,
    /// The configuration that produced them.
    pub config: NoisyMnistConfig,
    /// Which dataset images were used (empty for a batch read from a file).
    pub indices: Vec<usize>,
    /// The file the batch was read from (`None`: drawn from MNIST by `config`).
    pub source: Option<PathBuf>,
}

impl NoisyMnist {
    /// Builds the fixed batch on `device` (use the model's device).
    pub fn new(mnist: &Mnist, config: &NoisyMnistConfig, device: &Device) -> hessrank_core::Result<Self> {
        config.validate(mnist)?;
        let indices = config.image_indices(mnist);
        let clean = clean_tensor(mnist, &indices, device);
        let shape = clean.shape().dims::<4>();
        let noise = SeededNoise::new(config.seed, FIXED_STREAM).normal_tensor(shape, device);
        let noisy = clean.clone().add(noise.mul_scalar(config.noise_std));
        Ok(Self { clean, noisy, config: config.clone(), indices, source: None })
    }

    /// The batch in a safetensors file: `noisy` and `clean`, each [N, 1, 28, 28] (f32 or f64), the
    /// user's own fixed batch. Errors name the file and the key with the expected shape.
    pub fn from_file(path: &Path, device: &Device) -> hessrank_core::Result<Self> {
        let file = TensorFile::read(path)?;
        let image = [None, Some(1), Some(28), Some(28)];
        let (shape, noisy) = file.float("noisy", &image)?;
        let n = shape[0];
        let (_, clean) = file.float("clean", &[Some(n), Some(1), Some(28), Some(28)])?;
        if n == 0 {
            return Err(Error::format(path, "the batch is empty (noisy has N = 0 images)"));
        }
        let as_tensor = |v: Vec<f64>| Tensor::<4>::from_data(TensorData::new(v, [n, 1, 28, 28]), device);
        let mut config = NoisyMnistConfig::new().with_n_images(n);
        // The noise level of a given batch is whatever the file holds: its sample standard deviation.
        let (sum, sq) =
            noisy.iter().zip(&clean).fold((0.0, 0.0), |(s, q), (a, b)| (s + (a - b), q + (a - b) * (a - b)));
        let m = noisy.len() as f64;
        config.noise_std = (sq / m - (sum / m).powi(2)).max(0.0).sqrt();
        Ok(Self {
            noisy: as_tensor(noisy),
            clean: as_tensor(clean),
            config,
            indices: Vec::new(),
            source: Some(path.into()),
        })
    }
}

impl Objective for NoisyMnist {
    type Model = DnCnn;

    fn loss(&self, model: &DnCnn) -> Tensor<1> {
        model.forward(self.noisy.clone()).sub(self.clean.clone()).powi_scalar(2).mean()
    }
}

/// The noisy-MNIST objective with the DnCNN's ReLU activation pattern frozen at a point θ₀.
///
/// Central differences of gradients cross ReLU kinks (a 753-parameter DnCNN on 8 images has ~50,000
/// ReLUs, and a step of 1e-5 flips some of them), which makes a finite-difference Hessian jump and
/// lose symmetry. Freezing the pattern of θ₀ gives a smooth function with the same value and
/// gradient at θ₀ whose Hessian there is the one exact second-order autodiff reports (ReLU″ = 0):
/// the Hessian the paper computes.
#[derive(Debug, Clone)]
pub struct FrozenNoisyMnist {
    base: NoisyMnist,
    masks: Vec<Tensor<4>>,
}

impl NoisyMnist {
    /// This objective with `model`'s current ReLU pattern frozen.
    pub fn frozen_at(&self, model: &DnCnn) -> FrozenNoisyMnist {
        FrozenNoisyMnist { base: self.clone(), masks: model.relu_masks(self.noisy.clone()) }
    }
}

impl Objective for FrozenNoisyMnist {
    type Model = DnCnn;

    fn loss(&self, model: &DnCnn) -> Tensor<1> {
        model.forward_masked(self.base.noisy.clone(), &self.masks).sub(self.base.clean.clone()).powi_scalar(2).mean()
    }
}

/// Minibatches of the same N clean images with a fresh noise realisation every epoch (for SGD).
#[derive(Debug, Clone)]
pub struct NoisyMnistSampler {
    clean: Tensor<4>,
    config: NoisyMnistConfig,
}

impl NoisyMnistSampler {
    /// A sampler over the images `config` selects.
    pub fn new(mnist: &Mnist, config: &NoisyMnistConfig, device: &Device) -> hessrank_core::Result<Self> {
        config.validate(mnist)?;
        let clean = clean_tensor(mnist, &config.image_indices(mnist), device);
        Ok(Self { clean, config: config.clone() })
    }

    /// The minibatches of `epoch`: a fresh noise draw and a fresh shuffle, both determined by
    /// `(seed, epoch)`.
    pub fn epoch(&self, epoch: u64, batch_size: usize) -> Vec<NoisyBatch> {
        let n = self.config.n_images;
        let device = self.clean.device();
        let mut noise = SeededNoise::new(self.config.seed, EPOCH_STREAM + epoch);
        let shape = self.clean.shape().dims::<4>();
        let noisy = self.clean.clone().add(noise.normal_tensor(shape, &device).mul_scalar(self.config.noise_std));
        crate::minibatch::shuffled_batches(n, noise.rng(), batch_size, &device)
            .into_iter()
            .map(|idx| NoisyBatch {
                noisy: noisy.clone().select(0, idx.clone()),
                clean: self.clean.clone().select(0, idx),
            })
            .collect()
    }
}

impl Minibatches for NoisyMnistSampler {
    type Model = DnCnn;
    type Batch = NoisyBatch;

    fn epoch(&self, epoch: u64, batch_size: usize) -> Vec<NoisyBatch> {
        NoisyMnistSampler::epoch(self, epoch, batch_size)
    }
}

/// One minibatch of noisy and clean images; its loss is the denoising MSE.
#[derive(Debug, Clone)]
pub struct NoisyBatch {
    /// Noisy images [B, 1, H, W].
    pub noisy: Tensor<4>,
    /// Clean images [B, 1, H, W].
    pub clean: Tensor<4>,
}

impl Objective for NoisyBatch {
    type Model = DnCnn;

    fn loss(&self, model: &DnCnn) -> Tensor<1> {
        model.forward(self.noisy.clone()).sub(self.clean.clone()).powi_scalar(2).mean()
    }
}
