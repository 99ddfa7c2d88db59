//! A per-thread allocator for the memory of one analysis, behind the global allocator.
//!
//! An analysis of the 1,000-line bench script makes about 70,000 small allocations (the
//! AST, values, evidence, path states, joins) and frees nearly all of them when it ends.
//! [`Arena`] wraps the program's allocator: while an analysis runs on a thread (`Scope`),
//! that thread's small allocations come from the thread's slot of one reserved region, in
//! size classes (16-byte steps up to 1 KiB, powers of two up to [`MAX_BLOCK`]); a freed
//! block goes on its class's list and is the next one of its class handed out, and a new
//! one is carved after the last. No locks, no headers, no cross-thread bookkeeping: a
//! block freed by another thread is left alone. When the analysis ends the lists are
//! dropped and the slot is used again from its start, pages still mapped and warm.
//!
//! Measured on the long bench: 27.5 M instructions an analysis with mimalloc alone,
//! 25.0 M carving without reuse; reuse keeps one analysis's memory near what it holds at
//! once (a first analysis in a fresh process, as the hook runs it, faults in about as many
//! pages as with mimalloc: carving without reuse took 1,000 more and made that analysis
//! half again slower).
//!
//! Written here because no crate does this: bumpalo and typed arenas serve code written
//! against them, and most of an analysis's memory is brush-parser's AST and std
//! collections, which allocate through the global allocator.
//!
//! Since the slot is used again from its start, what an analysis holds when it ends need
//! not be freed block by block: [`discard`] forgets the parsed script (2 % of an analysis
//! of the long bench went to walking its AST to free it) when all of it lies in the slot.
//! That is known by noting the blocks the scope asked for that the wrapped allocator
//! served (bigger than [`MAX_BLOCK`], or the slot full) until they are freed: with any of
//! them still held, `discard` drops.
//!
//! Only memory that ends with the analysis may come from the arena. What could outlive it,
//! and how it is kept out:
//! - the [`crate::Analysis`] returned: `Scope::finish` copies it out with the arena
//!   suspended;
//! - what callers and libraries keep: brush-parser's global caches and the panic hook
//!   installed for it (`parse::guarded` suspends the arena), the helper thread a risky
//!   parse runs on and the channel it shares, the image filesystem's own caches (every
//!   call into [`crate::ImageFs`] is suspended: `Suspended`), and the room of the
//!   thread's name table (it grows with the arena suspended);
//! - a panic: whatever the unwinding leaves behind may still point into the slot, so the
//!   slot is abandoned (never used again) and the thread takes a fresh one next time.
//!
//! Traps for code added to the analysis later: a `tracing` or `log` call, a static
//! `Regex` or any lazily made static would keep memory from the arena (suspend around it,
//! as `parse::guarded` does); on a libc without `__cxa_thread_atexit_impl` (musl) the
//! first use of a thread-local with a destructor inside an analysis would put std's
//! destructor list in the slot (make it before, as `names::warm` does).
//!
//! The region is address space only until a thread takes a slot (made writable then), so
//! a program whose allocator is not an `Arena` reserves nothing; a thread that ran an
//! analysis keeps up to `KEEP_BYTES` of its slot mapped. Under cargo-fuzz (`cfg(fuzzing)`)
//! freed blocks and the used slot are overwritten, so that a use after free fails there.
//! Linux and 64-bit only, as the rest of EntryTrace.
//!
//! Bounds: a slot is [`SLOT_BYTES`]; an allocation larger than [`MAX_BLOCK`], one that no
//! longer fits, or one on a thread that finds none of the [`SLOTS`] slots free goes to the
//! wrapped allocator.
//! After an analysis the slot's pages beyond `KEEP_BYTES` are given back. If the region
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

/// The huge page size slots are aligned to (see [`reserve`]).
const HUGE_PAGE: usize = 2 << 20;

