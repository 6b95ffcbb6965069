//! One LD iteration of the DnCNN objective on N noisy MNIST images.

use super::{bench_config, device};
use criterion::{BenchmarkId, Criterion};
use hessrank_core::{DiagPreconditioner, ParamLayout};
use hessrank_kernels::Kernels;
use hessrank_models::{DnCnnConfig, Mnist, NoisyMnist, NoisyMnistConfig};
use hessrank_rank::langevin::LangevinRun;

fn dncnn(c: &mut Criterion) {
    let (device, label) = device();
    // Flex runs hessrank-kernels; the `_burnops` group is the same step with Burn's own operations.
    for (kernels, suffix) in [(Kernels::Fast, ""), (Kernels::Burn, "_burnops")] {
        dncnn_group(c, &device, kernels, &format!("ld_dncnn_{label}{suffix}"));
    }
}

fn dncnn_group(c: &mut Criterion, device: &burn::tensor::Device, kernels: Kernels, name: &str) {
    let device = device.clone();
    let mnist = Mnist::bundled().unwrap();
    let mut group = c.benchmark_group(name);
    group.sample_size(10);
    for n in [64usize, 256, 1024] {
        let objective = NoisyMnist::new(&mnist, &NoisyMnistConfig::new().with_n_images(n), &device).unwrap();
        let net = DnCnnConfig::new().init(&device).unwrap().with_kernels(kernels);
        let g = DiagPreconditioner::identity(&ParamLayout::of(&net), &device.clone().inner());
        let mut run = LangevinRun::new(&bench_config(), &objective, &net, &g).unwrap();
        group.bench_with_input(BenchmarkId::new("images", n), &n, |b, _| b.iter(|| run.step().unwrap()));
    }
    group.finish();
}

criterion::criterion_group!(benches, dncnn);
