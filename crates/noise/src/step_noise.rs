//! Counter-based Gaussian noise for iterative samplers: draw `k` of a chain is a pure function of
//! `(seed, stream, k, part)`, so it can be generated in parallel, ahead of time, or again after a
//! restart, and it is the same on every backend and thread count.
//!
//! [`SeededNoise`](crate::noise::SeededNoise) is one sequential generator, which is what a
//! dataset or an initial point needs, but the Langevin loop draws a fresh vector of every
//! parameter's size at every iteration (327,680 numbers per step for the d = 256 linear net):
//! drawn serially, that was a quarter of the step. Here every chunk of [`CHUNK`] numbers has its
//! own generator, so chunks are independent jobs and no generator state is carried between draws:
//! ChaCha8, keyed by (seed, draw, part) on the chain's stream, supplies each chunk's seed, and
//! [`LaneNormals`] (eight Xoshiro256++ lanes feeding a vectorised ziggurat; 2²⁵⁶ − 1 period per
//! lane, passes BigCrush) draws the chunk. The numbers are drawn in f64 and rounded once to the
//! output dtype, so an f32 run sees exactly the f64 run's noise, rounded.

use crate::lane_normals::{LaneNormals, SEED_BYTES};
use burn::tensor::{DType, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Numbers per independently seeded chunk.
pub const CHUNK: usize = 4096;

/// Key material that keeps these keys apart from any other use of the same seed ("hessrank").
const DOMAIN: u64 = 0x6b6e_6172_7373_6568;

/// Numbers drawn into a stack buffer at a time before they are emitted (a multiple of the lane
/// count, so the pieces continue one sequence).
const BLOCK: usize = 256;

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

    /// The stream number this source was made for.
    pub fn stream(&self) -> u64 {
        self.stream
    }

    /// The generator of chunk `chunk` of part `part` of draw `draw`: [`LaneNormals`] seeded with
    /// the [`SEED_BYTES`] bytes from 32-bit word 72·chunk of the ChaCha8 stream keyed by
    /// (seed, draw, part, domain) on this source's stream number.
    fn chunk_normals(&self, draw: u64, part: u64, chunk: u64) -> LaneNormals {
        let mut key = [0u8; 32];
        for (slot, word) in key.chunks_exact_mut(8).zip([self.seed, draw, part, DOMAIN]) {
            slot.copy_from_slice(&word.to_le_bytes());
        }
        let mut rng = ChaCha8Rng::from_seed(key);
        rng.set_stream(self.stream);
        rng.set_word_pos(u128::from(chunk) * (SEED_BYTES / 4) as u128);
        let mut seed = [0u8; SEED_BYTES];
        rng.fill_bytes(&mut seed);
        LaneNormals::from_seed(&seed)
    }

    /// Part `part` of draw `draw` as `n` new numbers: number i is `emit(x_i, &mut beside[i])`,
    /// x_i the f64 draw. `beside` is a slice the pass updates alongside (the previous draw, for
    /// the Leimkuhler–Matthews midpoint; `[()]` otherwise), so a fused use reads and writes each
    /// cache line once. Chunks run in parallel on Rayon's pool when `n` is large; the result does
    /// not depend on how they are scheduled.
    fn draw_with<T: Send, A: Send>(
        &self,
        draw: u64,
        part: u64,
        beside: &mut [A],
        emit: impl Fn(f64, &mut A) -> T + Sync,
    ) -> Vec<T> {
        let n = beside.len();
        // No zero-fill: every slot is written below before the length is set (the buffer is
        // 2.6 MB per parameter of the d = 256 net, and zeroing it was a pass of its own).
        let mut out: Vec<T> = Vec::with_capacity(n);
        let fill_chunk = |(c, (out, beside)): (usize, (&mut [MaybeUninit<T>], &mut [A]))| {
            let mut normals = self.chunk_normals(draw, part, c as u64);
            let mut buf = [0.0f64; BLOCK];
            for (out, beside) in out.chunks_mut(BLOCK).zip(beside.chunks_mut(BLOCK)) {
                let buf = &mut buf[..out.len()];
                normals.fill(buf);
                for ((slot, aux), &x) in out.iter_mut().zip(beside).zip(buf.iter()) {
                    slot.write(emit(x, aux));
                }
            }
        };
        let spare = &mut out.spare_capacity_mut()[..n];
        if n >= PARALLEL_MIN && rayon::current_num_threads() > 1 {
            spare.par_chunks_mut(CHUNK).zip(beside.par_chunks_mut(CHUNK)).enumerate().for_each(fill_chunk);
        } else {
            spare.chunks_mut(CHUNK).zip(beside.chunks_mut(CHUNK)).enumerate().for_each(fill_chunk);
        }
        // SAFETY: the chunks of `spare` cover its n slots and each slot was written once.
        unsafe { out.set_len(n) };
        out
    }

    /// Part `part` of draw `draw`: `n` standard-normal numbers in f64.
    pub fn normal_f64(&self, draw: u64, part: u64, n: usize) -> Vec<f64> {
        self.draw_with(draw, part, &mut vec![(); n], |x, _| x)
    }

    /// Part `part` of draw `draw`: `n` numbers in `dtype` (f32 is the f64 draw rounded; any
    /// other dtype gets f64, which Burn converts on upload).
    pub fn normals(&self, draw: u64, part: u64, n: usize, dtype: DType) -> HostNormals {
        match dtype {
            DType::F32 => HostNormals::F32(self.draw_with(draw, part, &mut vec![(); n], |x, _| x as f32)),
            _ => HostNormals::F64(self.normal_f64(draw, part, n)),
        }
    }

    /// The Leimkuhler–Matthews noise in one pass: draws part `part` of draw `draw` (ξ_{k+1}) in
    /// `xi`'s float type and returns it, and turns `xi` (ξ_k) into `(ξ_k + ξ_{k+1}) · 0.5`,
    /// rounded in that float type as the same tensor operations would round it.
    pub fn next_with_midpoint(&self, draw: u64, part: u64, xi: &mut HostNormals) -> HostNormals {
        match xi {
            HostNormals::F32(prev) => HostNormals::F32(self.draw_with(draw, part, prev, |x, p| {
                let x = x as f32;
                *p = (*p + x) * 0.5;
                x
            })),
            HostNormals::F64(prev) => HostNormals::F64(self.draw_with(draw, part, prev, |x, p| {
                *p = (*p + x) * 0.5;
                x
            })),
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

    /// The reference: one sequential generator per chunk, as the definition says, filled in one go.
    fn by_definition(src: &CounterNoise, draw: u64, part: u64, n: usize) -> Vec<f64> {
        (0..n.div_ceil(CHUNK))
            .flat_map(|c| {
                let mut out = vec![0.0; CHUNK.min(n - c * CHUNK)];
                src.chunk_normals(draw, part, c as u64).fill_portable(&mut out);
                out
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
    fn fused_midpoint_is_the_next_draw_and_the_halved_sum_in_each_float_type() {
        let src = CounterNoise::new(3, 1);
        let n = 3 * CHUNK + 17;
        for dtype in [DType::F32, DType::F64] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
            let mut xi = src.normals(4, 1, n, dtype);
            let next = pool.install(|| src.next_with_midpoint(5, 1, &mut xi));
            assert_eq!(next, src.normals(5, 1, n, dtype), "{dtype:?}: ξ_(k+1) is draw 5");
            match (src.normals(4, 1, n, dtype), &next, &xi) {
                (HostNormals::F32(p), HostNormals::F32(x), HostNormals::F32(z)) => {
                    assert!(p.iter().zip(x).zip(z).all(|((p, x), z)| *z == (*p + *x) * 0.5f32));
                }
                (HostNormals::F64(p), HostNormals::F64(x), HostNormals::F64(z)) => {
                    assert!(p.iter().zip(x).zip(z).all(|((p, x), z)| *z == (*p + *x) * 0.5));
                }
                _ => panic!("{dtype:?}: float types differ"),
            }
        }
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
