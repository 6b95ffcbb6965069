//! Drawing one Langevin step's noise for the d = 256 linear net (327,680 f64 normals): by
//! `CounterNoise` (eight-lane vector ziggurat, chunks on Rayon's pool), with the
//! Leimkuhler–Matthews midpoint formed in the same pass, and, as the baseline, rand_distr's scalar
//! ziggurat on one Xoshiro256++ per 4,096-number chunk (how `CounterNoise` drew before).
//! `RAYON_NUM_THREADS=1` gives the cost per number on one core.

use criterion::{Criterion, Throughput};
use hessrank_core::step_noise::{CHUNK, CounterNoise};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Numbers per draw: M d² for M = 5, d = 256.
const N: usize = 5 * 256 * 256;

fn noise(c: &mut Criterion) {
    let mut group = c.benchmark_group("noise");
    group.sample_size(30);
    group.throughput(Throughput::Elements(N as u64));
    let src = CounterNoise::new(1, 0);
    let mut draw = 0;
    group.bench_function("counter_noise_f64", |b| {
        b.iter(|| {
            draw += 1;
            src.normal_f64(draw, 0, N)
        })
    });
    let mut xi = src.normals(0, 0, N, burn::tensor::DType::F64);
    group.bench_function("counter_noise_midpoint_f64", |b| {
        b.iter(|| {
            draw += 1;
            src.next_with_midpoint(draw, 0, &mut xi)
        })
    });
    let mut round = 0;
    group.bench_function("rand_distr_scalar_f64", |b| {
        b.iter(|| {
            round += 1;
            let chunks = (0..N / CHUNK).flat_map(|c| {
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(round * 1024 + c as u64);
                (0..CHUNK).map(move |_| -> f64 { StandardNormal.sample(&mut rng) })
            });
            chunks.collect::<Vec<f64>>()
        })
    });
    group.finish();
}

criterion::criterion_group!(benches, noise);
