//! The backends compiled into this binary, chosen by cargo feature (`ndarray`, `flex`, `wgpu`).

use burn::tensor::Device;
use std::fmt;

/// A compute backend this binary may run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(dead_code)] // variants are picked by --backend once the CLI parses it
pub enum Backend {
    /// Burn's ndarray CPU backend.
    #[cfg(feature = "ndarray")]
    Ndarray,
    /// Burn's flex CPU backend.
    #[cfg(feature = "flex")]
    Flex,
}

impl Backend {
    /// The default CPU backend: flex where compiled in (faster on the DnCNN), else ndarray.
    pub fn default_cpu() -> Self {
        #[cfg(feature = "flex")]
        return Backend::Flex;
        #[cfg(all(not(feature = "flex"), feature = "ndarray"))]
        return Backend::Ndarray;
    }

    /// A fresh device of this backend (not yet autodiff, dtype not yet set).
    pub fn device(self) -> Device {
        match self {
            // Deprecated in Burn 0.22 in favour of flex, and still its fastest large GEMM.
            #[cfg(feature = "ndarray")]
            #[allow(deprecated)]
            Backend::Ndarray => Device::ndarray(),
            #[cfg(feature = "flex")]
            Backend::Flex => Device::flex(),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            #[cfg(feature = "ndarray")]
            Backend::Ndarray => "ndarray",
            #[cfg(feature = "flex")]
            Backend::Flex => "flex",
        };
        f.write_str(name)
    }
}
