//! Benchmarks (harness = false): a 1,000-line entrypoint script, and a script built to
//! explode (20 independent unknown `if`s). Prints median times; run with
//! `cargo bench -p shellflow --bench analyze`.

use std::time::{Duration, Instant};

use shellflow::{analyze, Invocation, Limits, MemFs};

/// A long entrypoint in the style of the official images: helpers, defaults, a root check,
/// a re-exec under gosu, and side work repeated to reach `lines` lines.
fn long_script(lines: usize) -> String {
    let main = include_str!("../tests/corpus/postgres-entrypoint.sh");
    // Filler helpers run before the final dispatch, so every line is analysed.
    let (body, dispatch) = main.split_at(main.rfind("if ! _is_sourced").unwrap_or(main.len()));
    let mut s = String::from(body);
    let mut i = 0;
    while s.lines().count() + dispatch.lines().count() < lines {
        s.push_str(&format!(
            "helper_{i}() {{\n\tlocal v=\"${{1:-default_{i}}}\"\n\t: \"${{CFG_{i}:=$v}}\"\n\tif [ \"$CFG_{i}\" = 'x' ]; then echo x; fi\n\tmkdir -p \"/tmp/d{i}\"\n}}\nhelper_{i} value\n"
        ));
        i += 1;
    }
    s.push_str(dispatch);
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
    let tp = median(
        || drop(shellflow::parse::parse_program("/entry.sh", &script)),
        21,
    );
    println!("parse only: median {tp:?}");
    println!(
        "long script: {} lines, median {t:?}, {} steps, {} candidates, best {best:?}",
        script.lines().count(),
        a.steps,
        a.candidates.len()
    );
    for (path, what) in [
        ("/explode.sh", "variables"),
        ("/explode-argv.sh", "arguments"),
    ] {
        let inv = Invocation::file(path, &[]);
        let a = analyze(&inv, &fs, &limits);
        let t = median(|| drop(analyze(&inv, &fs, &limits)), 11);
        println!(
            "explosion (20 unknown ifs changing {what}): median {t:?}, {} steps, capped {}, {} candidates, diagnostics {:?}",
            a.steps,
            a.capped,
            a.candidates.len(),
            a.diagnostics
        );
    }
}
