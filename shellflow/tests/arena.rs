//! The analysis arena (`shellflow::arena`), installed here as in the `entrytrace` binary: an
//! analysis gives the same result with it and without it, again and again on one thread
//! and on threads that come and go; nothing of a result, of a filesystem's own cache, or
//! of what a panic leaves behind points into memory the arena hands out again.

mod common;

use std::sync::Mutex;

use shellflow::{
    analyze, arena, Analysis, FileStat, FsError, ImageFs, Invocation, Limits, MemFs, Script,
};

#[path = "common/long_script.rs"]
mod long_script;

const CORPUS: &[(&str, &str)] = &[
    ("postgres", include_str!("corpus/postgres-entrypoint.sh")),
    ("redis", include_str!("corpus/redis-entrypoint.sh")),
    ("nginx", include_str!("corpus/nginx-entrypoint.sh")),
    ("mysql", include_str!("corpus/mysql-entrypoint.sh")),
    ("supervisor", include_str!("corpus/supervisor-start.sh")),
    ("apache", include_str!("corpus/apache-foreground.sh")),
];

/// Each corpus script and the long bench script, as the image's entrypoint, with the
/// invocation that runs it.
fn cases() -> Vec<(String, MemFs, Invocation)> {
    let mut out = Vec::new();
    let long = long_script::long_script(1000);
    let scripts = CORPUS
        .iter()
        .map(|(n, s)| (n.to_string(), s.to_string()))
        .chain([("long".to_string(), long)]);
    for (name, text) in scripts {
        let fs = common::image().file(common::ENTRY, &text, 0o755);
        let inv = Invocation::file(common::ENTRY, &["postgres"]);
        out.push((name, fs, inv));
    }
    out
}

fn shown(a: &Analysis) -> String {
    format!("{a:#?}")
}

#[test]
fn an_analysis_gives_the_same_result_with_the_arena_and_without_it() {
    let limits = Limits::default();
    for (name, fs, inv) in cases() {
        let plain = arena::bypass(|| analyze(&inv, &fs, &limits));
        assert_eq!(
            arena::last_use(),
            0,
            "{name}: bypassed, yet the arena served"
        );
        for round in 0..3 {
            let a = analyze(&inv, &fs, &limits);
            assert!(
                arena::last_use() > 0,
                "{name}: the arena served nothing (round {round})"
            );
            assert_eq!(shown(&a), shown(&plain), "{name}, round {round}");
        }
    }
}

/// Every heap block a result owns, as (what, address).
fn blocks(a: &Analysis) -> Vec<(String, *const u8)> {
    let mut out: Vec<(String, *const u8)> = Vec::new();
    let mut s = |what: &str, t: &String| {
        if t.capacity() > 0 {
            out.push((format!("{what} {t:?}"), t.as_ptr()));
        }
    };
    for d in &a.diagnostics {
        s("diagnostic", d);
    }
    let mut reasons = Vec::new();
    let mut assumptions = Vec::new();
    for c in a.candidates.iter().chain(&a.services) {
        for w in c.argv.iter().chain(c.inner_argv.iter().flatten()) {
            s("argv word", w);
        }
        if let Some(n) = &c.user.name {
            s("user", n);
        }
        for (k, v) in c.env.iter().chain(&c.env_delta) {
            s("env name", k);
            s("env value", v);
        }
        s("cwd", &c.cwd);
        reasons.extend(&c.reasons);
        assumptions.extend(&c.assumptions);
    }
    let mut locations = Vec::new();
    for e in &a.exits {
        reasons.extend(&e.reasons);
        assumptions.extend(&e.assumptions);
        locations.extend(&e.location);
    }
    for r in reasons {
        s("reason", &r.message);
        locations.extend(&r.location);
    }
    for x in assumptions {
        s("assumption", x);
    }
    for l in locations {
        out.push((format!("location file {}", l.file), l.file.as_ptr()));
    }
    for c in &a.candidates {
        out.push(("argv".into(), c.argv.as_ptr().cast()));
        out.push(("reasons".into(), c.reasons.as_ptr().cast()));
    }
    out.push(("candidates".into(), a.candidates.as_ptr().cast()));
    out
}

#[test]
fn a_result_holds_nothing_the_arena_hands_out_again() {
    let limits = Limits::default();
    for (name, fs, inv) in cases() {
        let a = analyze(&inv, &fs, &limits);
        assert!(arena::last_use() > 0, "{name}: the arena served nothing");
        let blocks = blocks(&a);
        assert!(blocks.len() > 5, "{name}: too little to check");
        for (what, p) in blocks {
            assert!(!arena::contains(p), "{name}: {what} is in the arena");
        }
    }
}

