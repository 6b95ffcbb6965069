//! The noisy-MNIST objective is a deterministic function of the parameters and of its seed.

use crate::common::*;
use hessrank_core::Objective;
use hessrank_core::objective::ScalarExt;
use hessrank_models::{DnCnnConfig, Mnist, NoisyMnist, NoisyMnistConfig, NoisyMnistSampler};

#[test]
fn same_seed_gives_bitwise_equal_loss_and_another_seed_another_loss() {
    let device = f64_device();
    let mnist = Mnist::bundled().unwrap();
    let net = DnCnnConfig::new().init(&device).unwrap();
    let cfg = NoisyMnistConfig::new().with_n_images(16).with_seed(3);
    let a = NoisyMnist::new(&mnist, &cfg, &device).unwrap();
    let b = NoisyMnist::new(&mnist, &cfg, &device).unwrap();
    let la = a.loss(&net).into_scalar_f64();
    let la2 = a.loss(&net).into_scalar_f64();
    let lb = b.loss(&net).into_scalar_f64();
    assert_eq!(la.to_bits(), la2.to_bits(), "repeated evaluation");
    assert_eq!(la.to_bits(), lb.to_bits(), "rebuilt objective");
    let c = NoisyMnist::new(&mnist, &cfg.clone().with_seed(4), &device).unwrap();
    let lc = c.loss(&net).into_scalar_f64();
    assert_ne!(la, lc);
    // With noise std 1 and a near-identity denoiser the MSE is about the noise variance.
    assert!(la > 0.3 && la < 3.0, "loss {la}");
}

#[test]
fn the_loss_is_the_mean_squared_error_computed_by_hand() {
    let device = f64_device();
    let mnist = Mnist::bundled().unwrap();
    let net = DnCnnConfig::new().init(&device).unwrap();
    let obj = NoisyMnist::new(&mnist, &NoisyMnistConfig::new().with_n_images(4), &device).unwrap();
    let den: Vec<f64> = net.forward(obj.noisy.clone()).into_data().iter::<f64>().collect();
    let clean: Vec<f64> = obj.clean.clone().into_data().iter::<f64>().collect();
    let mse = den.iter().zip(&clean).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / clean.len() as f64;
    let loss = obj.loss(&net).into_scalar_f64();
    assert!((loss - mse).abs() < 1e-12 * mse, "{loss} vs {mse}");
    // The clean images are the dataset's pixels / 255.
    let first = mnist.image(obj.indices[0]);
    assert!(first.iter().zip(&clean).all(|(&p, &c)| (p as f64 / 255.0 - c).abs() < 1e-7));
}

#[test]
fn sampler_draws_fresh_noise_each_epoch_and_bad_sizes_are_errors() {
    let device = f64_device();
    let mnist = Mnist::bundled().unwrap();
    let cfg = NoisyMnistConfig::new().with_n_images(8);
    let s = NoisyMnistSampler::new(&mnist, &cfg, &device).unwrap();
    let e0 = s.epoch(0, 3);
    assert_eq!(e0.iter().map(|b| b.noisy.shape().dims::<4>()[0]).collect::<Vec<_>>(), vec![3, 3, 2]);
    let sum = |t: &burn::tensor::Tensor<4>| t.clone().sum().into_scalar_f64();
    let e0b = s.epoch(0, 3);
    let e1 = s.epoch(1, 3);
    assert_eq!(sum(&e0[0].noisy), sum(&e0b[0].noisy));
    assert_ne!(sum(&e0[0].noisy), sum(&e1[0].noisy));
    let err = NoisyMnistSampler::new(&mnist, &cfg.with_n_images(20_000), &device).unwrap_err();
    assert!(
        matches!(&err, hessrank_core::Error::InvalidConfig { field: "n_images", value, expected }
            if value == "20000" && expected.contains("10000")),
        "{err}"
    );
}
