//! Dense matrix products on host memory: large ones split into fixed column blocks that run as
//! independent single-threaded `gemm` calls on Rayon's pool, tiny ones as plain loops.
//!
//! Flex hands a large product to the `gemm` crate with `Parallelism::Rayon`, which opens a parallel
//! region per packing step and per depth block; on small machines each region is a thread
//! wake-up, which cost much of the second thread's gain (`BENCHMARKS.md`). Here
//! the output's columns are cut into blocks of [`BLOCK`] (a fixed split, so the numbers do not depend
//! on the thread count) and each block is one `gemm` call on one thread: one parallel region per
//! product. The `gemm` crate does the arithmetic; only the split is ours.

use rayon::prelude::*;

/// Output columns per block (one single-threaded `gemm` call each).
pub const BLOCK: usize = 128;

/// The largest product, in multiply-adds m·n·k, computed by [`small_matmul`]'s loops instead of
/// `gemm`. Below it the `gemm` crate's fixed cost dominates: every call allocates and frees an
/// aligned scratch buffer (`dyn_stack::MemBuffer`, which also sends glibc through
/// `malloc_consolidate`) and dispatches on the size, which for the smallest linear nets cost more
/// than the multiply-adds themselves. The line is where the loops stop winning (measured in
/// `BENCHMARKS.md`).
pub const SMALL_MAX: usize = 16 * 16 * 16;

/// The element types the product is computed for.
pub trait GemmElement:
    Copy + Send + Sync + Default + 'static + std::ops::Mul<Output = Self> + std::ops::Add<Output = Self>
{
    /// 0 (the weight of the discarded destination).
    const ZERO: Self;
    /// 1 (the weight of the product).
    const ONE: Self;
}

impl GemmElement for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
}

impl GemmElement for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
}

/// A read-only strided matrix view: element (i, j) is at `data[offset + i·rs + j·cs]`.
#[derive(Debug, Clone, Copy)]
pub struct Strided<'a, E> {
    /// The storage the view indexes into.
    pub data: &'a [E],
    /// Index of element (0, 0).
    pub offset: usize,
    /// Row stride (≥ 0).
    pub rs: usize,
    /// Column stride (≥ 0).
    pub cs: usize,
}

impl<E> Strided<'_, E> {
    /// Whether every element of an `rows` × `cols` view lies inside `data`.
    fn fits(&self, rows: usize, cols: usize) -> bool {
        rows == 0 || cols == 0 || self.offset + (rows - 1) * self.rs + (cols - 1) * self.cs < self.data.len()
    }
}

/// A raw output pointer that blocks of disjoint columns write through.
#[derive(Clone, Copy)]
struct OutPtr<E>(*mut E);
// SAFETY: every block writes a disjoint set of columns of the output, which outlives the scope.
unsafe impl<E> Send for OutPtr<E> {}
unsafe impl<E> Sync for OutPtr<E> {}

impl<E> OutPtr<E> {
    fn at(self, offset: usize) -> *mut E {
        // SAFETY: callers pass offsets inside the output buffer.
        unsafe { self.0.add(offset) }
    }
}

