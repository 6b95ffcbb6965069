//! Standard normals eight at a time: eight Xoshiro256++ generators stepped in lock step feed the
//! ziggurat's fast path as one vector pass, and the ≈ 1 % of numbers that miss it finish the
//! ziggurat on a ninth, scalar generator.
//!
//! Written by hand because rand_distr's ziggurat takes one number at a time from one generator:
//! the generator's dependency chain and the table test then run serially (2.4–3.8 ns per f64 on
//! this project's machines, a tenth of the d = 256 linear net's Langevin step), and its tables are
//! private (copied to `ziggurat_tables.rs`). The algorithm is rand_distr's (ZIGNOR, 256
//! layers, the same tables and the same tail and wedge tests), so each number is an exact
//! standard-normal draw; only the supply of random words differs. The definition is plain Rust over
//! `[u64; 8]` arrays, with an AVX-512 twin picked at run time; both give the same numbers bit for
//! bit, since the fast path uses only integer operations and IEEE multiply, subtract and compare,
//! which every instruction set rounds alike (tested).

use crate::ziggurat_tables::{F, R, X};
use rand::distr::Open01;
use rand::{Rng, RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Generators stepped together (one 512-bit vector of u64).
pub const LANES: usize = 8;

/// Bytes of seed: 32 for each lane's Xoshiro256++, then 32 for the spare generator.
pub const SEED_BYTES: usize = 32 * (LANES + 1);

/// The exponent bits of [2, 4): a 52-bit fraction `f` gives 2 + f·2⁻⁵¹ (as rand's
/// `into_float_with_exponent(1)`), and subtracting 3 gives rand_distr's u ∈ [−1, 1).
const EXPONENT_TWO: u64 = 1024 << 52;

/// Eight Xoshiro256++ lanes (their states as four [`LANES`]-wide words) and the spare generator
/// that finishes the numbers the ziggurat's fast path rejects.
///
/// Number j of a fill sequence is made from lane `j % 8`'s `(j / 8)`-th word: accepted by the fast
/// path (|u·X[i]| < X[i+1]) it is u·X[i]; otherwise rand_distr's remaining steps (the tail for the
/// base layer, else the wedge test, else a fresh draw) run on the spare generator, in order of j.
#[derive(Debug, Clone)]
pub struct LaneNormals {
    s: [[u64; LANES]; 4],
    spare: Xoshiro256PlusPlus,
}

impl LaneNormals {
    /// The generator for `seed`: lane l's Xoshiro256++ state is bytes 32·l … 32·l + 31 read as four
    /// little-endian words (as `Xoshiro256PlusPlus::from_seed` reads them, with its fallback for an
    /// all-zero seed), the spare generator's the last 32 bytes.
    pub fn from_seed(seed: &[u8; SEED_BYTES]) -> Self {
        let lanes: [[u8; 32]; LANES] = std::array::from_fn(|lane| lane_seed(seed, lane));
        let s = std::array::from_fn(|w| {
            std::array::from_fn(|lane| u64::from_le_bytes(lanes[lane][8 * w..8 * w + 8].try_into().expect("8 bytes")))
        });
        let spare = Xoshiro256PlusPlus::from_seed(*seed[32 * LANES..].first_chunk::<32>().expect("32 bytes"));
        Self { s, spare }
    }

    /// Fills `out` with the next `out.len()` numbers of the sequence. A length that is not a
    /// multiple of [`LANES`] ends the sequence: the last step's unused lanes are discarded.
    pub fn fill(&mut self, out: &mut [f64]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked just above).
            return unsafe { self.fill_avx512(out) };
        }
        self.fill_portable(out)
    }

    /// [`LaneNormals::fill`] in plain Rust, one lane after another: the definition, which the
    /// vector path must equal bit for bit.
    pub fn fill_portable(&mut self, out: &mut [f64]) {
        let [mut s0, mut s1, mut s2, mut s3] = self.s;
        for block in out.chunks_mut(LANES) {
            let mut w = [0u64; LANES];
            for l in 0..LANES {
                w[l] = s0[l].wrapping_add(s3[l]).rotate_left(23).wrapping_add(s0[l]);
                let t = s1[l] << 17;
                s2[l] ^= s0[l];
                s3[l] ^= s1[l];
                s1[l] ^= s2[l];
                s0[l] ^= s3[l];
                s2[l] ^= t;
                s3[l] = s3[l].rotate_left(45);
            }
            for (slot, &w) in block.iter_mut().zip(&w) {
                let (i, u) = layer_and_u(w);
                let x = u * X[i];
                *slot = if x.abs() < X[i + 1] { x } else { finish(w, &mut self.spare) };
            }
        }
        self.s = [s0, s1, s2, s3];
    }

    /// [`LaneNormals::fill_portable`] with the eight lanes in one AVX-512 register each step:
    /// Xoshiro256++ in 64-bit integer lanes, the table look-ups as gathers, and the fast path's
    /// test as a mask; the missed lanes (≈ 1 %) are finished in lane order as in the definition.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn fill_avx512(&mut self, out: &mut [f64]) {
        use std::arch::x86_64::*;
        // SAFETY (all loads, stores and gathers below): each state row and `words` hold 8 u64,
        // each full block 8 f64, and the gathered indices are ≤ 255 and ≤ 256 in 257-entry tables.
        let [mut s0, mut s1, mut s2, mut s3] = self.s.map(|row| unsafe { _mm512_loadu_si512(row.as_ptr().cast()) });
        let (low_byte, exponent, three) =
            (_mm512_set1_epi64(0xff), _mm512_set1_epi64(EXPONENT_TWO as i64), _mm512_set1_pd(3.0));
        let mut words = [0u64; LANES];
        let mut values = [0.0f64; LANES];
        for block in out.chunks_mut(LANES) {
            let w = _mm512_add_epi64(_mm512_rol_epi64::<23>(_mm512_add_epi64(s0, s3)), s0);
            let t = _mm512_slli_epi64::<17>(s1);
            s2 = _mm512_xor_si512(s2, s0);
            s3 = _mm512_xor_si512(s3, s1);
            s1 = _mm512_xor_si512(s1, s2);
            s0 = _mm512_xor_si512(s0, s3);
            s2 = _mm512_xor_si512(s2, t);
            s3 = _mm512_rol_epi64::<45>(s3);

            let i = _mm512_and_si512(w, low_byte);
            let u = _mm512_sub_pd(_mm512_castsi512_pd(_mm512_or_si512(_mm512_srli_epi64::<12>(w), exponent)), three);
            // SAFETY: `i` is masked to its low byte (0..=255) and X has 257 entries, so both gathers
            // (at i and i + 1) stay inside X.
            let (x_i, x_next) =
                unsafe { (_mm512_i64gather_pd::<8>(i, X.as_ptr()), _mm512_i64gather_pd::<8>(i, X.as_ptr().add(1))) };
            let x = _mm512_mul_pd(u, x_i);
            let missed = _mm512_cmp_pd_mask::<_CMP_GE_OQ>(_mm512_abs_pd(x), x_next);
            if block.len() == LANES {
                // SAFETY: the block holds LANES f64s, the 8 lanes stored.
                unsafe { _mm512_storeu_pd(block.as_mut_ptr(), x) };
            } else {
                // SAFETY: `values` holds LANES f64s, the 8 lanes stored.
                unsafe { _mm512_storeu_pd(values.as_mut_ptr(), x) };
                block.copy_from_slice(&values[..block.len()]);
            }
            if missed != 0 {
                // SAFETY: `words` holds LANES u64s, the 64 bytes stored.
                unsafe { _mm512_storeu_si512(words.as_mut_ptr().cast(), w) };
                for (lane, slot) in block.iter_mut().enumerate() {
                    if missed & (1 << lane) != 0 {
                        *slot = finish(words[lane], &mut self.spare);
                    }
                }
            }
        }
        for (row, v) in self.s.iter_mut().zip([s0, s1, s2, s3]) {
            // SAFETY: each state row holds LANES u64s, the 64 bytes stored.
            unsafe { _mm512_storeu_si512(row.as_mut_ptr().cast(), v) };
        }
    }
}

