//! Counter-based Gaussian noise for iterative samplers: draw `k` of a chain is a pure function of
//! `(seed, stream, k, part)`, so it can be generated in parallel, ahead of time, or again after a
//! restart, and it is the same on every backend and thread count.
//!
//! [`SeededNoise`](crate::noise::SeededNoise) is one sequential generator, which is what a
//! dataset or an initial point needs, but the Langevin loop draws a fresh vector of every
//! parameter's size at every iteration (327,680 numbers per step for the d = 256 linear net):
//! drawn serially, that was a quarter of the step. Here every chunk of [`CHUNK`] numbers has its
//! own generator, so chunks are independent jobs and no generator state is carried between draws:
//! ChaCha8, keyed by (seed, draw, part) on the chain's stream, supplies each chunk's 256-bit seed,
//! and Xoshiro256++ (twice ChaCha8's speed per number here; 2²⁵⁶ − 1 period, passes BigCrush)
//! draws the chunk. The numbers are drawn in f64 (rand_distr's ziggurat) and rounded once to the
//! output dtype, so an f32 run sees exactly the f64 run's noise, rounded.

use burn::tensor::{DType, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

/// Numbers per independently seeded chunk.
pub const CHUNK: usize = 4096;

/// Key material that keeps these keys apart from any other use of the same seed ("hessrank").
const DOMAIN: u64 = 0x6b6e_6172_7373_6568;

/// Below this many numbers a draw is made on the calling thread (a parallel job costs more).
const PARALLEL_MIN: usize = 2 * CHUNK;

/// The noise source of one chain: `(seed, stream)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterNoise {
    seed: u64,
    stream: u64,
}

impl CounterNoise {
    /// The source for `(seed, stream)`; streams are independent sequences.
    pub fn new(seed: u64, stream: u64) -> Self {
        Self { seed, stream }
    }

    /// The generator of chunk `chunk` of part `part` of draw `draw`: Xoshiro256++ seeded with
    /// words 8·chunk … 8·chunk + 7 of the ChaCha8 stream keyed by (seed, draw, part, domain) on
    /// this source's stream number.
    fn chunk_rng(&self, draw: u64, part: u64, chunk: u64) -> Xoshiro256PlusPlus {
        let mut key = [0u8; 32];
        for (slot, word) in key.chunks_exact_mut(8).zip([self.seed, draw, part, DOMAIN]) {
            slot.copy_from_slice(&word.to_le_bytes());
        }
        let mut rng = ChaCha8Rng::from_seed(key);
        rng.set_stream(self.stream);
        rng.set_word_pos(u128::from(chunk) * 8);
        let mut state = [0u8; 32];
        rng.fill_bytes(&mut state);
        Xoshiro256PlusPlus::from_seed(state)
    }

    /// Fills `out` with part `part` of draw `draw`, converting each f64 number with `round`.
    /// Chunks run in parallel on Rayon's pool when `out` is large; the result does not depend on
    /// how they are scheduled.
    fn fill_with<T: Send>(&self, draw: u64, part: u64, out: &mut [T], round: impl Fn(f64) -> T + Sync) {
        let fill_chunk = |(c, chunk): (usize, &mut [T])| {
            let mut rng = self.chunk_rng(draw, part, c as u64);
            for x in chunk {
                *x = round(StandardNormal.sample(&mut rng));
            }
        };
        if out.len() >= PARALLEL_MIN && rayon::current_num_threads() > 1 {
            out.par_chunks_mut(CHUNK).enumerate().for_each(fill_chunk);
        } else {
            out.chunks_mut(CHUNK).enumerate().for_each(fill_chunk);
        }
    }

    /// Part `part` of draw `draw`: `n` standard-normal numbers in f64.
    pub fn normal_f64(&self, draw: u64, part: u64, n: usize) -> Vec<f64> {
        let mut out = vec![0.0; n];
        self.fill_with(draw, part, &mut out, |x| x);
        out
    }

    /// Part `part` of draw `draw`: `n` numbers in `dtype` (f32 is the f64 draw rounded; any
    /// other dtype gets f64, which Burn converts on upload).
    pub fn normals(&self, draw: u64, part: u64, n: usize, dtype: DType) -> HostNormals {
        match dtype {
            DType::F32 => {
                let mut out = vec![0f32; n];
                self.fill_with(draw, part, &mut out, |x| x as f32);
                HostNormals::F32(out)
            }
            _ => HostNormals::F64(self.normal_f64(draw, part, n)),
        }
    }
}

/// Standard-normal numbers on the host in the float type they will be uploaded in.
#[derive(Debug, Clone, PartialEq)]
pub enum HostNormals {
    /// Single precision.
    F32(Vec<f32>),
    /// Double precision.
    F64(Vec<f64>),
}