/// The row-major [m, n] product `a · b` of the [m, k] view `a` and the [k, n] view `b`.
///
/// # Panics
/// If a view does not fit its storage.
pub fn matmul<E: GemmElement>(m: usize, n: usize, k: usize, a: Strided<'_, E>, b: Strided<'_, E>) -> Vec<E> {
    assert!(a.fits(m, k) && b.fits(k, n), "matmul: a [{m}, {k}] or b [{k}, {n}] does not fit its storage");
    if m == 0 || n == 0 || k == 0 {
        return vec![E::ZERO; m * n];
    }
    if m * n * k <= SMALL_MAX {
        return small_matmul(m, n, k, a, b);
    }
    // No zero-fill: `gemm` with `read_dst = false` writes every element of each block, and the
    // blocks cover every column (zeroing a 256 × 256 f64 output was a pass of its own).
    let mut out: Vec<E> = Vec::with_capacity(m * n);
    let dst = OutPtr(out.as_mut_ptr());
    let block = |j: usize| {
        let cols = BLOCK.min(n - j * BLOCK);
        let col0 = j * BLOCK;
        // SAFETY: the views fit their storage (checked above); block j writes columns
        // col0 .. col0 + cols of every row of `out`, disjoint from every other block.
        unsafe {
            gemm::gemm(
                m,
                cols,
                k,
                dst.at(col0),
                1,
                n as isize,
                false,
                a.data.as_ptr().add(a.offset),
                a.cs as isize,
                a.rs as isize,
                b.data.as_ptr().add(b.offset + col0 * b.cs),
                b.cs as isize,
                b.rs as isize,
                E::ZERO,
                E::ONE,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
    };
    let blocks = n.div_ceil(BLOCK);
    if blocks > 1 && rayon::current_num_threads() > 1 {
        (0..blocks).into_par_iter().for_each(block);
    } else {
        (0..blocks).for_each(block);
    }
    // SAFETY: the blocks wrote all m · n elements (see above).
    unsafe { out.set_len(m * n) };
    out
}

/// The product of small views by the definition's loops, row by row: row i of the output is
/// Σ_p a[i, p] · b[p, ·], summed in the order p = 0, 1, …, k − 1 (one multiply and one add each,
/// no fused multiply-add). `b` is first copied into contiguous rows unless its rows already are,
/// so the innermost loop runs over contiguous memory and vectorises. The `gemm` crate does the
/// large products; this exists because its per-call setup costs more than a tiny product
/// (see [`SMALL_MAX`]).
pub fn small_matmul<E: GemmElement>(m: usize, n: usize, k: usize, a: Strided<'_, E>, b: Strided<'_, E>) -> Vec<E> {
    assert!(a.fits(m, k) && b.fits(k, n), "small_matmul: a [{m}, {k}] or b [{k}, {n}] does not fit its storage");
    let packed: Vec<E>;
    let (b_data, b_offset, b_rs) = if b.cs == 1 || n == 1 {
        (b.data, b.offset, b.rs)
    } else {
        let mut rows = Vec::with_capacity(k * n);
        for p in 0..k {
            rows.extend((0..n).map(|j| b.data[b.offset + p * b.rs + j * b.cs]));
        }
        packed = rows;
        (&packed[..], 0, n)
    };
    let mut out = vec![E::ZERO; m * n];
    let b = Strided { data: b_data, offset: b_offset, rs: b_rs, cs: 1 };
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F (checked just above).
        unsafe { rows_avx512(&mut out, n, k, a, b) };
        return out;
    }
    rows(&mut out, n, k, a, b);
    out
}

/// The loops of [`small_matmul`] (`b` with contiguous rows), compiled for AVX-512: the innermost
/// loop is then one or two vector operations at d = 8 or 16 (the default target has only SSE2).
/// The same additions and multiplications in the same order as [`rows`], so the same numbers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn rows_avx512<E: GemmElement>(out: &mut [E], n: usize, k: usize, a: Strided<'_, E>, b: Strided<'_, E>) {
    rows(out, n, k, a, b)
}

/// out[i, ·] = Σ_p a[i, p] · b[p, ·] for every row i of `out` (zeroed; `b` with contiguous rows).
/// The common widths run with the row's sums held in registers ([`rows_of`]).
#[inline(always)]
fn rows<E: GemmElement>(out: &mut [E], n: usize, k: usize, a: Strided<'_, E>, b: Strided<'_, E>) {
    match n {
        8 => rows_of::<E, 8>(out, k, a, b),
        16 => rows_of::<E, 16>(out, k, a, b),
        32 => rows_of::<E, 32>(out, k, a, b),
        _ => {
            for (i, row) in out.chunks_exact_mut(n).enumerate() {
                for p in 0..k {
                    let a_ip = a.data[a.offset + i * a.rs + p * a.cs];
                    let start = b.offset + p * b.rs;
                    for (o, &b_pj) in row.iter_mut().zip(&b.data[start..start + n]) {
                        *o = *o + a_ip * b_pj;
                    }
                }
            }
        }
    }
}