/// Lane `lane`'s 32 seed bytes, with Xoshiro256++'s replacement for an all-zero seed.
fn lane_seed(seed: &[u8; SEED_BYTES], lane: usize) -> [u8; 32] {
    let bytes: [u8; 32] = seed[32 * lane..32 * lane + 32].try_into().expect("32 bytes");
    if bytes.iter().any(|&b| b != 0) {
        return bytes;
    }
    // rand_xoshiro seeds an all-zero seed from SplitMix64(0); this does the same.
    let mut fallback = [0u8; 32];
    rand_xoshiro::SplitMix64::seed_from_u64(0).fill_bytes(&mut fallback);
    fallback
}

/// The layer index and u ∈ [−1, 1) of a word, as rand_distr's ziggurat takes them.
#[inline(always)]
fn layer_and_u(w: u64) -> (usize, f64) {
    ((w & 0xff) as usize, f64::from_bits((w >> 12) | EXPONENT_TWO) - 3.0)
}

/// The rest of rand_distr's ziggurat for a word that missed the fast path: the tail beyond R for
/// the base layer, the wedge test for the others, and a fresh draw when the wedge test rejects.
#[cold]
fn finish(w: u64, rng: &mut Xoshiro256PlusPlus) -> f64 {
    let (i, u) = layer_and_u(w);
    let x = u * X[i];
    if i == 0 {
        return tail(u, rng);
    }
    if F[i + 1] + (F[i] - F[i + 1]) * rng.random::<f64>() < (-x * x / 2.0).exp() {
        return x;
    }
    StandardNormal.sample(rng)
}