/// The largest allocation the arena serves; bigger ones (a file's text) go to the wrapped
/// allocator.
pub const MAX_BLOCK: usize = 64 << 10;

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
    /// The first free block of each size class (0: none), linked through their first word.
    static LISTS: [Cell<usize>; CLASSES] = const { [const { Cell::new(0) }; CLASSES] };
    /// Blocks the open scope asked for that the wrapped allocator served (too big, or the
    /// slot full) and that are still held: the first [`SPILLS`] of them, and how many.
    static SPILLED: [Cell<usize>; SPILLS] = const { [const { Cell::new(0) }; SPILLS] };
    static SPILL_COUNT: Cell<usize> = const { Cell::new(0) };
}

/// How many spilled blocks (see `SPILLED`) are told apart; past that, [`discard`] drops
/// until the scope ends.
const SPILLS: usize = 8;

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

/// Blocks of at most `SMALL` bytes come in steps of 16 bytes; bigger ones in powers of two
/// up to [`MAX_BLOCK`].
const SMALL: usize = 1024;

/// The size classes: 1 to 64 for the small steps, 65 to 70 for 2 KiB to 64 KiB (0 unused).
const CLASSES: usize = SMALL / 16 + 7;

/// Every block is aligned to this (sizes are multiples of it).
const GRAIN: usize = 16;

/// The size class of a block of `size` bytes (at most [`MAX_BLOCK`], at least 1).
#[inline]
fn class_of(size: usize) -> usize {
    if size <= SMALL {
        size.div_ceil(GRAIN)
    } else {
        SMALL / GRAIN + (usize::BITS - (size - 1).leading_zeros()) as usize - 10
    }
}

/// The bytes a block of class `c` spans.
#[inline]
fn class_bytes(c: usize) -> usize {
    if c <= SMALL / GRAIN {
        c * GRAIN
    } else {
        1 << (c - SMALL / GRAIN + 10)
    }
}

/// Whether the arena serves `layout` (when a scope is open).
#[inline]
fn fits(layout: Layout) -> bool {
    layout.size() <= MAX_BLOCK && layout.align() <= GRAIN
}

/// A block for `layout` from this thread's slot, when an analysis runs and it fits: the
/// last block of its class freed, or a new one carved after the others.
#[inline]
fn carve(layout: Layout) -> Option<*mut u8> {
    let (cur, end) = BUMP.get();
    if cur == 0 || !fits(layout) {
        return None;
    }
    let c = class_of(layout.size());
    let head = LISTS.with(|l| l[c].get());
    if head != 0 {
        // SAFETY: `head` is a freed block of this scope, at least `GRAIN` bytes, aligned;
        // its first word holds the next free block of its class (see `give_back`).
        let next = unsafe { *(head as *const usize) };
        LISTS.with(|l| l[c].set(next));
        return Some(head as *mut u8);
    }
    let next = cur + class_bytes(c);
    if next > end {
        return None;
    }
    BUMP.set((next, end));
    Some(cur as *mut u8)
}

/// Whether `p` was carved from this thread's slot by the scope open now (not suspended).
#[inline]
fn own(p: usize, cur: usize, end: usize) -> bool {
    cur != 0 && p.wrapping_sub(end - SLOT_BYTES) < SLOT_BYTES
}

/// Puts the block `p` of `layout`, carved by the open scope, on its class's free list.
#[inline]
fn give_back(p: *mut u8, layout: Layout) {
    let c = class_of(layout.size());
    // Under the fuzzer a freed block is overwritten, so that a use after free reads
    // garbage (and fails) instead of the old value: ASan cannot see into the arena.
    #[cfg(fuzzing)]
    // SAFETY: the block spans `class_bytes(c)` bytes and its owner has given it up.
    unsafe {
        std::ptr::write_bytes(p, 0xA5, class_bytes(c));
    }
    LISTS.with(|l| {
        // SAFETY: `p` is a block of at least `GRAIN` bytes, aligned, that its owner has
        // just given up: its first word is free to hold the link.
        unsafe { *(p as *mut usize) = l[c].get() };
        l[c].set(p as usize);
    });
}