/// [`rows`] for rows of `N` columns: the N running sums of a row stay in registers over p (at
/// most four AVX-512 registers), where the general loop reloads and stores its row for each p.
#[inline(always)]
fn rows_of<E: GemmElement, const N: usize>(out: &mut [E], k: usize, a: Strided<'_, E>, b: Strided<'_, E>) {
    for (i, row) in out.chunks_exact_mut(N).enumerate() {
        let mut sums = [E::ZERO; N];
        for p in 0..k {
            let a_ip = a.data[a.offset + i * a.rs + p * a.cs];
            let start = b.offset + p * b.rs;
            let b_p: &[E; N] = b.data[start..start + N].try_into().expect("a row of N values");
            for j in 0..N {
                sums[j] = sums[j] + a_ip * b_p[j];
            }
        }
        row.copy_from_slice(&sums);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, in f64, for a view.
    fn reference(m: usize, n: usize, k: usize, a: Strided<'_, f64>, b: Strided<'_, f64>) -> Vec<f64> {
        let at = |v: &Strided<'_, f64>, i: usize, j: usize| v.data[v.offset + i * v.rs + j * v.cs];
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|p| at(&a, i, p) * at(&b, p, j)).sum();
            }
        }
        out
    }

    /// The loops sum in the definition's order, so they match it exactly, for every layout of
    /// the operands the backward pass hands them (plain, transposed, offset) and degenerate sizes.
    #[test]
    fn small_product_equals_the_definition_exactly_for_any_view() {
        for (m, n, k) in [(8, 8, 8), (16, 16, 16), (4, 32, 8), (5, 3, 7), (1, 9, 4), (6, 1, 5), (3, 4, 1)] {
            assert!(m * n * k <= SMALL_MAX);
            let a_data: Vec<f64> = (0..m * k + 3).map(|i| ((i * 37) % 101) as f64 / 50.0 - 1.0).collect();
            let b_data: Vec<f64> = (0..k * n + 2).map(|i| ((i * 53) % 97) as f64 / 40.0 - 1.2).collect();
            fn views(data: &[f64], rows: usize, cols: usize, offset: usize) -> [Strided<'_, f64>; 2] {
                [Strided { data, offset, rs: cols, cs: 1 }, Strided { data, offset, rs: 1, cs: rows }]
            }
            for a in views(&a_data, m, k, 3) {
                for b in views(&b_data, k, n, 2) {
                    let expected = reference(m, n, k, a, b);
                    assert_eq!(small_matmul(m, n, k, a, b), expected, "{:?}", (m, n, k, a.rs, b.rs));
                    assert_eq!(matmul(m, n, k, a, b), expected, "matmul routes {:?} to the loops", (m, n, k));
                }
            }
        }
    }

    #[test]
    fn blocked_product_equals_the_definition_for_plain_and_transposed_views_on_any_pool() {
        let (m, n, k) = (37, 3 * BLOCK + 5, 29);
        let a_data: Vec<f64> = (0..m * k + 3).map(|i| ((i * 37) % 101) as f64 / 50.0 - 1.0).collect();
        let b_data: Vec<f64> = (0..k * n + 2).map(|i| ((i * 53) % 97) as f64 / 40.0 - 1.2).collect();
        // a as a row-major [m, k] view at offset 3; b as the transpose of a row-major [n, k] matrix.
        let a = Strided { data: &a_data, offset: 3, rs: k, cs: 1 };
        let b = Strided { data: &b_data, offset: 2, rs: 1, cs: k };
        let expected = reference(m, n, k, a, b);
        let scale = expected.iter().fold(1.0_f64, |s, v| s.max(v.abs()));
        let mut results = Vec::new();
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let got = pool.install(|| matmul(m, n, k, a, b));
            let err = got.iter().zip(&expected).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max) / scale;
            assert!(err < 1e-14, "{threads} threads: relative error {err:e}");
            results.push(got);
        }
        assert!(results.windows(2).all(|w| w[0] == w[1]), "the product depends on the thread count");
    }
}
