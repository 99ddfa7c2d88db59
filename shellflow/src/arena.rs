//! A bump arena for the memory of one analysis, behind the global allocator.
//!
//! An analysis of the 1,000-line bench script makes about 70,000 small allocations (the
//! AST, values, evidence, path states, joins) and frees nearly all of them when it ends.
//! With mimalloc each costs an allocation and a free, and the blocks it hands out are
//! scattered over pages the analysis touched long before. [`Arena`] wraps the program's
//! allocator: while an analysis runs on a thread ([`Scope`]), that thread's small
//! allocations are carved one after the other out of the thread's slot of one reserved
//! region, freeing them does nothing, and when the analysis ends the slot is used again
//! from its start, pages still warm. In 9 interleaved rounds of the long bench (each the
//! median of 21 analyses) a prototype took the median from 5.85 to 5.01 ms.
//!
//! Written here because no crate does this: bumpalo and typed arenas serve code written
//! against them, and most of an analysis's memory is brush-parser's AST and std
//! collections, which allocate through the global allocator.
//!
//! Only memory that ends with the analysis may come from the arena. What could outlive it,
//! and how it is kept out:
//! - the [`crate::Analysis`] returned: [`Scope::finish`] copies it out with the arena
//!   suspended;
//! - what callers and libraries keep: brush-parser's global caches and the panic hook
//!   installed for it (`parse::guarded` suspends the arena), the helper thread a risky
//!   parse runs on and the channel it shares, the image filesystem's own caches (every
//!   call into [`crate::ImageFs`] is suspended: [`Suspended`]), and the room of the
//!   thread's name table (it grows with the arena suspended);
//! - a panic: whatever the unwinding leaves behind may still point into the slot, so the
//!   slot is abandoned (never used again) and the thread takes a fresh one next time.
//!
//! Bounds: a slot is [`SLOT_BYTES`]; an allocation larger than [`MAX_BLOCK`], one that no
//! longer fits, or one on a thread that finds none of the [`SLOTS`] slots free goes to the
//! wrapped allocator.
//! After an analysis the slot's pages beyond [`KEEP_BYTES`] are given back. If the region
//! cannot be reserved (an address-space limit), nothing changes: every allocation goes to
//! the wrapped allocator.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};

/// The bytes of one thread's slot.
pub const SLOT_BYTES: usize = 64 << 20;

/// How many slots the region holds: threads running analyses at once, plus slots
/// abandoned after a panic. A thread gives its slot back when it ends.
pub const SLOTS: usize = 64;

// One bit of `FREE` per slot.
const _: () = assert!(SLOTS == u64::BITS as usize);

/// The whole region, reserved once (address space only until touched).
const REGION_BYTES: usize = SLOT_BYTES * SLOTS;

/// The largest allocation the arena serves; bigger ones (a file's text) go to the wrapped
/// allocator.
pub const MAX_BLOCK: usize = 64 << 10;

/// The largest alignment the arena serves.
const MAX_ALIGN: usize = 64;

/// How much of a slot stays mapped between analyses (the long bench script uses 7 MB).
const KEEP_BYTES: usize = 16 << 20;

/// The region's start before it is reserved: the top `REGION_BYTES` of the address space,
/// where no user-space pointer lies, so the range test is false for every pointer.
const UNRESERVED: usize = usize::MAX - REGION_BYTES + 1;

/// Start of the region.
static BASE: AtomicUsize = AtomicUsize::new(UNRESERVED);

/// The free slots, a bit each.
static FREE: AtomicU64 = AtomicU64::new(u64::MAX);

/// Whether the global allocator is an [`Arena`]: 0 not yet known, 1 yes, 2 no.
static INSTALLED: AtomicU8 = AtomicU8::new(0);

/// Whether the region's reservation has been tried: 0 no, 1 in progress, 2 done.
static RESERVED: AtomicU8 = AtomicU8::new(0);

thread_local! {
    /// The free part of this thread's slot (next byte, end) while an analysis runs and the
    /// arena is not suspended; `(0, 0)` otherwise.
    static BUMP: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    /// This thread's slot (its start), 0 when it has none; given back when the thread
    /// ends.
    static SLOT: Owner = const { Owner(Cell::new(0)) };
    /// Scopes open on this thread (nested analyses share the outermost one's arena).
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    /// How far into the slot pages may be touched (for giving them back).
    static HIGH: Cell<usize> = const { Cell::new(0) };
    /// Bytes the last analysis on this thread took from the arena.
    static LAST: Cell<usize> = const { Cell::new(0) };
}

/// Whether `p` lies in the region (any thread's slot).
#[inline]
pub fn contains(p: *const u8) -> bool {
    (p as usize).wrapping_sub(BASE.load(Ordering::Relaxed)) < REGION_BYTES
}

/// A global allocator that serves the allocations of analyses from a bump arena and
/// everything else from `A` (see the module doc).
#[derive(Debug)]
pub struct Arena<A>(A);

