//! Times single Langevin iterations and prints one JSON line, the hessrank side of
//! `scripts/bench/compare-pytorch` (whose `ld_pytorch.py` times the same iteration in PyTorch).
//!
//! ```text
//! cargo run --release -p hessrank-bench --example ld_timing -- linear 64 f64 [flex|ndarray|wgpu] [iters]
//! cargo run --release -p hessrank-bench --example ld_timing -- dncnn 256 f32
//! cargo run --release -p hessrank-bench --example ld_timing -- dncnn 256 f32 flex-burn
//! cargo run --release -p hessrank-bench --example ld_timing -- gemm 256 f64
//! cargo run --release -p hessrank-bench --example ld_timing -- gemm-blocked 256 f64
//! ```
//! `gemm` times one SIZE³ matrix product on the backend (plain device, no autodiff) and adds its
//! rate in GFLOP/s: the ceiling the linear net's twelve products per iteration run against;
//! `gemm-blocked` times `hessrank_kernels::matmul`, the column-blocked product the net uses.
//! `flex-burn` is Flex with the models on Burn's own operations (`Kernels::Burn`: convolution,
//! BatchNorm and the linear net's products), for A/B runs; `flex-avx2` is Flex with hessrank's
//! kernels but the direct convolution capped at its AVX2 path (padded copies, no AVX-512 tiles).
//! The iteration is Algorithm 1's (Leimkuhler–Matthews, G = I, one chain): the full-batch loss and
//! gradient through Burn autodiff, the update and fresh Gaussian noise. Threads follow
//! `RAYON_NUM_THREADS`. Criterion (`cargo bench`) gives the distributions; this prints medians for
//! side-by-side runs.
// Device::ndarray() is deprecated in Burn 0.22 in favour of flex; it stays selectable here.
#![allow(deprecated)]

use burn::tensor::{Device, FloatDType};
use hessrank_core::{DiagPreconditioner, Objective, ParamLayout};
use hessrank_kernels::Kernels;
use hessrank_models::{DnCnnConfig, GlobalMinimum, Mnist, NoisyMnist, NoisyMnistConfig};
use hessrank_rank::langevin::LangevinRun;
use hessrank_rank::{LangevinConfig, StepSize};
use std::time::Instant;

fn usage() -> ! {
    eprintln!(
        "usage: ld_timing linear|dncnn|gemm|gemm-blocked SIZE f32|f64 [flex|flex-burn|flex-avx2|ndarray|wgpu] [ITERS]"
    );
    std::process::exit(2)
}

fn device(backend: &str, dtype: FloatDType) -> Device {
    let base = match backend {
        "flex" => Device::flex(),
        "flex-burn" => Device::flex(),
        "flex-avx2" => {
            hessrank_kernels::simd::limit_path(hessrank_kernels::simd::Path::Avx2);
            Device::flex()
        }
        "ndarray" => Device::ndarray(),
        #[cfg(feature = "wgpu")]
        "wgpu" => Device::wgpu_options().init().unwrap_or_else(|e| panic!("no wgpu adapter: {e}")),
        other => {
            eprintln!("backend {other}: expected flex, flex-burn, flex-avx2 or ndarray (wgpu needs --features wgpu)");
            usage()
        }
    };
    hessrank_core::device::with_float_dtype(base, dtype).expect("dtype").autodiff()
}

/// Median and minimum seconds per iteration over `iters` timed steps after `iters / 5 + 3` untimed.
fn time_steps<O: Objective>(objective: &O, theta0: &O::Model, device: &Device, iters: usize) -> (f64, f64)
where
    O::Model: Clone,
{
    let config = LangevinConfig::new()
        .with_chains(1)
        .with_sigma2(2e-5)
        .with_step(StepSize::Fixed(1e-5))
        .with_k_tot(usize::MAX / 2)
        .with_k_avg(1)
        .with_check_step(false)
        .with_divergence_factor(1e300);
    let g = DiagPreconditioner::identity(&ParamLayout::of(theta0), &device.clone().inner());
    let mut run = LangevinRun::new(&config, objective, theta0, &g).expect("run");
    for _ in 0..iters / 5 + 3 {
        run.step().expect("step");
    }
    let mut t: Vec<f64> = (0..iters)
        .map(|_| {
            let s = Instant::now();
            run.step().expect("step");
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    (t[t.len() / 2], t[0])
}

/// Median and minimum seconds of one `size`³ product on `device` (Burn's, or the blocked one).
fn time_gemm(size: usize, device: &Device, iters: usize, blocked: bool) -> (f64, f64) {
    let x = burn::tensor::Tensor::<2>::random([size, size], burn::tensor::Distribution::Default, device);
    let y = burn::tensor::Tensor::<2>::random([size, size], burn::tensor::Distribution::Default, device);
    let mut t: Vec<f64> = (0..iters + iters / 5 + 3)
        .map(|_| {
            let s = Instant::now();
            let z = if blocked { hessrank_kernels::matmul(x.clone(), y.clone()) } else { x.clone().matmul(y.clone()) };
            std::hint::black_box(z.into_data());
            s.elapsed().as_secs_f64()
        })
        .skip(iters / 5 + 3)
        .collect();
    t.sort_by(f64::total_cmp);
    (t[t.len() / 2], t[0])
}

/// The allocator of the `hessrank` CLI, so the timings are what users run.
#[global_allocator]
static ALLOC: hessrank_alloc::SplitAllocator = hessrank_alloc::SplitAllocator;

fn main() {
    hessrank_alloc::retain_freed_memory();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        usage()
    }
    let size: usize = args[1].parse().unwrap_or_else(|_| usage());
    let dtype = match args[2].as_str() {
        "f32" => FloatDType::F32,
        "f64" => FloatDType::F64,
        _ => usage(),
    };
    let backend = args.get(3).map(String::as_str).unwrap_or("flex");
    let device = device(backend, dtype);
    let kernels = if backend == "flex-burn" { Kernels::Burn } else { Kernels::Fast };
    let (median, min, iters) = match args[0].as_str() {
        "linear" => {
            let iters = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(if size >= 128 { 100 } else { 300 });
            let min = GlobalMinimum::random(size, 5, 1).expect("minimum");
            let (m, lo) = time_steps(&min.objective(&device), &min.net(&device).with_kernels(kernels), &device, iters);
            (m, lo, iters)
        }
        "dncnn" => {
            let iters = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(if size >= 1024 { 10 } else { 30 });
            let mnist = Mnist::bundled().expect("bundled MNIST");
            let objective =
                NoisyMnist::new(&mnist, &NoisyMnistConfig::new().with_n_images(size), &device).expect("objective");
            let net = DnCnnConfig::new().init(&device).expect("model").with_kernels(kernels);
            let (m, lo) = time_steps(&objective, &net, &device, iters);
            (m, lo, iters)
        }
        "gemm" | "gemm-blocked" => {
            let iters = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(100);
            let (m, lo) = time_gemm(size, &device.clone().inner(), iters, args[0] == "gemm-blocked");
            (m, lo, iters)
        }
        _ => usage(),
    };
    let mut line = serde_json::json!({
        "impl": "hessrank", "model": args[0], "size": size, "dtype": args[2], "backend": backend,
        "threads": std::env::var("RAYON_NUM_THREADS").ok(), "iters": iters,
        "median_s": median, "min_s": min
    });
    if args[0].starts_with("gemm") {
        line["gflops"] = serde_json::json!(2.0 * (size as f64).powi(3) / median / 1e9);
    }
    println!("{line}");
}
