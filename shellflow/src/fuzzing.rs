//! The one harness behind the cargo-fuzz target `shellflow_analyze` (in `fuzz/`) and the
//! test that replays what the fuzzer found (`tests/robustness.rs`), so both check the same
//! setup and the same invariants.
//!
//! The input is any bytes: a script, optionally followed by `\0` and space-separated
//! arguments. The script is the image's `/entry.sh` (and `/lib.sh`, for `source`), with
//! `gosu` and `postgres` on PATH, and a `/docker-entrypoint.d` to list (with a symlink
//! loop), and Docker's default capability set (so `setpriv -d` and `--bounding-set` are
//! answered). Invariants: no panic (the analysis thread would report
//! "panicked"), termination within the step cap, and well-formed candidates (one unknown flag
//! per word, confidence in [0, 1], a dropped command is a suffix of the argv).

use crate::{analyze, Invocation, Limits, MemFs};

/// Analyses `data` as above; `Err` names the first invariant broken.
pub fn check_one(data: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(data);
    let (script, args) = match text.split_once('\0') {
        Some((s, a)) => (s.to_string(), a.split(' ').map(str::to_string).collect()),
        None => (text.into_owned(), vec!["postgres".to_string()]),
    };
    let fs = MemFs::new()
        .file(
            "/etc/passwd",
            "root:x:0:0::/root:/bin/sh\npostgres:x:999:999::/var/lib/postgresql:/bin/sh\n",
            0o644,
        )
        .file("/entry.sh", &script, 0o755)
        .file("/lib.sh", &script, 0o644)
        .file("/docker-entrypoint.d/10-a.sh", "export A=1\n", 0o755)
        .file("/docker-entrypoint.d/20-b.envsh", "B=2\n", 0o644)
        .symlink("/docker-entrypoint.d/loop", "/docker-entrypoint.d")
        .exe("/usr/local/bin/gosu")
        .exe("/usr/local/bin/postgres")
        .exe("/usr/bin/setpriv")
        .exe("/bin/grep");
    let mut inv = Invocation::file("/entry.sh", &[]);
    inv.args = args;
    inv.capabilities = Some(crate::Capabilities::docker_default());
    let limits = Limits {
        max_steps: 5_000,
        ..Limits::default()
    };
    let a = analyze(&inv, &fs, &limits);
    if a.steps > limits.max_steps + 1 {
        return Err(format!(
            "{} steps past a cap of {}",
            a.steps, limits.max_steps
        ));
    }
    if let Some(d) = a.diagnostics.iter().find(|d| d.contains("panicked")) {
        return Err(format!("the analysis panicked: {d}"));
    }
    for c in &a.candidates {
        if c.argv.len() != c.unknown.len() {
            return Err(format!(
                "{:?}: unknown flags do not match the words",
                c.argv
            ));
        }
        if !(0.0..=1.0).contains(&c.confidence) {
            return Err(format!("{:?}: confidence {}", c.argv, c.confidence));
        }
        if let Some(inner) = c.inner_argv.as_ref().filter(|i| !c.argv.ends_with(i)) {
            return Err(format!("{inner:?} is not a suffix of {:?}", c.argv));
        }
    }
    Ok(())
}
