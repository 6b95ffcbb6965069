//! The hessrank binaries' memory setting, for long runs of full-batch steps: a global allocator
//! that splits blocks by size, and glibc kept from unmapping freed buffers. Only binaries (the CLI,
//! the benchmarks, the timing tool) depend on this crate; the libraries leave the allocator to
//! their users.
#![warn(missing_docs)]

/// Makes glibc's allocator keep freed blocks up to 128 MiB in the heap instead of unmapping them.
///
/// Every Langevin step of the DnCNN allocates the same few activation buffers (megabytes each)
/// and frees them again. glibc serves such sizes with `mmap` and returns them to the kernel on
/// `free`, so each step paid fresh page faults and page zeroing for every buffer (the gain is
/// measured in `BENCHMARKS.md`). The cost is that the process keeps its peak heap until it exits. It only
/// changes where memory comes from, never a computed number. A no-op off glibc (mimalloc and
/// jemalloc for every block were tried instead, with no gain; [`SplitAllocator`] leaves these
/// buffers to glibc). Call it once, first thing in `main`.
pub fn retain_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const MIB: libc::c_int = 1 << 20;
        // SAFETY: mallopt only sets allocator parameters (glibc takes its own locks).
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * MIB);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 1024 * MIB);
        }
    }
}

/// A global allocator that serves small blocks from mimalloc and the rest from the system
/// allocator: declare it in a binary with
/// `#[global_allocator] static ALLOC: SplitAllocator = SplitAllocator;` (the `hessrank` CLI, the
/// benchmarks and `ld_timing` do).
///
/// A step of the small linear nets is dominated by bookkeeping: autodiff's graph nodes and the
/// dispatch layers' boxed tensors, a few hundred blocks of tens of bytes per step, several of
/// them over-aligned, which glibc serves outside its thread cache (and then consolidates its fast
/// bins). mimalloc serves those in a few instructions. For data buffers glibc with
/// [`retain_freed_memory`] stays the better choice: mimalloc for every block returned the large
/// activation buffers to the kernel, and a higher split still slowed the DnCNN step; at
/// [`SplitAllocator::SMALL`] it runs as with glibc alone (`BENCHMARKS.md` has the measurements). The split is by the
/// layout's size, which `dealloc` and `realloc` receive unchanged, so every block is freed by the
/// allocator that made it. It only changes where memory comes from, never a computed number.
#[derive(Debug, Clone, Copy, Default)]
pub struct SplitAllocator;

impl SplitAllocator {
    /// Blocks below this many bytes (4 KiB) come from mimalloc.
    pub const SMALL: usize = 4 << 10;
}

// SAFETY: each block is allocated and freed by one of two sound allocators, chosen by its
// layout's size on both sides; `realloc` across the threshold moves the block between them
// (allocate, copy the common prefix, free), which is what `GlobalAlloc::realloc` must do.
unsafe impl std::alloc::GlobalAlloc for SplitAllocator {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        unsafe {
            if layout.size() < Self::SMALL {
                mimalloc::MiMalloc.alloc(layout)
            } else {
                std::alloc::System.alloc(layout)
            }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        unsafe {
            if layout.size() < Self::SMALL {
                mimalloc::MiMalloc.alloc_zeroed(layout)
            } else {
                std::alloc::System.alloc_zeroed(layout)
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: `ptr` came from `alloc` with this layout, so from the allocator its size picks.
        unsafe {
            if layout.size() < Self::SMALL {
                mimalloc::MiMalloc.dealloc(ptr, layout)
            } else {
                std::alloc::System.dealloc(ptr, layout)
            }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        let (old_small, new_small) = (layout.size() < Self::SMALL, new_size < Self::SMALL);
        // SAFETY: same side: forwarded to the allocator that owns `ptr`. Across the threshold: a
        // new block from the other allocator (its layout is valid: the caller guarantees
        // `new_size` rounded to the alignment does not overflow), the common prefix copied, the
        // old block freed by its owner.
        unsafe {
            match (old_small, new_small) {
                (true, true) => mimalloc::MiMalloc.realloc(ptr, layout, new_size),
                (false, false) => std::alloc::System.realloc(ptr, layout, new_size),
                _ => {
                    let new_layout = std::alloc::Layout::from_size_align_unchecked(new_size, layout.align());
                    let new = self.alloc(new_layout);
                    if !new.is_null() {
                        std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                    new
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SplitAllocator;
    use std::alloc::{GlobalAlloc, Layout};

    /// Blocks on both sides of the threshold, grown and shrunk across it, keep their contents
    /// and alignment.
    #[test]
    fn realloc_across_the_threshold_keeps_contents_and_alignment() {
        let a = SplitAllocator;
        for align in [8, 64, 4096] {
            for (from, to) in [(100, SplitAllocator::SMALL + 10), (SplitAllocator::SMALL * 3, 50), (200, 300)] {
                let layout = Layout::from_size_align(from, align).unwrap();
                // SAFETY: a nonzero layout; the block is written within its size, reallocated with
                // its own layout and freed with the new one.
                unsafe {
                    let p = a.alloc(layout);
                    assert!(!p.is_null() && (p as usize).is_multiple_of(align));
                    for i in 0..from {
                        *p.add(i) = (i % 251) as u8;
                    }
                    let q = a.realloc(p, layout, to);
                    assert!(!q.is_null() && (q as usize).is_multiple_of(align), "{from} → {to} bytes, align {align}");
                    assert!((0..from.min(to)).all(|i| *q.add(i) == (i % 251) as u8), "{from} → {to}: contents lost");
                    a.dealloc(q, Layout::from_size_align(to, align).unwrap());
                    let z = a.alloc_zeroed(layout);
                    assert!((0..from).all(|i| *z.add(i) == 0));
                    a.dealloc(z, layout);
                }
            }
        }
    }
}
