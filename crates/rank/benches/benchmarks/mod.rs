//! Benchmark groups and the device they run on.
// Device::ndarray() is deprecated in Burn 0.22 in favour of flex; it stays selectable here.
#![allow(deprecated)]

pub mod dncnn;
pub mod linear;

use burn::tensor::{Device, FloatDType};

/// The device chosen by the environment, with its label.
pub fn device() -> (Device, String) {
    let backend = std::env::var("HESSRANK_BENCH_BACKEND").unwrap_or_else(|_| "flex".into());
    let dtype = std::env::var("HESSRANK_BENCH_DTYPE").unwrap_or_else(|_| "f32".into());
    let base = if backend == "ndarray" { Device::ndarray() } else { Device::flex() };
    let float = if dtype == "f64" { FloatDType::F64 } else { FloatDType::F32 };
    let device = hessrank_core::device::with_float_dtype(base, float).expect("dtype").autodiff();
    (device, format!("{backend}-{dtype}"))
}

/// Settings for a run that is only stepped (never finished).
pub fn bench_config() -> hessrank_rank::LangevinConfig {
    hessrank_rank::LangevinConfig::new()
        .with_step(hessrank_rank::StepSize::Fixed(1e-4))
        .with_k_tot(usize::MAX / 2)
        .with_k_avg(1)
        .with_check_step(false)
        .with_divergence_factor(1e300)
}
