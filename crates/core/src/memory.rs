//! Process-wide allocator tuning for long runs of full-batch steps.

/// Makes glibc's allocator keep freed blocks up to 128 MiB in the heap instead of unmapping them.
///
/// Every Langevin step of the DnCNN allocates the same few activation buffers (6.4 MB each at
/// N = 256 in f32) and frees them again. glibc serves such sizes with `mmap` and returns them to
/// the kernel on `free`, so each step paid fresh page faults and page zeroing for every buffer:
/// this setting made the N = 256 step 25–30 % faster and the N = 1,024 step 25 % faster
/// (`BENCHMARKS.md`). The cost is that the process keeps its peak heap until it exits. It only
/// changes where memory comes from, never a computed number. A no-op off glibc (mimalloc and
/// jemalloc were tried instead, with no gain). Call it once, first thing in `main`.
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
