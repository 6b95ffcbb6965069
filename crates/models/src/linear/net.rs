//! The `LinearNet` module: M bias-free layers, W_i of shape [d_i, d_{i−1}] as in the paper.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};
use hessrank_core::Error;
use hessrank_core::noise::SeededNoise;
use hessrank_kernels::Kernels;

/// Configuration of a deep linear network.
#[derive(Config, Debug)]
pub struct LinearNetConfig {
    /// Layer widths d_0 = d_x, d_1, …, d_M = d_y (so depth M = `widths.len() − 1`).
    pub widths: Vec<usize>,
    /// Standard deviation of the Gaussian initial weights.
    #[config(default = 0.1)]
    pub init_std: f64,
    /// Seed of the initial weights.
    #[config(default = 0)]
    pub seed: u64,
}

impl LinearNetConfig {
    /// A square net: depth `depth`, every width `d`.
    pub fn square(d: usize, depth: usize) -> Self {
        Self::new(vec![d; depth + 1])
    }

    /// Checks the widths: at least one layer, every width ≥ 1.
    pub fn validate(&self) -> hessrank_core::Result<()> {
        if self.widths.len() < 2 || self.widths.contains(&0) {
            return Err(Error::config(
                "widths",
                format!("{:?}", self.widths),
                "at least two widths (d_x, …, d_y), each ≥ 1",
            ));
        }
        if !(self.init_std.is_finite() && self.init_std >= 0.0) {
            return Err(Error::config("init_std", self.init_std, "a finite number ≥ 0"));
        }
        Ok(())
    }

    /// Builds the net on `device` with seeded Gaussian weights.
    pub fn init(&self, device: &Device) -> hessrank_core::Result<LinearNet> {
        self.validate()?;
        let mut noise = SeededNoise::new(self.seed, 0);
        let weights = self
            .widths
            .windows(2)
            .map(|w| Param::from_tensor(noise.normal_tensor([w[1], w[0]], device).mul_scalar(self.init_std)))
            .collect();
        Ok(LinearNet { weights, kernels: Kernels::default() })
    }
}

/// A bias-free deep linear network; `weights[i]` is W_{i+1} with shape [d_{i+1}, d_i].
#[derive(Module, Debug)]
pub struct LinearNet {
    /// W_1, …, W_M.
    pub weights: Vec<Param<Tensor<2>>>,
    /// Which implementation the layer products run (not a parameter).
    #[module(skip)]
    pub kernels: Kernels,
}

impl LinearNet {
    /// The same network running its layer products on `kernels`.
    pub fn with_kernels(mut self, kernels: Kernels) -> Self {
        self.kernels = kernels;
        self
    }

    /// Depth M.
    pub fn depth(&self) -> usize {
        self.weights.len()
    }

    /// The end-to-end matrix A = W_M ⋯ W_1, shape [d_y, d_x] (large products go through
    /// [`hessrank_kernels::matmul`]'s column blocks on Flex).
    pub fn product(&self) -> Tensor<2> {
        let mut a = self.weights[0].val();
        for w in &self.weights[1..] {
            a = self.kernels.matmul(w.val(), a);
        }
        a
    }

    /// Applies the net to a batch of row vectors `x` [n, d_x], giving [n, d_y] (Y = X W_1ᵀ ⋯ W_Mᵀ).
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.weights.iter().fold(x, |h, w| h.matmul(w.val().transpose()))
    }
}