impl<A> Arena<A> {
    /// Wraps `inner`.
    pub const fn new(inner: A) -> Self {
        Arena(inner)
    }
}

/// Carves `layout` out of this thread's slot, when an analysis runs and it fits.
#[inline]
fn bump(layout: Layout) -> Option<*mut u8> {
    let (cur, end) = BUMP.get();
    if cur == 0 || layout.size() > MAX_BLOCK || layout.align() > MAX_ALIGN {
        return None;
    }
    let at = (cur + layout.align() - 1) & !(layout.align() - 1);
    let next = at + layout.size();
    if next > end {
        return None;
    }
    BUMP.set((next, end));
    Some(at as *mut u8)
}

// SAFETY: a block from the arena lies inside this thread's slot, which only this thread
// carves, aligned as asked and `layout.size()` bytes long, not handed out again before the
// scope it was carved in ends (after which, by the rules in the module doc, nothing refers
// to it); every other call goes to `A` with the caller's guarantees passed on. `dealloc`
// and `realloc` tell the two kinds apart by address.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Arena<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match bump(layout) {
            Some(p) => p,
            // SAFETY: the caller's guarantees for `alloc`.
            None => unsafe { self.0.alloc(layout) },
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match bump(layout) {
            Some(p) => {
                // SAFETY: `p` starts `layout.size()` writable bytes of the slot.
                unsafe { std::ptr::write_bytes(p, 0, layout.size()) };
                p
            }
            // SAFETY: the caller's guarantees for `alloc_zeroed`.
            None => unsafe { self.0.alloc_zeroed(layout) },
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !contains(ptr) {
            // SAFETY: not the arena's, so `A` handed it out.
            unsafe { self.0.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !contains(ptr) {
            // SAFETY: `A` handed it out; the caller's guarantees for `realloc`.
            return unsafe { self.0.realloc(ptr, layout, new_size) };
        }
        let at = ptr as usize;
        let (cur, end) = BUMP.get();
        if cur != 0 && at + layout.size() == cur && new_size <= MAX_BLOCK && at + new_size <= end {
            // The last block carved: it grows or shrinks where it is.
            BUMP.set((at + new_size, end));
            return ptr;
        }
        // SAFETY: `new_size` is non-zero and, rounded up to `layout.align()`, does not
        // overflow `isize` (the caller's guarantees for `realloc`).
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: as in `alloc`.
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are at least that long, and distinct (the new one was
            // carved after `ptr` or comes from `A`).
            unsafe { std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
        }
        new
    }
}

/// Reserves the region once; false when it could not be.
fn reserve() -> bool {
    loop {
        match RESERVED.compare_exchange(0, 1, Ordering::Acquire, Ordering::Acquire) {
            Ok(_) => {
                // SAFETY: an anonymous private mapping at an address the kernel picks,
                // checked before use; untouched pages cost nothing (`MAP_NORESERVE`).
                let p = unsafe {
                    libc::mmap(
                        std::ptr::null_mut(),
                        REGION_BYTES,
                        libc::PROT_READ | libc::PROT_WRITE,
                        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                        -1,
                        0,
                    )
                };
                if p != libc::MAP_FAILED {
                    BASE.store(p as usize, Ordering::Release);
                }
                RESERVED.store(2, Ordering::Release);
                return p != libc::MAP_FAILED;
            }
            Err(2) => return BASE.load(Ordering::Acquire) != UNRESERVED,
            Err(_) => std::thread::yield_now(),
        }
    }
}

/// The slot a thread holds, given back to [`FREE`] when the thread ends.
struct Owner(Cell<usize>);

impl Drop for Owner {
    fn drop(&mut self) {
        let start = self.0.get();
        if start != 0 {
            // The thread's scopes have all ended: nothing refers to the slot's blocks.
            let i = (start - BASE.load(Ordering::Acquire)) / SLOT_BYTES;
            FREE.fetch_or(1 << i, Ordering::AcqRel);
        }
    }
}

/// This thread's slot, taken on first use; `None` when there is none to take.
fn slot() -> Option<usize> {
    let s = SLOT.try_with(|o| o.0.get()).ok()?;
    if s != 0 {
        return Some(s);
    }
    if !reserve() {
        return None;
    }
    let mut free = FREE.load(Ordering::Acquire);
    let i = loop {
        if free == 0 {
            return None;
        }
        let i = free.trailing_zeros();
        match FREE.compare_exchange_weak(
            free,
            free & !(1 << i),
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => break i as usize,
            Err(now) => free = now,
        }
    };
    let s = BASE.load(Ordering::Acquire) + i * SLOT_BYTES;
    if SLOT.try_with(|o| o.0.set(s)).is_err() {
        FREE.fetch_or(1 << i, Ordering::AcqRel);
        return None;
    }
    // A slot another thread gave back may hold touched pages up to `KEEP_BYTES`.
    HIGH.set(KEEP_BYTES);
    Some(s)
}

/// One analysis on this thread: its allocations come from the arena until it ends, and
/// the arena is used again from its start afterwards (see the module doc).
pub(crate) struct Scope {
    /// Whether this scope opened the arena (the outermost one, with the arena installed).
    active: bool,
    /// Whether this scope counts in [`DEPTH`].
    counted: bool,
}

impl Scope {
    /// Opens the arena on this thread, unless a scope is open already (a nested analysis
    /// shares it) or the arena cannot serve (not the global allocator, no slot).
    pub(crate) fn enter() -> Scope {
        let depth = DEPTH.get();
        DEPTH.set(depth + 1);
        if depth == 0 {
            LAST.set(0);
        }
        if depth > 0 || INSTALLED.load(Ordering::Relaxed) == 2 {
            return Scope {
                active: false,
                counted: true,
            };
        }
        let Some(start) = slot() else {
            return Scope {
                active: false,
                counted: true,
            };
        };
        BUMP.set((start, start + SLOT_BYTES));
        if INSTALLED.load(Ordering::Relaxed) == 0 {
            // Whether the global allocator serves from the arena: a probe tells.
            let probe = Box::new(0u8);
            let yes = contains(&*probe);
            drop(probe);
            INSTALLED.store(if yes { 1 } else { 2 }, Ordering::Relaxed);
            if !yes {
                BUMP.set((0, 0));
                return Scope {
                    active: false,
                    counted: true,
                };
            }
        }
        Scope {
            active: true,
            counted: true,
        }
    }

    /// Ends the analysis with its result `a`, copied out of the arena when this scope
    /// opened it (the copy made with the arena suspended, so it outlives the scope).
    pub(crate) fn finish(self, a: crate::Analysis) -> crate::Analysis {
        if !self.active {
            return a;
        }
        let out = {
            let _off = suspend();
            a.detached()
        };
        drop(a);
        out
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        if self.counted {
            DEPTH.set(DEPTH.get().saturating_sub(1));
        }
        if !self.active {
            return;
        }
        let (cur, _) = BUMP.replace((0, 0));
        let Ok(start) = SLOT.try_with(|o| o.0.get()) else {
            return;
        };
        if std::thread::panicking() {
            // What the unwinding left behind may still point into the slot: it is never
            // used again (nor given back).
            let _ = SLOT.try_with(|o| o.0.set(0));
            return;
        }
        LAST.set(cur.saturating_sub(start));
        let high = HIGH.get().max(cur.saturating_sub(start));
        if high > KEEP_BYTES {
            // SAFETY: the range lies inside this thread's slot, whose blocks are no longer
            // referred to (the scope has ended); the pages read back as zeroes if touched.
            unsafe {
                libc::madvise(
                    (start + KEEP_BYTES) as *mut libc::c_void,
                    high - KEEP_BYTES,
                    libc::MADV_DONTNEED,
                );
            }
            HIGH.set(KEEP_BYTES);
        } else {
            HIGH.set(high);
        }
    }
}

/// While it lives, this thread's allocations go to the wrapped allocator (memory that must
/// outlive the analysis); the arena resumes where it was when it is dropped.
pub(crate) struct Suspend((usize, usize));

/// Suspends the arena on this thread (see [`Suspend`]).
#[inline]
pub(crate) fn suspend() -> Suspend {
    Suspend(BUMP.replace((0, 0)))
}

impl Drop for Suspend {
    #[inline]
    fn drop(&mut self) {
        BUMP.set(self.0);
    }
}

/// Bytes the last analysis that ended on this thread took from the arena (0 when it ran
/// without; blocks served by the wrapped allocator are not counted).
pub fn last_use() -> usize {
    LAST.get()
}

/// Runs `f` with the arena off on this thread, analyses inside it included: they allocate
/// from the wrapped allocator (the tests compare the two).
pub fn bypass<R>(f: impl FnOnce() -> R) -> R {
    let _off = suspend();
    LAST.set(0);
    DEPTH.set(DEPTH.get() + 1);
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            DEPTH.set(DEPTH.get().saturating_sub(1));
        }
    }
    let _leave = Leave;
    f()
}

/// The image filesystem with the arena suspended around every call: what an implementation
/// keeps (a cache of directory listings, of resolved links) outlives the analysis.
pub(crate) struct Suspended<'a>(pub &'a dyn crate::ImageFs);

impl crate::ImageFs for Suspended<'_> {
    fn read_file(&self, path: &str) -> Result<Vec<u8>, crate::FsError> {
        let _off = suspend();
        self.0.read_file(path)
    }

    fn stat(&self, path: &str) -> Option<crate::FileStat> {
        let _off = suspend();
        self.0.stat(path)
    }

    fn list_dir(&self, path: &str) -> Vec<String> {
        let _off = suspend();
        self.0.list_dir(path)
    }

    fn canonical(&self, path: &str) -> Option<String> {
        let _off = suspend();
        self.0.canonical(path)
    }
}
