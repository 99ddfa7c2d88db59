//! Fuzz target for shellflow's parser and interpreter: any bytes as an entrypoint script.
//! Invariants: no panic (the analysis thread would report "panicked"), termination within
//! the step cap, and well-formed candidates (one unknown flag per word, confidence in [0, 1],
//! a dropped command is a suffix of the argv).

#![no_main]

use libfuzzer_sys::fuzz_target;
use shellflow::{analyze, Invocation, Limits, MemFs};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (script, args) = match text.split_once('\0') {
        Some((s, a)) => (s.to_string(), a.split(' ').map(str::to_string).collect::<Vec<_>>()),
        None => (text.into_owned(), vec!["postgres".to_string()]),
    };
    let fs = MemFs::new()
        .file("/etc/passwd", "root:x:0:0::/root:/bin/sh\npostgres:x:999:999::/var/lib/postgresql:/bin/sh\n", 0o644)
        .file("/entry.sh", &script, 0o755)
        .file("/lib.sh", &script, 0o644)
        .exe("/usr/local/bin/gosu")
        .exe("/usr/local/bin/postgres");
    let mut inv = Invocation::file("/entry.sh", &[]);
    inv.args = args;
    let limits = Limits { max_steps: 5_000, ..Limits::default() };
    let a = analyze(&inv, &fs, &limits);
    assert!(a.steps <= limits.max_steps + 1, "{} steps", a.steps);
    assert!(!a.diagnostics.iter().any(|d| d.contains("panicked")), "{:?}", a.diagnostics);
    for c in &a.candidates {
        assert_eq!(c.argv.len(), c.unknown.len());
        assert!((0.0..=1.0).contains(&c.confidence));
        if let Some(inner) = &c.inner_argv {
            assert!(c.argv.ends_with(inner));
        }
    }
});