impl<A: GlobalAlloc> Arena<A> {
    /// A block from the wrapped allocator, noted when the open scope asked for it (see
    /// `SPILLED`). Kept out of line, so that the arena's own path stays small enough to be
    /// inlined into every caller.
    ///
    /// # Safety
    /// The caller's guarantees for `alloc` (or `alloc_zeroed`).
    #[inline(never)]
    unsafe fn outside(&self, layout: Layout, zeroed: bool) -> *mut u8 {
        // SAFETY: passed on from the caller.
        let p = unsafe {
            if zeroed {
                self.0.alloc_zeroed(layout)
            } else {
                self.0.alloc(layout)
            }
        };
        spilled(p)
    }

    /// Frees a block of the wrapped allocator (out of line, as [`Arena::outside`]).
    ///
    /// # Safety
    /// The caller's guarantees for `dealloc`, with `ptr` not in the region.
    #[inline(never)]
    unsafe fn free_outside(&self, ptr: *mut u8, layout: Layout) {
        unspilled(ptr as usize, 0);
        // SAFETY: passed on from the caller.
        unsafe { self.0.dealloc(ptr, layout) };
    }
}

// SAFETY: a block from the arena lies inside this thread's slot, which only this thread
// carves, spans `class_bytes(class_of(size))` bytes aligned to `GRAIN`, and is handed out
// again only once freed (by the free list of its class) or once the scope it was carved in
// has ended (after which, by the rules in the module doc, nothing refers to it); every
// other call goes to `A` with the caller's guarantees passed on. `dealloc` and `realloc`
// tell the two kinds apart by address.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Arena<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match carve(layout) {
            Some(p) => p,
            // SAFETY: the caller's guarantees for `alloc`.
            None => unsafe { self.outside(layout, false) },
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match carve(layout) {
            Some(p) => {
                // SAFETY: `p` starts at least `layout.size()` writable bytes of the slot.
                unsafe { std::ptr::write_bytes(p, 0, layout.size()) };
                p
            }
            // SAFETY: the caller's guarantees for `alloc_zeroed`.
            None => unsafe { self.outside(layout, true) },
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !contains(ptr) {
            // SAFETY: not the arena's, so `A` handed it out.
            unsafe { self.free_outside(ptr, layout) };
            return;
        }
        let (cur, end) = BUMP.get();
        if own(ptr as usize, cur, end) {
            give_back(ptr, layout);
        }
        // Else another thread's block, or one freed while the arena is suspended: it is
        // reused when its scope ends.
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !contains(ptr) {
            // SAFETY: `A` handed it out; the caller's guarantees for `realloc`.
            let new = unsafe { self.0.realloc(ptr, layout, new_size) };
            if !new.is_null() {
                unspilled(ptr as usize, new as usize);
            }
            return new;
        }
        let at = ptr as usize;
        let (cur, end) = BUMP.get();
        if own(at, cur, end) && new_size <= MAX_BLOCK {
            let (old, new) = (class_of(layout.size()), class_of(new_size));
            if old == new {
                return ptr;
            }
            if at + class_bytes(old) == cur && at + class_bytes(new) <= end {
                // The last block carved: it grows or shrinks where it is.
                BUMP.set((at + class_bytes(new), end));
                return ptr;
            }
        }
        // SAFETY: `new_size` is non-zero and, rounded up to `layout.align()`, does not
        // overflow `isize` (the caller's guarantees for `realloc`).
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: as in `alloc`.
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are at least that long, and distinct (`ptr` is still
            // held: it is not on a free list).
            unsafe { std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
            // SAFETY: `ptr` is the arena's and `layout` its layout.
            unsafe { self.dealloc(ptr, layout) };
        }
        new
    }
}

/// Notes `p`, just served by the wrapped allocator, when the open scope asked for it: a
/// block of the analysis outside the slot (see [`discard`]).
#[inline]
fn spilled(p: *mut u8) -> *mut u8 {
    if BUMP.get().0 != 0 && !p.is_null() {
        let n = SPILL_COUNT.get();
        SPILLED.with(|s| {
            if let Some(c) = s.get(n) {
                c.set(p as usize);
            }
        });
        SPILL_COUNT.set(n + 1);
    }
    p
}

