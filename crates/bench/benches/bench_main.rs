//! Benchmarks of one Langevin iteration (criterion). Run with `cargo bench -p hessrank-bench`;
//! `HESSRANK_BENCH_BACKEND` = flex (default) | ndarray | wgpu (with `--features wgpu`) and `HESSRANK_BENCH_DTYPE` = f32 (default) |
//! f64 choose the device (one dtype per device per process). `scripts/bench` runs all four.

mod benchmarks;

/// The allocator of the `hessrank` CLI, so the benchmarks time what users run.
#[global_allocator]
static ALLOC: hessrank_alloc::SplitAllocator = hessrank_alloc::SplitAllocator;

criterion::criterion_main!(benchmarks::linear::benches, benchmarks::dncnn::benches, benchmarks::noise::benches);
