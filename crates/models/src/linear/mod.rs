//! The deep linear network g(x) = W_M ⋯ W_1 x of the paper (eq. 22), its objectives, its random
//! global minima and its closed-form Hessian there (eq. 24–25).

mod batched;
mod eigenbasis;
mod hessian;
mod minimum;
mod net;
mod objective;

pub use batched::{BatchedLinearNet, BatchedPopulationObjective};
pub use eigenbasis::EigenbasisHessian;
pub use hessian::ClosedFormHessian;
pub use minimum::GlobalMinimum;
pub use net::{LinearNet, LinearNetConfig};
pub use objective::{PopulationObjective, SampleObjective};

use burn::tensor::{Device, Tensor, TensorData};
use nalgebra::DMatrix;

/// Uploads a host matrix as a `[rows, cols]` tensor in the device's float dtype.
pub fn matrix_to_tensor(m: &DMatrix<f64>, device: &Device) -> Tensor<2> {
    let (r, c) = m.shape();
    let row_major: Vec<f64> = (0..r).flat_map(|i| (0..c).map(move |j| m[(i, j)])).collect();
    Tensor::from_data(TensorData::new(row_major, [r, c]), device)
}

/// Reads a `[rows, cols]` tensor back into a host matrix.
pub fn tensor_to_matrix(t: &Tensor<2>) -> DMatrix<f64> {
    let [r, c] = t.shape().dims::<2>();
    let v: Vec<f64> = t.to_data().iter::<f64>().collect();
    DMatrix::from_row_slice(r, c, &v)
}
