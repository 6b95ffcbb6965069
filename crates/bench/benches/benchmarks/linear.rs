//! One LD iteration of the paper's deep linear net (M = 5): one chain, and 32 chains batched as
//! [32, d, d] tensors.

use super::{bench_config, device};
use criterion::{BenchmarkId, Criterion, Throughput};
use hessrank_core::{DiagPreconditioner, ParamLayout};
use hessrank_models::GlobalMinimum;
use hessrank_models::linear::{BatchedLinearNet, BatchedPopulationObjective};
use hessrank_rank::langevin::LangevinRun;

fn linear(c: &mut Criterion) {
    let (device, label) = device();
    let mut group = c.benchmark_group(format!("ld_linear_{label}"));
    group.sample_size(20);
    for d in [8usize, 16, 32, 64, 128, 256] {
        let min = GlobalMinimum::random(d, 5, 1).unwrap();
        let (net, objective) = (min.net(&device), min.objective(&device));
        let g = DiagPreconditioner::identity(&ParamLayout::of(&net), &device.clone().inner());
        let mut run = LangevinRun::new(&bench_config(), &objective, &net, &g).unwrap();
        group.throughput(Throughput::Elements(1));
        group.bench_with_input(BenchmarkId::new("1chain", d), &d, |b, _| b.iter(|| run.step().unwrap()));
        if d <= 64 {
            let minima: Vec<GlobalMinimum> = (0..32).map(|t| GlobalMinimum::random(d, 5, t).unwrap()).collect();
            let net = BatchedLinearNet::from_minima(&minima, &device).unwrap();
            let objective = BatchedPopulationObjective::from_minima(&minima, &device);
            let g = DiagPreconditioner::identity(&ParamLayout::of(&net), &device.clone().inner());
            let mut run = LangevinRun::new(&bench_config(), &objective, &net, &g).unwrap();
            group.throughput(Throughput::Elements(32));
            group.bench_with_input(BenchmarkId::new("32chains", d), &d, |b, _| b.iter(|| run.step().unwrap()));
        }
    }
    group.finish();
}

criterion::criterion_group!(benches, linear);
