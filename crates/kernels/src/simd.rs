//! Which SIMD instruction set the kernels run on: the best the CPU has, chosen at run time, over
//! `macerator` (every kernel of this crate is written once over its `Vector<S, T>` and compiled
//! for each instruction set it dispatches to).
//!
//! Why `macerator` rather than `pulp`: its vectors are generic over the element type, so each
//! kernel is one source for f32 and f64 (pulp has separate `f32s`/`f64s` methods); it is Burn
//! Flex's own SIMD layer, already built in this workspace with its AVX-512 backend (no build
//! time added); and it dispatches to AVX-512, AVX2, SSE4.2, NEON, SIMD128 and a scalar fallback.
//! pulp's one advantage is masked loads: the portable convolution does without them by reading
//! zero-padded planes, at the cost of copies that keep the hand-written masked AVX-512 tiles
//! faster on AVX-512 (see `direct`).

use macerator::{Arch, WithSimd};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

/// An instruction set the kernels can run on. On one machine the supported ones form a ladder
/// (x86-64: scalar < SSE4.2 < AVX2 < AVX-512; aarch64: scalar < NEON), ordered as declared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Path {
    /// macerator's scalar fallback: one value per "vector" (every CPU).
    Scalar = 0,
    /// x86-64-v2 (SSE4.2): 4 f32 / 2 f64 lanes, 16 registers, no fused multiply-add.
    Sse42 = 1,
    /// aarch64 NEON with FMA: 4 f32 / 2 f64 lanes, 32 registers.
    Neon = 2,
    /// x86-64-v3 (AVX2 + FMA): 8 f32 / 4 f64 lanes, 16 registers.
    Avx2 = 3,
    /// x86-64-v4 (AVX-512F/BW/DQ/VL): 16 f32 / 8 f64 lanes, 32 registers.
    Avx512 = 4,
}

/// Every path, slowest first.
const ALL: [Path; 5] = [Path::Scalar, Path::Sse42, Path::Neon, Path::Avx2, Path::Avx512];

impl Path {
    /// Whether this CPU can run `self`: macerator's detection (made once) names the best
    /// instruction set, and each level of the ladder includes the ones below it.
    pub fn is_supported(self) -> bool {
        let detected = *DETECTED;
        match self {
            Path::Scalar => true,
            Path::Neon => detected == Path::Neon,
            Path::Sse42 | Path::Avx2 | Path::Avx512 => detected != Path::Neon && self <= detected,
        }
    }

    /// Whether `self` is an instruction set of the architecture this build is for (the scalar
    /// fallback on every one).
    pub fn on_this_architecture(self) -> bool {
        match self {
            Path::Scalar => true,
            Path::Neon => cfg!(target_arch = "aarch64"),
            Path::Sse42 | Path::Avx2 | Path::Avx512 => cfg!(target_arch = "x86_64"),
        }
    }

    /// Every path this CPU supports, slowest first (the scalar fallback always).
    pub fn supported() -> Vec<Path> {
        ALL.into_iter().filter(|p| p.is_supported()).collect()
    }

    /// The fastest path this CPU supports.
    pub fn best_supported() -> Path {
        *Path::supported().last().expect("the scalar path is always supported")
    }

    /// The path the kernels take now: the best the CPU supports, capped by [`limit_path`] or,
    /// before any call of it, by the environment variable `HESSRANK_SIMD` (`avx512`, `avx2`,
    /// `sse4.2`, `neon` or `scalar`: for timing a slower instruction set on a faster CPU).
    ///
    /// # Panics
    /// If `HESSRANK_SIMD` names no path, or one of another architecture.
    pub fn current() -> Path {
        let cap = match LIMIT.load(Ordering::Relaxed) {
            UNSET => *ENV_LIMIT as u8,
            cap => cap,
        };
        ALL.into_iter().rev().find(|&p| p as u8 <= cap && p.is_supported()).unwrap_or(Path::Scalar)
    }

    /// Vector registers of the instruction set: what the register tiles are sized for.
    pub fn registers(self) -> usize {
        match self {
            Path::Avx512 | Path::Neon => 32,
            Path::Avx2 | Path::Sse42 | Path::Scalar => 16,
        }
    }

    /// macerator's name for this path (only called for a supported path).
    fn arch(self) -> Arch {
        match self {
            #[cfg(target_arch = "x86_64")]
            Path::Sse42 => Arch::V2,
            #[cfg(target_arch = "x86_64")]
            Path::Avx2 => Arch::V3,
            #[cfg(target_arch = "x86_64")]
            Path::Avx512 => Arch::V4,
            #[cfg(target_arch = "aarch64")]
            Path::Neon => Arch::NeonFma,
            _ => Arch::Scalar,
        }
    }
}

/// The best path macerator detects on this CPU, once.
static DETECTED: std::sync::LazyLock<Path> = std::sync::LazyLock::new(|| match Arch::detect() {
    #[cfg(target_arch = "x86_64")]
    Arch::V4 => Path::Avx512,
    #[cfg(target_arch = "x86_64")]
    Arch::V3 => Path::Avx2,
    #[cfg(target_arch = "x86_64")]
    Arch::V2 => Path::Sse42,
    #[cfg(target_arch = "aarch64")]
    Arch::NeonFma => Path::Neon,
    _ => Path::Scalar,
});