/// A filesystem that keeps a note of every path it is asked about, as a caching image
/// filesystem keeps what it resolved: the notes outlive the analysis.
struct Noting {
    inner: MemFs,
    notes: Mutex<Vec<String>>,
}

impl ImageFs for Noting {
    fn read_file(&self, path: &str) -> Result<Vec<u8>, FsError> {
        self.notes.lock().unwrap().push(format!("read {path}"));
        self.inner.read_file(path)
    }

    fn stat(&self, path: &str) -> Option<FileStat> {
        self.notes.lock().unwrap().push(format!("stat {path}"));
        self.inner.stat(path)
    }

    fn list_dir(&self, path: &str) -> Vec<String> {
        self.notes.lock().unwrap().push(format!("list {path}"));
        self.inner.list_dir(path)
    }
}

#[test]
fn what_a_filesystem_keeps_from_an_analysis_is_not_in_the_arena() {
    let limits = Limits::default();
    let (_, inner, inv) = cases().swap_remove(0);
    let fs = Noting {
        inner,
        notes: Mutex::new(Vec::new()),
    };
    let first = analyze(&inv, &fs, &limits);
    let kept: Vec<String> = fs.notes.lock().unwrap().clone();
    assert!(kept.iter().any(|n| n == &format!("read {}", common::ENTRY)));
    // More analyses reuse the arena; the notes of the first must be untouched.
    for _ in 0..3 {
        assert_eq!(shown(&analyze(&inv, &fs, &limits)), shown(&first));
    }
    let notes = fs.notes.lock().unwrap();
    assert_eq!(notes[..kept.len()], kept[..]);
    for n in notes.iter() {
        assert!(!arena::contains(n.as_ptr()), "note {n:?} is in the arena");
    }
}

/// A filesystem that panics when the script sources `/boom.sh`.
struct Boom(MemFs);

impl ImageFs for Boom {
    fn read_file(&self, path: &str) -> Result<Vec<u8>, FsError> {
        assert_ne!(path, "/boom.sh", "the filesystem panics on /boom.sh");
        self.0.read_file(path)
    }

    fn stat(&self, path: &str) -> Option<FileStat> {
        self.0.stat(path)
    }

    fn list_dir(&self, path: &str) -> Vec<String> {
        self.0.list_dir(path)
    }
}

#[test]
fn after_a_panic_later_analyses_on_the_thread_are_right() {
    let limits = Limits::default();
    let fs = Boom(common::image().file("/boom.sh", "x=1\n", 0o644).file(
        "/entry.sh",
        "#!/bin/sh\nA=$(id -u)\n. /boom.sh\nexec redis-server\n",
        0o755,
    ));
    let boom = analyze(&Invocation::file("/entry.sh", &[]), &fs, &limits);
    assert!(
        boom.diagnostics.iter().any(|d| d.contains("panicked")),
        "{:?}",
        boom.diagnostics
    );
    for (name, fs, inv) in cases() {
        let plain = arena::bypass(|| analyze(&inv, &fs, &limits));
        let a = analyze(&inv, &fs, &limits);
        assert!(arena::last_use() > 0, "{name}: no slot after the panic");
        assert_eq!(shown(&a), shown(&plain), "{name}");
    }
}

#[test]
fn threads_give_their_slot_back_when_they_end() {
    let limits = Limits::default();
    let (_, fs, inv) = cases().swap_remove(1);
    let plain = arena::bypass(|| analyze(&inv, &fs, &limits));
    // More threads than slots, one after the other: each finds a slot.
    for i in 0..(arena::SLOTS + 16) {
        let (a, used) = std::thread::scope(|s| {
            s.spawn(|| (analyze(&inv, &fs, &limits), arena::last_use()))
                .join()
                .unwrap()
        });
        assert!(used > 0, "thread {i} found no slot");
        assert_eq!(shown(&a), shown(&plain), "thread {i}");
    }
}

#[test]
fn a_sh_c_string_and_a_failed_read_come_back_whole() {
    let limits = Limits::default();
    let fs = common::image();
    let mut inv = Invocation::file("/nowhere.sh", &[]);
    let missing = analyze(&inv, &fs, &limits);
    assert!(!missing.diagnostics.is_empty());
    for (what, p) in blocks(&missing) {
        assert!(!arena::contains(p), "{what} is in the arena");
    }
    inv.script = Script::String {
        text: "exec redis-server --port \"${PORT:-6379}\"".into(),
    };
    let a = analyze(&inv, &fs, &limits);
    assert_eq!(a.candidates[0].argv, ["redis-server", "--port", "6379"]);
    for (what, p) in blocks(&a) {
        assert!(!arena::contains(p), "{what} is in the arena");
    }
}
