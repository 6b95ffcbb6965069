//! The backends compiled into this binary, chosen by cargo feature (`ndarray`, `flex`, `wgpu`),
//! and picked at run time with `--backend`. Nothing below the CLI names a backend.

use burn::tensor::{Device, FloatDType};
use std::fmt;
use std::str::FromStr;

/// A compute backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Burn's ndarray CPU backend (f32, f64).
    Ndarray,
    /// Burn's flex CPU backend (f32, f64): the default where compiled in.
    Flex,
    /// Burn's wgpu GPU backend (f32).
    Wgpu,
}

/// Every backend with the cargo feature that compiles it in.
const ALL: [(Backend, &str, bool); 3] = [
    (Backend::Ndarray, "ndarray", cfg!(feature = "ndarray")),
    (Backend::Flex, "flex", cfg!(feature = "flex")),
    (Backend::Wgpu, "wgpu", cfg!(feature = "wgpu")),
];

impl Backend {
    /// The default: flex where compiled in (the faster CPU backend, `BENCHMARKS.md`), else ndarray,
    /// else wgpu.
    pub fn default_backend() -> Self {
        [Backend::Flex, Backend::Ndarray, Backend::Wgpu]
            .into_iter()
            .find(|b| b.compiled_in())
            .expect("at least one backend feature is enabled")
    }

    /// Whether its feature was enabled at build time.
    pub fn compiled_in(self) -> bool {
        ALL.iter().any(|(b, _, on)| *b == self && *on)
    }

    /// Names of the compiled-in backends.
    pub fn available() -> Vec<&'static str> {
        ALL.iter().filter(|(_, _, on)| *on).map(|(_, n, _)| *n).collect()
    }

    /// A fresh autodiff device of this backend in `dtype` (once per process).
    pub fn device(self, dtype: FloatDType) -> anyhow::Result<Device> {
        if self == Backend::Wgpu && dtype == FloatDType::F64 {
            anyhow::bail!("--dtype f64 is not supported on wgpu; use --dtype f32 or a CPU backend");
        }
        let device = match self {
            #[cfg(feature = "ndarray")]
            // Deprecated in Burn 0.22 in favour of flex; kept selectable (fastest large GEMM).
            #[allow(deprecated)]
            Backend::Ndarray => Device::ndarray(),
            #[cfg(feature = "flex")]
            Backend::Flex => Device::flex(),
            // Initialised explicitly so a machine without a GPU driver gets an error, not a panic.
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => Device::wgpu_options().init().map_err(|e| {
                anyhow::anyhow!(
                    "--backend wgpu: no usable adapter ({e}); install a Vulkan driver (on Debian: apt-get install \
                     mesa-vulkan-drivers for the CPU driver lavapipe) or pick --backend flex"
                )
            })?,
            #[allow(unreachable_patterns)]
            other => anyhow::bail!("backend {other} is not compiled in; rebuild with --features {other}"),
        };
        Ok(hessrank_core::device::with_float_dtype(device, dtype)?.autodiff())
    }
}

impl FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let Some((b, name, on)) = ALL.iter().find(|(_, n, _)| n.eq_ignore_ascii_case(s)) else {
            return Err(format!("unknown backend {s:?}; allowed: {}", ALL.map(|a| a.1).join(", ")));
        };
        if !on {
            return Err(format!(
                "backend {name} is not compiled in; rebuild with --features {name} (compiled in: {})",
                Backend::available().join(", ")
            ));
        }
        Ok(*b)
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(ALL.iter().find(|(b, _, _)| b == self).map(|a| a.1).unwrap_or("?"))
    }
}

/// The f64 device the exact Hessian is computed on: the run's own when it is f64, else a CPU
/// backend other than the run's (a device holds one dtype per process): flex, or ndarray when the
/// run is on flex.
pub fn f64_device(ctx: &crate::Ctx) -> anyhow::Result<burn::tensor::Device> {
    if ctx.dtype == FloatDType::F64 {
        return Ok(ctx.device.clone());
    }
    let other = [Backend::Flex, Backend::Ndarray].into_iter().find(|b| *b != ctx.backend && b.compiled_in());
    let Some(b) = other else {
        anyhow::bail!(
            "the exact Hessian needs f64 and this {} run is f32 with no second CPU backend compiled in; \
             run with --dtype f64",
            ctx.backend
        )
    };
    println!("exact Hessian in f64 on {b} (the Langevin chains run in {:?} on {})", ctx.dtype, ctx.backend);
    b.device(FloatDType::F64)
}
