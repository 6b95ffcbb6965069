//! Benchmark groups and the device they run on.
// Device::ndarray() is deprecated in Burn 0.22 in favour of flex; it stays selectable here.
#![allow(deprecated)]

pub mod dncnn;
pub mod linear;
pub mod noise;

use burn::tensor::{Device, FloatDType};

/// The device chosen by the environment, with its label; made once per process (a wgpu runtime
/// refuses a second initialisation, and one dtype per device per process).
pub fn device() -> (Device, String) {
    static DEVICE: std::sync::OnceLock<(Device, String)> = std::sync::OnceLock::new();
    DEVICE.get_or_init(make_device).clone()
}

fn make_device() -> (Device, String) {
    hessrank_alloc::retain_freed_memory();
    let backend = std::env::var("HESSRANK_BENCH_BACKEND").unwrap_or_else(|_| "flex".into());
    let dtype = std::env::var("HESSRANK_BENCH_DTYPE").unwrap_or_else(|_| "f32".into());
    let base = match backend.as_str() {
        "ndarray" => Device::ndarray(),
        #[cfg(feature = "wgpu")]
        "wgpu" => Device::wgpu_options().init().expect("a wgpu adapter"),
        "flex" => Device::flex(),
        other => panic!("HESSRANK_BENCH_BACKEND={other}: expected flex, ndarray or wgpu (with --features wgpu)"),
    };
    let float = if dtype == "f64" { FloatDType::F64 } else { FloatDType::F32 };
    let device = hessrank_core::device::with_float_dtype(base, float).expect("dtype").autodiff();
    (device, format!("{backend}-{dtype}"))
}

/// Settings for a run that is only stepped (never finished).
pub fn bench_config() -> hessrank_rank::LangevinConfig {
    hessrank_rank::LangevinConfig::new()
        .with_chains(1)
        .with_sigma2(2e-5)
        .with_step(hessrank_rank::StepSize::Fixed(1e-4))
        .with_k_tot(usize::MAX / 2)
        .with_k_avg(1)
        .with_check_step(false)
        .with_divergence_factor(1e300)
}
