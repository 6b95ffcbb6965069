//! `hessrank`: train networks and estimate the rank of their loss Hessian by preconditioned
//! Langevin dynamics (Bar, Mulayoff, Michaeli, Talmon, AAAI 2024).
//!
//! The backend is chosen here and only here, by cargo feature; every library crate takes a `&Device`.

mod backend;

use anyhow::{Context, Result};
use burn::tensor::FloatDType;
use hessrank_core::device::with_float_dtype;
use hessrank_core::{ParamLayout, value_and_grad};
use hessrank_models::{DnCnnConfig, GlobalMinimum, Mnist, NoisyMnist, NoisyMnistConfig};
use std::time::Instant;

fn main() -> Result<()> {
    let start = Instant::now();
    let backend = backend::Backend::default_cpu();
    let device = with_float_dtype(backend.device(), FloatDType::F64)?.autodiff();
    println!("hessrank {} — backend {backend} (f64)", env!("CARGO_PKG_VERSION"));

    let mnist = Mnist::bundled().context("loading the shipped MNIST digits")?;
    println!("MNIST: {} digits of {}×{} from {}", mnist.len(), mnist.rows, mnist.cols, mnist.source.display());

    let dncnn = DnCnnConfig::new().init(&device)?;
    let objective = NoisyMnist::new(&mnist, &NoisyMnistConfig::new().with_n_images(64), &device)?;
    let vg = value_and_grad(&objective, &dncnn);
    println!(
        "DnCNN: {} trainable parameters; noisy-MNIST loss at initialisation (N = 64, noise std 1) {:.6}, ‖∇L‖ = {:.3e}",
        ParamLayout::of(&dncnn).numel(),
        vg.loss,
        vg.grads.sq_norm().sqrt()
    );

    let (d, depth) = (8, 5);
    let min = GlobalMinimum::random(d, depth, 0)?;
    let net = min.net(&device);
    let vg = value_and_grad(&min.objective(&device), &net);
    println!(
        "Linear net d = {d}, M = {depth}: {} parameters, Hessian rank d² = {} at a global minimum; \
         loss {:.12} (analytic −tr(TΣxTᵀ) = {:.12}), ‖∇L‖ = {:.3e}",
        ParamLayout::of(&net).numel(),
        d * d,
        vg.loss,
        min.min_loss(),
        vg.grads.sq_norm().sqrt()
    );
    println!("done in {:.2} s", start.elapsed().as_secs_f64());
    Ok(())
}
