//! Minibatches as index tensors: a seeded shuffle of 0..n cut into chunks, shared by the samplers.

use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::seq::SliceRandom;

/// The indices 0..n shuffled by `rng` and cut into chunks of at most `batch_size` (≥ 1), each as an
/// index tensor on `device` for `select`.
pub(crate) fn shuffled_batches<R: rand::Rng + ?Sized>(
    n: usize,
    rng: &mut R,
    batch_size: usize,
    device: &Device,
) -> Vec<Tensor<1, Int>> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    order
        .chunks(batch_size.max(1))
        .map(|chunk| {
            let idx: Vec<i64> = chunk.iter().map(|&i| i as i64).collect();
            Tensor::from_data(TensorData::new(idx, [chunk.len()]), device)
        })
        .collect()
}
