//! The global allocator of the `entrytrace` binary: mimalloc, called through its plain
//! `mi_malloc` when the alignment asked for is one `mi_malloc` already gives.
//!
//! shellflow's interpreter makes many small short-lived allocations (values, evidence,
//! path states). mimalloc, not glibc's malloc, cuts an analysis of the 1,000-line bench
//! script (`cargo bench -p shellflow --bench analyze`) by about a quarter of its
//! instructions. The `mimalloc` crate's `MiMalloc` sends every allocation through
//! `mi_malloc_aligned`, whose checks cost more than the allocation itself on that fast
//! path; calling `mi_malloc` directly when the alignment is at most 16 and at most the size
//! takes another 5 % off an analysis. mimalloc documents that case as naturally aligned:
//! its blocks of at least 16 bytes are 16-byte aligned, and smaller ones are aligned to
//! their size (`mi_malloc_is_naturally_aligned` in `alloc-aligned.c`). Other layouts still
//! go through the aligned calls.
//!
//! Written here (a few lines over `libmimalloc-sys`) because no crate offers it. The
//! benchmark includes this file, so it measures the allocator this binary ships with. In
//! `main.rs` it sits behind `shellflow::arena::Arena`, which serves the allocations of a
//! script analysis itself and passes everything else here.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

/// The largest alignment mimalloc's `mi_malloc` guarantees (`MI_MAX_ALIGN_SIZE`).
const MAX_NATURAL_ALIGN: usize = 16;

/// mimalloc, with the unaligned fast path (see the module doc).
pub struct MiMalloc;

/// Whether a block of `size` bytes from `mi_malloc`/`mi_realloc` is aligned to `align`.
fn natural(size: usize, align: usize) -> bool {
    align <= MAX_NATURAL_ALIGN && align <= size
}

// SAFETY: every pointer handed out comes from mimalloc and is aligned as the layout asks
// (by `natural`, mimalloc's own rule, or by the aligned calls); `dealloc` and `realloc` are
// given only pointers this allocator returned, as `GlobalAlloc` requires of its callers.
unsafe impl GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: plain calls into mimalloc; a null result is passed on as failure.
        unsafe {
            if natural(layout.size(), layout.align()) {
                libmimalloc_sys::mi_malloc(layout.size()).cast()
            } else {
                libmimalloc_sys::mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        unsafe {
            if natural(layout.size(), layout.align()) {
                libmimalloc_sys::mi_zalloc(layout.size()).cast()
            } else {
                libmimalloc_sys::mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator (the caller's contract).
        unsafe { libmimalloc_sys::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this allocator with `layout` (the caller's contract);
        // the new block keeps the alignment by the same rule as `alloc`.
        unsafe {
            if natural(new_size, layout.align()) {
                libmimalloc_sys::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
            } else {
                libmimalloc_sys::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align())
                    .cast()
            }
        }
    }
}
