//! The stack an analysis runs on: large, so that deeply nested (hostile) scripts meet the
//! caps in [`crate::Limits`] before its end, and kept from one analysis to the next on a
//! thread.
//!
//! An analysis used to get a new thread with a 256 MiB stack. Its frames then landed on
//! pages the kernel had to fault in afresh, about a dozen per analysis of the long bench
//! script, and on these virtual machines a fault costs tens of microseconds: running on a
//! kept stack took the bench's median from 6.37 to 5.88 ms (21 interleaved runs of
//! `cargo bench -p shellflow --bench analyze -- long`), where mapping a new stack for each
//! call (`stacker::grow`) gave 6.14 ms. So this module maps the stack once per thread and
//! switches to it with `psm`, the crate `stacker` is built on; `stacker` cannot keep a
//! stack for the next call.
//! After each analysis the pages below the top [`KEEP_BYTES`] are given back, so a deep
//! script does not leave its stack's memory behind. A call made while the thread's stack
//! is in use (an analysis started from inside one) maps a stack of its own for the call.

use std::cell::Cell;
use std::ptr::NonNull;

/// The usable size of an analysis stack (its guard page lies below).
pub(crate) const STACK_BYTES: usize = 256 << 20;

/// How much of the stack's top stays mapped between analyses: more than an ordinary script
/// touches, little enough to keep on every thread that ran one.
const KEEP_BYTES: usize = 2 << 20;

/// One mapped stack: a guard page at its low end, then [`STACK_BYTES`] readable and
/// writable.
struct Mapping {
    base: NonNull<u8>,
    page: usize,
}

impl Mapping {
    fn new() -> Option<Mapping> {
        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).ok()?;
        if !page.is_power_of_two() || STACK_BYTES & (page - 1) != 0 {
            return None;
        }
        // SAFETY: an anonymous private mapping at an address the kernel picks; the result is
        // checked before use.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                STACK_BYTES + page,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return None;
        }
        let mapping = Mapping {
            base: NonNull::new(base.cast::<u8>())?,
            page,
        };
        // SAFETY: the range is inside the mapping just made; the lowest page stays PROT_NONE
        // as the guard.
        let rc = unsafe {
            libc::mprotect(
                mapping.stack_low().cast(),
                STACK_BYTES,
                libc::PROT_READ | libc::PROT_WRITE,
            )
        };
        // On failure `mapping` is dropped, which unmaps it.
        (rc == 0).then_some(mapping)
    }

    /// The low end of the usable stack, just above the guard page.
    fn stack_low(&self) -> *mut u8 {
        // SAFETY: `page` bytes into a mapping of `STACK_BYTES + page` bytes.
        unsafe { self.base.as_ptr().add(self.page) }
    }

    /// Gives the kernel back the pages below the top [`KEEP_BYTES`]; they read as zeros
    /// when next touched. Failure only keeps the memory.
    fn trim(&self) {
        // SAFETY: the range lies inside the usable stack, which nothing runs on now.
        unsafe {
            libc::madvise(
                self.stack_low().cast(),
                STACK_BYTES - KEEP_BYTES,
                libc::MADV_DONTNEED,
            );
        }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the whole mapping made in `Mapping::new`, unmapped once; nothing runs on
        // it (it is dropped only when no call is on it).
        unsafe {
            libc::munmap(self.base.as_ptr().cast(), STACK_BYTES + self.page);
        }
    }
}

thread_local! {
    /// This thread's analysis stack, kept between analyses; `None` before the first and
    /// while one runs on it.
    static KEPT: Cell<Option<Mapping>> = const { Cell::new(None) };
}

/// Runs `f` on an analysis stack, with a panic in `f` caught and given back as `Err`; `None`
/// when no stack could be mapped (and `f` has not run).
pub(crate) fn on_analysis_stack<R>(f: impl FnOnce() -> R) -> Option<std::thread::Result<R>> {
    let mapping = match KEPT.with(Cell::take) {
        Some(m) => m,
        None => Mapping::new()?,
    };
    let run = || std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    // SAFETY: the stack is page-aligned, `STACK_BYTES` is a multiple of the page size (so of
    // the target's stack alignment), it fits `isize`, and it is guarded by a PROT_NONE page
    // below; it is this call's alone (taken out of `KEPT`, or new). `run` cannot unwind: it
    // catches the panic and returns it.
    let result = unsafe { psm::on_stack(mapping.stack_low(), STACK_BYTES, run) };
    mapping.trim();
    KEPT.with(|k| {
        // A stack already back in place (an analysis ran inside this one) is kept, and this
        // one unmapped.
        let other = k.replace(Some(mapping));
        if let Some(other) = other {
            k.set(Some(other));
        }
    });
    Some(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_on_the_kept_stack_and_reuses_it() {
        let depth = |n: u32| -> u32 {
            fn down(n: u32) -> u32 {
                let pad = std::hint::black_box([0u8; 1024]);
                if n == 0 {
                    u32::from(pad[0])
                } else {
                    down(n - 1) + u32::from(pad[1]) + 1
                }
            }
            down(n)
        };
        // 64 Ki frames of at least 1 KiB: far past the 8 MiB a main thread gets.
        let first = on_analysis_stack(|| depth(64 * 1024)).expect("mapped");
        assert_eq!(first.expect("no panic"), 64 * 1024);
        let base = KEPT.with(|k| {
            let m = k.take().expect("kept after the call");
            let b = m.base;
            k.set(Some(m));
            b
        });
        let again = on_analysis_stack(|| depth(10)).expect("mapped");
        assert_eq!(again.expect("no panic"), 10);
        let base_again = KEPT.with(|k| {
            let m = k.take().expect("kept");
            let b = m.base;
            k.set(Some(m));
            b
        });
        assert_eq!(base, base_again, "the second call reused the first stack");
    }

    #[test]
    fn a_panic_comes_back_as_err_and_the_stack_is_kept() {
        let r = on_analysis_stack(|| -> u32 { panic!("boom") }).expect("mapped");
        assert!(r.is_err());
        assert!(KEPT.with(|k| {
            let m = k.take();
            let kept = m.is_some();
            k.set(m);
            kept
        }));
    }

    #[test]
    fn a_call_inside_a_call_gets_its_own_stack() {
        let r = on_analysis_stack(|| on_analysis_stack(|| 7).expect("mapped").expect("no panic"))
            .expect("mapped")
            .expect("no panic");
        assert_eq!(r, 7);
    }
}