/// Forgets the spilled block `p` (freed), or moves it to `moved` (reallocated), if it is
/// one of those told apart.
#[inline]
fn unspilled(p: usize, moved: usize) {
    let n = SPILL_COUNT.get();
    if n == 0 || n > SPILLS {
        return;
    }
    SPILLED.with(|s| {
        if let Some(i) = s[..n].iter().position(|c| c.get() == p) {
            if moved != 0 {
                s[i].set(moved);
            } else {
                s[i].set(s[n - 1].get());
                SPILL_COUNT.set(n - 1);
            }
        }
    });
}

/// Ends `x` without running its destructors when an analysis is running on this thread
/// with the arena serving it and no block of it lies outside the slot: its memory comes
/// back all at once when the analysis ends, and walking it to free each block (an AST of
/// thousands of nodes) is wasted. Otherwise `x` is dropped.
///
/// For values made inside the analysis with the arena serving (not suspended), that share
/// nothing with what outlives it and whose destructors do nothing but free memory: the
/// parsed program of the script. Given anything else (memory from an `ImageFs` call or
/// from brush-parser, a file handle), `discard` leaks it.
pub(crate) fn discard<T>(x: T) {
    if discarding() {
        std::mem::forget(x);
    } else {
        drop(x);
    }
}

/// Whether [`discard`] would forget what it is given now.
pub(crate) fn discarding() -> bool {
    BUMP.get().0 != 0 && SPILL_COUNT.get() == 0
}

/// Whether `p` was carved by the scope open on this thread now (not suspended): a block
/// that may be forgotten while that scope runs, since its memory comes back when it ends.
pub(crate) fn ours(p: *const u8) -> bool {
    let (cur, end) = BUMP.get();
    own(p as usize, cur, end)
}