/// The cap set by [`limit_path`] (a `Path` as u8), or [`UNSET`].
static LIMIT: AtomicU8 = AtomicU8::new(UNSET);

/// [`LIMIT`] before any call of [`limit_path`].
const UNSET: u8 = u8::MAX;

/// The cap `HESSRANK_SIMD` names, read once ([`Path::Avx512`], no cap, when it is not set).
static ENV_LIMIT: std::sync::LazyLock<Path> = std::sync::LazyLock::new(|| match std::env::var("HESSRANK_SIMD") {
    Err(_) => Path::Avx512,
    Ok(name) => match Path::named(&name) {
        None => panic!("HESSRANK_SIMD={name}: expected one of avx512, avx2, sse4.2, neon, scalar"),
        // A cap from another architecture would quietly pick some other level of this ladder.
        Some(path) if !path.on_this_architecture() => {
            panic!("HESSRANK_SIMD={name}: {path:?} is not an instruction set of {}", std::env::consts::ARCH)
        }
        Some(path) => path,
    },
});

impl Path {
    /// The path of a name as `HESSRANK_SIMD` spells it.
    pub fn named(name: &str) -> Option<Path> {
        Some(match name.to_ascii_lowercase().as_str() {
            "avx512" | "avx-512" => Path::Avx512,
            "avx2" => Path::Avx2,
            "sse4.2" | "sse42" => Path::Sse42,
            "neon" => Path::Neon,
            "scalar" => Path::Scalar,
            _ => return None,
        })
    }
}

/// Caps the path every later kernel call in this process takes (for A/B timings and tests): the
/// best the CPU supports, but no faster than `cap`. `limit_path(Path::Avx512)` lifts the cap.
pub fn limit_path(cap: Path) {
    LIMIT.store(cap as u8, Ordering::Relaxed);
}

/// The kernel families whose calls are counted per path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// A direct convolution: forward, input gradient or weight gradient.
    Conv = 0,
    /// A BatchNorm pass: statistics, normalisation or backward.
    BatchNorm = 1,
    /// The fused Langevin update.
    Update = 2,
}

/// Calls per kernel family and path since the process started.
static CALLS: [[AtomicU64; ALL.len()]; 3] = [const { [const { AtomicU64::new(0) }; ALL.len()] }; 3];

/// How many calls of `kernel` ran on `path` since the process started: the evidence a test
/// needs that the fast path was taken.
pub fn calls(kernel: Kernel, path: Path) -> u64 {
    CALLS[kernel as usize][path as usize].load(Ordering::Relaxed)
}

/// The path for one call of `kernel`, counted.
pub(crate) fn take_path(kernel: Kernel) -> Path {
    let path = Path::current();
    CALLS[kernel as usize][path as usize].fetch_add(1, Ordering::Relaxed);
    path
}

/// Runs `op` compiled for `path`'s instruction set.
///
/// # Panics
/// If the CPU does not support `path`.
#[inline]
pub(crate) fn run<Op: WithSimd>(path: Path, op: Op) -> Op::Output {
    assert!(path.is_supported(), "the {path:?} kernels need a CPU that has {path:?}");
    // SAFETY: `path.arch()` names the instruction set of `path`, which the CPU was just checked
    // to support (macerator's own feature detection, cached after the first call).
    unsafe { path.arch().dispatch(op) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every name `HESSRANK_SIMD` accepts maps to its path, and others to none.
    #[test]
    fn paths_are_named_as_the_environment_spells_them() {
        let named = ["avx512", "AVX2", "sse4.2", "neon", "scalar"].map(Path::named);
        assert_eq!(named, [Path::Avx512, Path::Avx2, Path::Sse42, Path::Neon, Path::Scalar].map(Some));
        assert_eq!(Path::named("avx"), None);
        // Exactly one of NEON and the x86 levels belongs to any architecture this builds for.
        let x86 = [Path::Sse42, Path::Avx2, Path::Avx512].map(Path::on_this_architecture);
        assert!(Path::Scalar.on_this_architecture() && x86.iter().all(|&o| o == x86[0]));
        assert!(!(x86[0] && Path::Neon.on_this_architecture()), "{x86:?}");
        assert!(Path::supported().iter().all(|p| p.on_this_architecture()));
    }

    /// The ladder: the scalar path always, each supported path no faster than the best.
    #[test]
    fn the_supported_paths_form_a_ladder_up_to_the_best() {
        let supported = Path::supported();
        assert_eq!(supported[0], Path::Scalar);
        assert!(supported.windows(2).all(|w| w[0] < w[1]), "{supported:?}");
        assert_eq!(*supported.last().unwrap(), Path::best_supported());
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            assert!(supported.contains(&Path::Avx2), "{supported:?}");
        }
    }
}
