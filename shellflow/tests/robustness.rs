//! Hostile and random input: no panic, termination within the step cap, caps reported.
//! Random token soups come from proptest so CI exercises what the cargo-fuzz target does.

use proptest::prelude::*;
use shellflow::{analyze, Invocation, Limits, MemFs};

/// Every analysis in this test binary runs in shellflow's arena, as in the shipped binary
/// (here in front of the system allocator).
#[global_allocator]
static ARENA: shellflow::arena::Arena<std::alloc::System> =
    shellflow::arena::Arena::new(std::alloc::System);

fn run(script: &str, limits: &Limits) -> shellflow::Analysis {
    let fs = MemFs::new()
        .file("/entry.sh", script, 0o755)
        .file("/lib.sh", ". /lib.sh\nexec from-lib", 0o644)
        .exe("/usr/local/bin/gosu");
    analyze(&Invocation::file("/entry.sh", &["a", "-b"]), &fs, limits)
}

#[test]
fn recursion_and_cycles_end_at_their_caps() {
    let limits = Limits::default();
    for script in [
        "f() { f \"$@\"; }\nf",
        "f() { x=$(f); }\nf",
        "x='eval \"$x\"'\neval \"$x\"",
        ". /entry.sh",
        ". /lib.sh",
        "while :; do :; done\nexec after-loop",
        "until false; do shift; done",
        "exec gosu root \"$0\" \"$@\"",
        "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do set -- \"$@\" \"$@\"; done\nexec x \"$@\"",
    ] {
        let a = run(script, &limits);
        assert!(
            a.steps <= limits.max_steps + 1,
            "{script}: {} steps",
            a.steps
        );
        assert!(
            !a.diagnostics.iter().any(|d| d.contains("panicked")),
            "{script}: {:?}",
            a.diagnostics
        );
        assert!(
            a.capped || !a.candidates.is_empty() || !a.diagnostics.is_empty(),
            "{script}: {a:?}"
        );
    }
}

#[test]
fn twenty_independent_unknown_ifs_are_capped_not_exponential() {
    let mut script = String::from("#!/bin/sh\n");
    for i in 0..20 {
        script.push_str(&format!(
            "if [ -n \"$UNSET_{i}\" ]; then set -- \"$@\" a{i}; fi\n"
        ));
    }
    script.push_str("exec server \"$@\"\n");
    let limits = Limits::default();
    let t = std::time::Instant::now();
    let a = run(&script, &limits);
    assert!(a.capped, "{:?}", a.diagnostics);
    assert!(a.diagnostics.iter().any(|d| d.contains("path cap")));
    assert!(!a.candidates.is_empty());
    assert!(a.candidates.iter().all(|c| c.confidence < 1.0));
    assert!(t.elapsed().as_secs() < 10);
}