impl HostNormals {
    /// `(self + other) · 0.5` elementwise, rounded in this float type as the same tensor
    /// operations would round it (the Leimkuhler–Matthews noise (ξ_k + ξ_{k+1})/2).
    ///
    /// # Panics
    /// If the two differ in float type or length.
    pub fn midpoint(&self, other: &Self) -> Self {
        fn mid<T: Copy + std::ops::Add<Output = T> + std::ops::Mul<Output = T>>(x: &[T], y: &[T], half: T) -> Vec<T> {
            assert_eq!(x.len(), y.len(), "midpoint of {} and {} numbers", x.len(), y.len());
            x.iter().zip(y).map(|(&a, &b)| (a + b) * half).collect()
        }
        match (self, other) {
            (Self::F32(x), Self::F32(y)) => Self::F32(mid(x, y, 0.5)),
            (Self::F64(x), Self::F64(y)) => Self::F64(mid(x, y, 0.5)),
            _ => panic!("midpoint of f32 and f64 noise"),
        }
    }

    /// The numbers as a flat tensor's data.
    pub fn into_data(self) -> TensorData {
        match self {
            Self::F32(v) => {
                let n = v.len();
                TensorData::new(v, [n])
            }
            Self::F64(v) => {
                let n = v.len();
                TensorData::new(v, [n])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference: one sequential generator per chunk, as the definition says.
    fn by_definition(src: &CounterNoise, draw: u64, part: u64, n: usize) -> Vec<f64> {
        (0..n.div_ceil(CHUNK))
            .flat_map(|c| {
                let mut rng = src.chunk_rng(draw, part, c as u64);
                let len = CHUNK.min(n - c * CHUNK);
                (0..len).map(move |_| StandardNormal.sample(&mut rng)).collect::<Vec<f64>>()
            })
            .collect()
    }

    #[test]
    fn parallel_draw_equals_the_chunkwise_definition_on_any_pool() {
        let src = CounterNoise::new(11, 3);
        let n = 5 * CHUNK + 123;
        let reference = by_definition(&src, 7, 2, n);
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let got = pool.install(|| src.normal_f64(7, 2, n));
            assert_eq!(got, reference, "{threads} threads");
        }
        // f32 is exactly the f64 draw rounded.
        let HostNormals::F32(f32s) = src.normals(7, 2, n, DType::F32) else { panic!("f32 requested") };
        assert!(f32s.iter().zip(&reference).all(|(a, b)| *a == *b as f32));
        assert_eq!(src.normals(7, 2, n, DType::F64), HostNormals::F64(reference));
    }

    #[test]
    fn midpoint_is_the_halved_sum_in_each_float_type() {
        let (x, y) = (HostNormals::F32(vec![1.0, 0.1, -3.0]), HostNormals::F32(vec![2.0, 0.2, 1e-8]));
        assert_eq!(x.midpoint(&y), HostNormals::F32(vec![1.5, (0.1f32 + 0.2f32) * 0.5, (-3.0f32 + 1e-8f32) * 0.5]));
        let (x, y) = (HostNormals::F64(vec![0.1, 4.0]), HostNormals::F64(vec![0.2, -5.0]));
        assert_eq!(x.midpoint(&y), HostNormals::F64(vec![0.15000000000000002, -0.5]));
    }

    #[test]
    fn draws_parts_streams_and_seeds_are_distinct_and_standard_normal() {
        let n = 3 * CHUNK;
        let base = CounterNoise::new(5, 0).normal_f64(0, 0, n);
        for other in [
            CounterNoise::new(5, 0).normal_f64(1, 0, n),
            CounterNoise::new(5, 0).normal_f64(0, 1, n),
            CounterNoise::new(5, 1).normal_f64(0, 0, n),
            CounterNoise::new(6, 0).normal_f64(0, 0, n),
        ] {
            // Independent N(0,1) vectors: the sample correlation is O(1/√n) ≈ 0.009.
            let corr = base.iter().zip(&other).map(|(a, b)| a * b).sum::<f64>() / n as f64;
            assert!(corr.abs() < 0.05, "correlation {corr}");
            assert_ne!(base[..8], other[..8]);
        }
        // Chunks of one draw are independent too: neighbouring chunks do not repeat.
        assert_ne!(base[..CHUNK], base[CHUNK..2 * CHUNK]);
        let mean = base.iter().sum::<f64>() / n as f64;
        let var = base.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let kurt = base.iter().map(|x| (x - mean).powi(4)).sum::<f64>() / n as f64 / var.powi(2);
        assert!(mean.abs() < 4.0 / (n as f64).sqrt(), "mean {mean}");
        assert!((var - 1.0).abs() < 0.05, "variance {var}");
        assert!((kurt - 3.0).abs() < 0.25, "kurtosis {kurt}");
    }
}