/// A draw from the normal's tail beyond R, on u's side (Marsaglia's method, as rand_distr).
fn tail(u: f64, rng: &mut Xoshiro256PlusPlus) -> f64 {
    let (mut x, mut y) = (1.0f64, 0.0f64);
    while -2.0 * y < x * x {
        let (a, b): (f64, f64) = (rng.sample(Open01), rng.sample(Open01));
        x = a.ln() / R;
        y = b.ln();
    }
    if u < 0.0 { x - R } else { R - x }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(k: u8) -> [u8; SEED_BYTES] {
        std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(k))
    }

    /// The sequence by its definition: one rand_xoshiro generator per lane, called in the order
    /// of j, each word through rand_distr's steps.
    fn by_definition(seed: &[u8; SEED_BYTES], n: usize) -> Vec<f64> {
        let mut lanes: Vec<Xoshiro256PlusPlus> =
            (0..LANES).map(|l| Xoshiro256PlusPlus::from_seed(seed[32 * l..32 * l + 32].try_into().unwrap())).collect();
        let mut spare = Xoshiro256PlusPlus::from_seed(seed[32 * LANES..].try_into().unwrap());
        (0..n)
            .map(|j| {
                let w = lanes[j % LANES].next_u64();
                let (i, u) = layer_and_u(w);
                let x = u * X[i];
                if x.abs() < X[i + 1] { x } else { finish(w, &mut spare) }
            })
            .collect()
    }

    #[test]
    fn every_path_equals_the_lane_by_lane_definition() {
        for (k, n) in [(1, 4096), (2, 8 * 37 + 5), (3, 3)] {
            let s = seed(k);
            let expected = by_definition(&s, n);
            let mut a = vec![0.0; n];
            LaneNormals::from_seed(&s).fill(&mut a);
            assert_eq!(a, expected, "dispatched path, n = {n}");
            let mut b = vec![0.0; n];
            LaneNormals::from_seed(&s).fill_portable(&mut b);
            assert_eq!(b, expected, "portable path, n = {n}");
            // Filling in pieces of a multiple of LANES continues the same sequence.
            if n > 64 {
                let mut c = vec![0.0; n];
                let mut g = LaneNormals::from_seed(&s);
                let (head, rest) = c.split_at_mut(64);
                g.fill(head);
                g.fill(rest);
                assert_eq!(c, expected, "in two pieces, n = {n}");
            }
        }
    }

    #[test]
    fn an_all_zero_lane_seed_gets_xoshiros_fallback() {
        let mut s = seed(4);
        s[32..64].fill(0);
        let mut got = vec![0.0; 64];
        LaneNormals::from_seed(&s).fill(&mut got);
        assert_eq!(got, by_definition(&s, 64));
    }

    /// Φ, the standard normal CDF.
    fn phi(x: f64) -> f64 {
        0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
    }

    #[test]
    fn numbers_are_standard_normal_in_the_body_wedges_and_tail() {
        // 2²² numbers: the Kolmogorov–Smirnov distance to Φ is ≈ 0.87/√n ≈ 4e-4 for exact draws
        // (1.95/√n ≈ 1e-3 at the 0.1 % level); a ziggurat that skipped its wedges or tail would
        // be off by the ≈ 1 % of mass they carry.
        let n = 1 << 22;
        let mut x = vec![0.0; n];
        LaneNormals::from_seed(&seed(9)).fill(&mut x);
        x.sort_by(f64::total_cmp);
        let ks = x
            .iter()
            .enumerate()
            .map(|(j, &v)| {
                let p = phi(v);
                (p - j as f64 / n as f64).abs().max(((j + 1) as f64 / n as f64 - p).abs())
            })
            .fold(0.0, f64::max);
        assert!(ks < 1.95 / (n as f64).sqrt(), "KS distance {ks:e}");
        // The tail beyond R (drawn by `tail`): expected 2(1 − Φ(R)) n ≈ 1,083, sd ≈ 33.
        let beyond = x.iter().filter(|v| v.abs() > R).count() as f64;
        let expected = 2.0 * (1.0 - phi(R)) * n as f64;
        assert!((beyond - expected).abs() < 5.0 * expected.sqrt(), "{beyond} beyond R, expected {expected:.0}");
        // The wedges: the mass between each of a few layers' abscissae matches Φ within 5 sd.
        for (lo, hi) in [(X[3], X[2]), (X[40], X[39]), (X[200], X[199]), (X[255], X[254])] {
            let count = x.iter().filter(|v| v.abs() >= lo && v.abs() < hi).count() as f64;
            let p = 2.0 * (phi(hi) - phi(lo));
            let sd = (n as f64 * p * (1.0 - p)).sqrt();
            assert!((count - p * n as f64).abs() < 5.0 * sd, "[{lo}, {hi}): {count} against {:.0}", p * n as f64);
        }
    }
}
