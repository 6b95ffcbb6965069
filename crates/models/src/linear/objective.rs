//! The linear net's objectives: the population loss for given second moments, and the sample
//! loss (eq. 23) over a fixed dataset.

use super::LinearNet;
use burn::tensor::Tensor;
use hessrank_core::{Error, Objective, Result};

/// L(θ) = tr(A Σx Aᵀ) − 2 tr(A Σyxᵀ) + c, A = W_M ⋯ W_1: the expected squared error
/// E‖y − A x‖² for inputs with second moment Σx = E[x xᵀ] and cross moment Σyx = E[y xᵀ];
/// c = tr Σy makes it the full expectation (optional: it does not change gradients or Hessian).
#[derive(Debug, Clone)]
pub struct PopulationObjective {
    /// Σx, [d_x, d_x].
    pub sigma_x: Tensor<2>,
    /// Σyx, [d_y, d_x].
    pub sigma_yx: Tensor<2>,
    /// The constant c (tr Σy, or 0).
    pub constant: f64,
    /// Whether Σx equals its transpose exactly (checked once, in [`PopulationObjective::new`]):
    /// then the loss is differentiated without going back through the product A Σx.
    symmetric: bool,
}

impl PopulationObjective {
    /// The objective for Σx and Σyx (on the model's device), checking their shapes.
    pub fn new(sigma_x: Tensor<2>, sigma_yx: Tensor<2>, constant: f64) -> Result<Self> {
        let [a, b] = sigma_x.shape().dims::<2>();
        let [_, c] = sigma_yx.shape().dims::<2>();
        if a != b || c != a {
            return Err(Error::Shape {
                what: "Σx and Σyx".into(),
                expected: "Σx [d_x, d_x] and Σyx [d_y, d_x]".into(),
                found: format!("Σx {:?}, Σyx {:?}", [a, b], sigma_yx.shape().dims::<2>()),
            });
        }
        let values = sigma_x
            .to_data()
            .convert::<f64>()
            .try_into_vec::<f64>()
            .map_err(|e| Error::Encoding { what: "Σx as f64", message: format!("{e:?}") })?;
        let symmetric = (0..a).all(|i| (0..i).all(|j| values[i * a + j] == values[j * a + i]));
        Ok(Self { sigma_x, sigma_yx, constant, symmetric })
    }
}

impl Objective for PopulationObjective {
    type Model = LinearNet;

    fn loss(&self, model: &LinearNet) -> Tensor<1> {
        let a = model.product();
        if self.symmetric {
            // ∇_A L = 2(A Σx − Σyx) for Σx = Σxᵀ. With P = A Σx and K = 2(P − Σyx) computed from a
            // detached A (constants of the graph), S = Σ A ⊙ K has gradient K, the true one, and
            // value 2q − 2c (q = Σ A ⊙ P = tr A Σx Aᵀ, c = tr A Σyxᵀ); subtracting the constant q
            // leaves L − const = q − 2c. The tape then records a product, a sum and two scalar
            // operations of A instead of nine operations and the product with Σx (one of 14 d×d
            // products per step), which at d ≤ 32 is most of the loss's cost.
            let a_const = a.clone().detach();
            let p = hessrank_kernels::matmul(a_const.clone(), self.sigma_x.clone());
            let k = p.clone().sub(self.sigma_yx.clone()).mul_scalar(2.0);
            let q = a_const.mul(p).sum();
            a.mul(k).sum().sub(q).add_scalar(self.constant)
        } else {
            let quad = hessrank_kernels::matmul(a.clone(), self.sigma_x.clone()).mul(a.clone()).sum();
            let cross = a.mul(self.sigma_yx.clone()).sum().mul_scalar(2.0);
            quad.sub(cross).add_scalar(self.constant)
        }
    }
}

/// L(θ) = (1/n) Σ_j ‖y_j − A x_j‖² over fixed rows `x` [n, d_x] and `y` [n, d_y] (eq. 23).
#[derive(Debug, Clone)]
pub struct SampleObjective {
    /// Inputs, one per row.
    pub x: Tensor<2>,
    /// Targets, one per row.
    pub y: Tensor<2>,
}

impl Objective for SampleObjective {
    type Model = LinearNet;

    fn loss(&self, model: &LinearNet) -> Tensor<1> {
        let n = self.x.shape().dims::<2>()[0] as f64;
        let r = model.forward(self.x.clone()).sub(self.y.clone());
        // not div_scalar: Burn 0.22.1 rounds its divisor to f32 in the backward pass
        r.powi_scalar(2).sum().mul_scalar(1.0 / n)
    }
}

impl SampleObjective {
    /// A regression dataset with a global minimum at T: n rows x ~ N(0, I_{d_x}) and targets
    /// y = T x (no noise), drawn from `seed`.
    pub fn regression(t: &nalgebra::DMatrix<f64>, n: usize, seed: u64, device: &burn::tensor::Device) -> Self {
        let d_x = t.ncols();
        let x = nalgebra::DMatrix::from_row_slice(
            n,
            d_x,
            &hessrank_core::noise::SeededNoise::new(seed, 7).normal_vec(n * d_x),
        );
        let y = &x * t.transpose();
        Self { x: super::matrix_to_tensor(&x, device), y: super::matrix_to_tensor(&y, device) }
    }
}

impl hessrank_core::Minibatches for SampleObjective {
    type Model = LinearNet;
    type Batch = SampleObjective;

    /// The rows in a fresh order each epoch (from the epoch number), cut into batches.
    fn epoch(&self, epoch: u64, batch_size: usize) -> Vec<SampleObjective> {
        use rand::seq::SliceRandom;
        let n = self.x.shape().dims::<2>()[0];
        let mut order: Vec<i64> = (0..n as i64).collect();
        order.shuffle(hessrank_core::noise::SeededNoise::new(epoch, 8).rng());
        let device = self.x.device();
        order
            .chunks(batch_size.max(1))
            .map(|c| {
                let idx = Tensor::<1, burn::tensor::Int>::from_data(
                    burn::tensor::TensorData::new(c.to_vec(), [c.len()]),
                    &device,
                );
                SampleObjective { x: self.x.clone().select(0, idx.clone()), y: self.y.clone().select(0, idx) }
            })
            .collect()
    }
}