/// Reserves the region once; false when it could not be.
fn reserve() -> bool {
    loop {
        match RESERVED.compare_exchange(0, 1, Ordering::Acquire, Ordering::Acquire) {
            Ok(_) => {
                // SAFETY: an anonymous private mapping at an address the kernel picks,
                // checked before use. It is address space only: inaccessible, and not
                // counted against the commit limit (`vm.overcommit_memory=2` would count a
                // writable mapping whole); a slot is made writable when a thread takes it.
                let p = unsafe {
                    libc::mmap(
                        std::ptr::null_mut(),
                        REGION_BYTES + HUGE_PAGE,
                        libc::PROT_NONE,
                        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                        -1,
                        0,
                    )
                };
                if p != libc::MAP_FAILED {
                    // Slots start on a huge page, and the kernel may back them with huge
                    // pages (as mimalloc asks for its own memory, its `allow_thp`): the
                    // first analysis in a process then faults in a few 2 MiB pages, not a
                    // thousand small ones, each of which costs microseconds on these VMs.
                    BASE.store((p as usize).next_multiple_of(HUGE_PAGE), Ordering::Release);
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

/// Whether the global allocator is an [`Arena`], found out once by a probe: with this
/// thread's free part pointing at a buffer of the probe's own, an arena carves the probe's
/// allocation from it and any other allocator does not. Nothing is reserved or mapped
/// before this is known.
fn installed() -> bool {
    match INSTALLED.load(Ordering::Relaxed) {
        1 => return true,
        2 => return false,
        _ => {}
    }
    #[repr(align(16))]
    struct Buffer([u8; 32]);
    let buffer = Buffer([0; 32]);
    let at = buffer.0.as_ptr() as usize;
    LISTS.with(|l| l.iter().for_each(|c| c.set(0)));
    let saved = BUMP.replace((at, at + buffer.0.len()));
    let layout = Layout::new::<u8>();
    // SAFETY: a non-zero-sized layout; `black_box` keeps the compiler from assuming the
    // result differs from `at`.
    let p = std::hint::black_box(unsafe { std::alloc::alloc(layout) });
    BUMP.set(saved);
    let yes = p as usize == at;
    if !yes && !p.is_null() {
        // SAFETY: the wrapped (or other global) allocator handed `p` out for `layout`.
        unsafe { std::alloc::dealloc(p, layout) };
    }
    INSTALLED.store(if yes { 1 } else { 2 }, Ordering::Relaxed);
    yes
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
    // SAFETY: the slot lies inside the reserved region and is this thread's alone (its bit
    // was just taken).
    let writable = unsafe {
        libc::mprotect(
            s as *mut libc::c_void,
            SLOT_BYTES,
            libc::PROT_READ | libc::PROT_WRITE,
        )
    } == 0;
    if !writable || SLOT.try_with(|o| o.0.set(s)).is_err() {
        FREE.fetch_or(1 << i, Ordering::AcqRel);
        return None;
    }
    // The slot starts on a huge page, and the kernel may back it with huge pages (as
    // mimalloc asks for its own memory, its `allow_thp`): the first analysis in a process
    // then faults in a few 2 MiB pages, not a thousand small ones, each of which costs
    // microseconds on these VMs.
    // SAFETY: advice on the slot just made writable; failure (no transparent huge pages)
    // leaves small pages.
    unsafe {
        libc::madvise(s as *mut libc::c_void, SLOT_BYTES, libc::MADV_HUGEPAGE);
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
    /// Whether [`Scope::finish`] ran: a scope dropped without it was left by a panic.
    finished: bool,
    /// The scope belongs to its thread (it restores the thread's allocator state).
    _thread: std::marker::PhantomData<*const ()>,
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
        if depth > 0 || !installed() {
            return Scope::inactive();
        }
        let Some(start) = slot() else {
            return Scope::inactive();
        };
        LISTS.with(|l| l.iter().for_each(|c| c.set(0)));
        SPILL_COUNT.set(0);
        BUMP.set((start, start + SLOT_BYTES));
        Scope {
            active: true,
            counted: true,
            finished: false,
            _thread: std::marker::PhantomData,
        }
    }

    /// A scope that leaves allocation to the wrapped allocator.
    fn inactive() -> Scope {
        Scope {
            active: false,
            counted: true,
            finished: false,
            _thread: std::marker::PhantomData,
        }
    }

    /// Ends the analysis with its result `a`, copied out of the arena when this scope
    /// opened it (the copy made with the arena suspended, so it outlives the scope).
    pub(crate) fn finish(mut self, a: crate::Analysis) -> crate::Analysis {
        self.finished = true;
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
        if !self.finished {
            // Left by a panic: what the unwinding left behind (a panic hook's caches, a
            // payload) may still point into the slot, so it is never used again (nor given
            // back).
            let _ = SLOT.try_with(|o| o.0.set(0));
            return;
        }
        LAST.set(cur.saturating_sub(start));
        // Under the fuzzer the whole used part is overwritten when the scope ends (see
        // `give_back`).
        #[cfg(fuzzing)]
        // SAFETY: the used part of this thread's slot, whose blocks are no longer referred
        // to (the scope has ended and finished).
        unsafe {
            std::ptr::write_bytes(start as *mut u8, 0xA5, cur.saturating_sub(start));
        }
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
/// outlive the analysis); the arena resumes where it was when it is dropped. It belongs to
/// its thread.
pub(crate) struct Suspend((usize, usize), std::marker::PhantomData<*const ()>);

/// Suspends the arena on this thread (see [`Suspend`]).
#[inline]
pub(crate) fn suspend() -> Suspend {
    Suspend(BUMP.replace((0, 0)), std::marker::PhantomData)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_size_has_a_class_whose_blocks_hold_it_aligned() {
        let mut last = 0;
        for size in 1..=MAX_BLOCK {
            let c = class_of(size);
            assert!((1..CLASSES).contains(&c), "size {size}: class {c}");
            let bytes = class_bytes(c);
            assert!(bytes >= size, "size {size}: class {c} holds {bytes}");
            assert_eq!(bytes % GRAIN, 0, "size {size}");
            assert!(c >= last, "size {size}: classes go down");
            // No class wastes more than half its block (beyond the 16-byte steps).
            assert!(size <= SMALL || bytes < 2 * size, "size {size}");
            last = c;
        }
        assert_eq!(class_bytes(class_of(MAX_BLOCK)), MAX_BLOCK);
    }

    #[test]
    fn outside_an_analysis_nothing_comes_from_the_region() {
        let b = Box::new([0u8; 64]);
        assert!(!contains(b.as_ptr()));
        assert!(!contains(std::ptr::null()));
    }
}