const TOKENS: &[&str] = &[
    "if",
    "then",
    "else",
    "elif",
    "fi",
    "case",
    "in",
    "esac",
    ";;",
    "while",
    "until",
    "do",
    "done",
    "for",
    "x",
    "f()",
    "{",
    "}",
    "(",
    ")",
    "$(",
    "`",
    "\"",
    "'",
    ";",
    "&&",
    "||",
    "|",
    "&",
    "\n",
    "!",
    "[[",
    "]]",
    "[",
    "]",
    "-z",
    "-f",
    "=",
    "==",
    "!=",
    "=~",
    "$@",
    "\"$@\"",
    "$1",
    "$#",
    "${1:0:1}",
    "${x:-d}",
    "${x:=d}",
    "${!x}",
    "${!P@}",
    "${x#-}",
    "${x%%.*}",
    "${x//a/b}",
    "$((1+2))",
    "exec",
    "gosu",
    "postgres",
    "set",
    "--",
    "shift",
    "eval",
    ".",
    "/lib.sh",
    "source",
    "local",
    "export",
    "X=1",
    "arr=(a b)",
    "\"${arr[@]}\"",
    "return",
    "exit",
    "break",
    "continue",
    "<<EOF",
    "EOF",
    ">",
    "/tmp/x",
    "2>&1",
    "echo",
    "printf",
    "id",
    "-u",
    "test",
    "read",
    "true",
    "false",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn random_token_soups_never_panic_and_stay_within_the_step_cap(
        idx in proptest::collection::vec(0..TOKENS.len(), 0..60)
    ) {
        let script: Vec<&str> = idx.iter().map(|i| TOKENS[*i]).collect();
        let script = script.join(" ");
        let limits = Limits { max_steps: 2_000, ..Limits::default() };
        let a = run(&script, &limits);
        prop_assert!(a.steps <= limits.max_steps + 1);
        prop_assert!(!a.diagnostics.iter().any(|d| d.contains("panicked")), "{:?}", a.diagnostics);
        for c in &a.candidates {
            prop_assert!(c.confidence >= 0.0 && c.confidence <= 1.0);
            prop_assert_eq!(c.argv.len(), c.unknown.len());
            if let Some(inner) = &c.inner_argv {
                prop_assert!(c.argv.ends_with(inner));
            }
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let script = String::from_utf8_lossy(&bytes).into_owned();
        let limits = Limits { max_steps: 2_000, ..Limits::default() };
        let a = run(&script, &limits);
        prop_assert!(a.steps <= limits.max_steps + 1);
        prop_assert!(!a.diagnostics.iter().any(|d| d.contains("panicked")), "{:?}", a.diagnostics);
    }
}

/// Inputs the cargo-fuzz target (`fuzz/`, `shellflow_analyze`) once failed on, replayed with
/// that target's setup and invariants: each file is a script, optionally `\0` then arguments.
#[test]
fn inputs_the_fuzzer_found_keep_the_fuzz_target_invariants() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("fuzz-regressions dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no inputs in {}", dir.display());
    for path in files {
        let data = std::fs::read(&path).expect("read input");
        if let Err(e) = shellflow::fuzzing::check_one(&data) {
            panic!("{}: {e}", path.display());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    /// `printf` formats and `sed` scripts are written by the image author: any of them,
    /// over any arguments and input, gives an output or an unknown, never a panic.
    #[test]
    fn hostile_printf_formats_and_sed_scripts_never_panic(
        fmt in "[%\\\\0-9a-z.*#+ '\"$-]{0,24}",
        script in "[s/|;\\\\()&0-9a-zA-Z.*+?^$\\[\\] -]{0,24}",
        args in proptest::collection::vec("[a-z0-9'\\\\%-]{0,6}", 0..4),
    ) {
        let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
        let words: Vec<String> = args.iter().map(|a| quote(a)).collect();
        let text = format!(
            "x=$(printf {} {})\ny=$(printf '%s\\n' \"$x\" | sed -e {})\nz=$(sed -n -E {} /entry.sh)\nexec app \"$x\" \"$y\" \"$z\"\n",
            quote(&fmt),
            words.join(" "),
            quote(&script),
            quote(&script),
        );
        let limits = Limits { max_steps: 2_000, ..Limits::default() };
        let a = run(&text, &limits);
        prop_assert!(!a.diagnostics.iter().any(|d| d.contains("panicked")), "{:?}", a.diagnostics);
        prop_assert_eq!(a.candidates.len(), 1, "{:?}", a);
    }
}

/// A script that sets `x` with `first`, doubles it `times` times (`x="$x$x"`), then runs
/// `exec server` with `args`.
fn doubling(first: &str, times: usize, args: &str) -> String {
    let mut script = format!("#!/bin/sh\nx={first}\n");
    for _ in 0..times {
        script.push_str("x=\"$x$x\"\n");
    }
    script.push_str(&format!("exec server {args}\n"));
    script
}

#[test]
fn a_value_doubled_line_after_line_stops_growing_at_the_text_cap() {
    // 2 bytes doubled 30 times would be 2 GiB; past 1 MiB the value becomes unknown.
    let script = doubling("ab", 30, "\"$x\" \"${#x}\"");
    let a = run(&script, &Limits::default());
    let c = &a.candidates[0];
    assert_eq!(c.argv[0], "server");
    assert!(c.unknown[1], "{:.80}", c.argv[1]);
    assert!(
        c.argv[1].contains("text longer than 1 MiB"),
        "{:.200}",
        c.argv[1]
    );
    assert!(c.argv.iter().all(|w| w.len() < 4096));
}

#[test]
fn a_partly_unknown_value_doubled_stops_growing_at_the_piece_cap() {
    // Each doubling doubles the pieces (unknown, "y", unknown, "y"…): 2^26 of them before.
    let script = doubling("\"$(cat /nope)y\"", 26, "\"$x\"");
    let a = run(&script, &Limits::default());
    let c = &a.candidates[0];
    assert_eq!(c.argv[0], "server");
    assert!(
        c.argv[1].contains("more than 64 pieces"),
        "{:.200}",
        c.argv[1]
    );
    assert!(c.argv[1].len() < 4096, "{:.200}", c.argv[1]);
}
