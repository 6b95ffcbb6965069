//! C deep linear nets advanced as one: every layer stacked as a [C, d_out, d_in] tensor so one
//! batched matmul serves every chain. Each chain may sit at its own minimum (one trial each) with
//! its own Σx, Σyx; the chains never interact, so the gradient of the summed loss is every chain's
//! own gradient.

use super::{GlobalMinimum, matrix_to_tensor};
use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};
use hessrank_core::{Error, Objective, Result};

/// C linear nets of equal widths, layer i stacked as [C, d_{i+1}, d_i].
#[derive(Module, Debug)]
pub struct BatchedLinearNet {
    /// W_1 … W_M, each [C, d_{i+1}, d_i].
    pub weights: Vec<Param<Tensor<3>>>,
}

fn stack(mats: Vec<Tensor<2>>) -> Tensor<3> {
    Tensor::stack(mats, 0)
}

impl BatchedLinearNet {
    /// One chain per minimum (all of the same d and depth), on `device`.
    pub fn from_minima(minima: &[GlobalMinimum], device: &Device) -> Result<Self> {
        let first = minima.first().ok_or_else(|| Error::config("minima", 0, "at least one"))?;
        if minima.iter().any(|m| m.d != first.d || m.depth != first.depth) {
            return Err(Error::config("minima", "mixed sizes", "every minimum of the same d and depth"));
        }
        let weights = (0..first.depth)
            .map(|i| {
                Param::from_tensor(stack(minima.iter().map(|m| matrix_to_tensor(&m.weights[i], device)).collect()))
            })
            .collect();
        Ok(Self { weights })
    }

    /// The end-to-end matrices A_c = W_M ⋯ W_1, [C, d_y, d_x].
    pub fn product(&self) -> Tensor<3> {
        let mut a = self.weights[0].val();
        for w in &self.weights[1..] {
            a = w.val().matmul(a);
        }
        a
    }
}

/// The population objective of each chain, L_c = tr(A_c Σx_c A_cᵀ) − 2 tr(A_c Σyx_cᵀ); one loss per chain.
///
/// For Σx = I (the paper's minima) it is evaluated as the residual ‖A_c − Σyx_c‖², which is L_c plus
/// the constant ‖Σyx_c‖²: the same gradients and the same loss differences, but the excess over the
/// minimum that Algorithm 1 measures (≈ σ²/4 · d², 0.33 at d = 256) keeps its relative precision in
/// f32, where the two-term form is a difference of numbers of size tr T² (≈ 1.3e5 at d = 256) whose
/// f32 spacing, 0.008, is a few percent of that excess.
#[derive(Debug, Clone)]
pub struct BatchedPopulationObjective {
    /// Σx per chain, [C, d_x, d_x]; `None` for Σx = I (the paper's case, one matmul fewer).
    pub sigma_x: Option<Tensor<3>>,
    /// Σyx per chain, [C, d_y, d_x].
    pub sigma_yx: Tensor<3>,
    chains: usize,
}

impl BatchedPopulationObjective {
    /// The objectives of `minima` (Σx = I is recognised and skipped).
    pub fn from_minima(minima: &[GlobalMinimum], device: &Device) -> Self {
        let identity = minima.iter().all(|m| m.sigma_x == nalgebra::DMatrix::identity(m.d, m.d));
        let sigma_x = (!identity).then(|| stack(minima.iter().map(|m| matrix_to_tensor(&m.sigma_x, device)).collect()));
        let sigma_yx = stack(minima.iter().map(|m| matrix_to_tensor(&m.sigma_yx, device)).collect());
        Self { sigma_x, sigma_yx, chains: minima.len() }
    }
}

impl Objective for BatchedPopulationObjective {
    type Model = BatchedLinearNet;

    fn loss(&self, model: &BatchedLinearNet) -> Tensor<1> {
        let a = model.product();
        let per_chain = |t: Tensor<3>| t.sum_dim(2).sum_dim(1).reshape([self.chains]);
        match &self.sigma_x {
            // Σx = I: the residual form (see the type's documentation).
            None => {
                let r = a.sub(self.sigma_yx.clone());
                per_chain(r.clone().mul(r))
            }
            Some(sx) => {
                let quad = per_chain(a.clone().matmul(sx.clone()).mul(a.clone()));
                let cross = per_chain(a.mul(self.sigma_yx.clone()));
                quad.sub(cross.mul_scalar(2.0))
            }
        }
    }

    fn stacked(&self) -> usize {
        self.chains
    }
}
