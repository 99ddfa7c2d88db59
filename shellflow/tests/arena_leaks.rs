//! What an analysis leaves to the arena when it ends (`arena::discard`: the parsed script,
//! not walked block by block) is only ever memory of the arena's slot. A script whose AST
//! does not fit the arena's blocks (a word or a list longer than its largest block) has
//! part of it from the wrapped allocator: that part must still be freed. Here the wrapped
//! allocator counts what it holds, and analyses repeated on one thread must not make that
//! grow.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use shellflow::{analyze, arena, Invocation, Limits, MemFs};

#[path = "common/long_script.rs"]
mod long_script;

/// The system allocator, counting the bytes it holds.
struct Counting;

static HELD: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call goes to `System` with the caller's guarantees; the count is a side
// effect.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's guarantees for `alloc`.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            HELD.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's guarantees for `dealloc`.
        unsafe { System.dealloc(ptr, layout) };
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's guarantees for `realloc`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            HELD.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        p
    }
}

#[global_allocator]
static ARENA: arena::Arena<Counting> = arena::Arena::new(Counting);

/// How much the wrapped allocator's holdings grow over `runs` analyses of `script`, after
/// a few to warm every cache up (the thread's name table, brush-parser's caches).
fn growth(script: &str, runs: usize) -> isize {
    let fs = MemFs::new()
        .file("/etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0o644)
        .file("/entry.sh", script, 0o755)
        .exe("/usr/local/bin/server");
    let inv = Invocation::file("/entry.sh", &["server"]);
    let limits = Limits::default();
    let once = || {
        let a = analyze(&inv, &fs, &limits);
        assert!(
            a.candidates.iter().any(|c| c.argv[0].ends_with("server")),
            "no candidate runs the server: {:#?}",
            a.candidates
        );
        assert!(arena::last_use() > 0, "the arena served nothing");
    };
    for _ in 0..3 {
        once();
    }
    let before = HELD.load(Ordering::Relaxed);
    for _ in 0..runs {
        once();
    }
    HELD.load(Ordering::Relaxed) - before
}

// One test, so that no other thread allocates while the counts are read.
#[test]
fn what_an_analysis_leaves_to_the_arena_never_holds_memory_of_the_wrapped_allocator() {
    // All of the AST in the arena's slot: left to it.
    let long = long_script::long_script(1000);
    // A word of 100 kB (past the arena's largest block, 64 KiB): its text comes from the
    // wrapped allocator, so the AST must be freed block by block.
    let word = format!(
        "#!/bin/sh\nbig=\"{}\"\necho \"${{#big}}\"\nexec /usr/local/bin/server\n",
        "x".repeat(100_000)
    );
    // 4,000 top-level commands: the program's list of them (24 bytes each) outgrows the
    // largest block while the parser fills it.
    let mut many = String::from("#!/bin/sh\n");
    for i in 0..4000 {
        many.push_str(&format!("v{i}=1\n"));
    }
    many.push_str("exec /usr/local/bin/server \"$v1\"\n");
    for (name, script) in [("long", &long), ("word", &word), ("many", &many)] {
        let grew = growth(script, 8);
        assert!(
            grew < 4096,
            "{name}: the wrapped allocator holds {grew} bytes more after 8 analyses"
        );
    }
}
