//! Benchmarks (harness = false): a 1,000-line entrypoint script, and a script built to
//! explode (20 independent unknown `if`s). Prints median times; run with
//! `cargo bench -p shellflow --bench analyze`.

use std::time::{Duration, Instant};

use shellflow::{analyze, Invocation, Limits, MemFs};

/// A long entrypoint in the style of the official images: helpers, defaults, a root check,
/// a re-exec under gosu, and side work repeated to reach `lines` lines.
fn long_script(lines: usize) -> String {
    let mut s = String::from("#!/bin/bash\nset -Eeo pipefail\n");
    s.push_str(include_str!("../tests/corpus/postgres-entrypoint.sh"));
    // Strip the final dispatch, add filler helpers, then dispatch again.
    let mut i = 0;
    while s.lines().count() < lines - 4 {
        s.push_str(&format!(
            "helper_{i}() {{\n\tlocal v=\"${{1:-default_{i}}}\"\n\t: \"${{CFG_{i}:=$v}}\"\n\tif [ \"$CFG_{i}\" = 'x' ]; then echo x; fi\n\tmkdir -p \"/tmp/d{i}\"\n}}\nhelper_{i} value\n"
        ));
        i += 1;
    }
    s
}

/// `n` independent unknown `if`s; with `argv` each one changes the arguments, so paths
/// cannot be merged and the path cap must stop the explosion.
fn explode(n: usize, argv: bool) -> String {
    let mut s = String::from("#!/bin/sh\n");
    for i in 0..n {
        let body = if argv {
            format!("set -- \"$@\" a{i}")
        } else {
            format!("A{i}=1; else A{i}=2")
        };
        s.push_str(&format!("if [ -n \"$UNSET_{i}\" ]; then {body}; fi\n"));
    }
    s.push_str("exec server \"$@\"\n");
    s
}

fn median(mut f: impl FnMut(), runs: usize) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn main() {
    let passwd = "root:x:0:0::/root:/bin/sh\npostgres:x:999:999::/var/lib/postgresql:/bin/sh\n";
    let script = long_script(1000);
    let fs = MemFs::new()
        .file("/etc/passwd", passwd, 0o644)
        .file("/entry.sh", &script, 0o755)
        .file("/explode.sh", &explode(20, false), 0o755)
        .file("/explode-argv.sh", &explode(20, true), 0o755)
        .exe("/usr/local/bin/gosu")
        .exe("/usr/local/bin/postgres")
        .exe("/usr/local/bin/server");
    let limits = Limits::default();
    let mut inv = Invocation::file("/entry.sh", &["postgres"]);
    inv.env
        .push(("PGDATA".into(), "/var/lib/postgresql/data".into()));
    inv.env.push(("POSTGRES_PASSWORD".into(), "pw".into()));
    let a = analyze(&inv, &fs, &limits);
    let best = a
        .candidates
        .first()
        .map(|c| (c.argv.clone(), c.user.display()));
    let t = median(|| drop(analyze(&inv, &fs, &limits)), 21);
    println!(
        "long script: {} lines, median {:?}, best {:?}",
        script.lines().count(),
        t,
        best
    );

    let inv = Invocation::file("/explode.sh", &[]);
    let a = analyze(&inv, &fs, &limits);
    let t = median(|| drop(analyze(&inv, &fs, &limits)), 11);
    println!(
        "explosion (20 unknown ifs): median {:?}, capped {}, diagnostics {:?}",
        t, a.capped, a.diagnostics
    );
}
