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

/// CPU time of the whole process (the analysis thread is the only busy one): less
/// sensitive than wall time to the other builds sharing the machine.
fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Median wall time and median CPU time of `runs` calls.
#[derive(Debug)]
struct Timing {
    wall: Duration,
    cpu: Duration,
}

impl std::fmt::Display for Timing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "wall {:?}, cpu {:?}", self.wall, self.cpu)
    }
}

fn median(mut f: impl FnMut(), runs: usize) -> Timing {
    let mut wall = Vec::with_capacity(runs);
    let mut cpu = Vec::with_capacity(runs);
    for _ in 0..runs {
        let (t, c) = (Instant::now(), cpu_time());
        f();
        wall.push(t.elapsed());
        cpu.push(cpu_time().saturating_sub(c));
    }
    wall.sort();
    cpu.sort();
    Timing {
        wall: wall[runs / 2],
        cpu: cpu[runs / 2],
    }
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
    println!("parse only: median {tp}");
    println!(
        "long script: {} lines, median {t}, {} steps, {} candidates, best {best:?}",
        script.lines().count(),
        a.steps,
        a.candidates.len()
    );
    let plain = long_script(1000).replace(
        "file_env 'POSTGRES_USER' 'postgres'",
        "POSTGRES_USER=postgres",
    );
    let fs_plain = fs.clone().file("/plain.sh", &plain, 0o755);
    let mut inv_plain = inv.clone();
    inv_plain.script = shellflow::Script::File {
        path: "/plain.sh".into(),
        name_called_as: "/plain.sh".into(),
    };
    for (k, v) in [
        ("POSTGRES_DB", "db"),
        ("POSTGRES_INITDB_ARGS", "--x"),
        ("POSTGRES_HOST_AUTH_METHOD", "md5"),
    ] {
        inv_plain.env.push((k.into(), v.into()));
    }
    let a = analyze(&inv_plain, &fs_plain, &limits);
    let t = median(|| drop(analyze(&inv_plain, &fs_plain, &limits)), 21);
    println!(
        "long script with its env given (few forks): median {t}, {} steps",
        a.steps
    );
    for (path, what) in [
        ("/explode.sh", "variables"),
        ("/explode-argv.sh", "arguments"),
    ] {
        let inv = Invocation::file(path, &[]);
        let a = analyze(&inv, &fs, &limits);
        let t = median(|| drop(analyze(&inv, &fs, &limits)), 11);
        println!(
            "explosion (20 unknown ifs changing {what}): median {t}, {} steps, capped {}, {} candidates, diagnostics {:?}",
            a.steps,
            a.capped,
            a.candidates.len(),
            a.diagnostics
        );
    }
}
