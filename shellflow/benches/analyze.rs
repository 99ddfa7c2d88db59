//! Benchmarks (harness = false): a 1,000-line entrypoint script (the postgres entrypoint
//! plus side work cycling through the idioms: defaults, indirection, `case`, arrays, `[[ ]]`,
//! heredocs, pipelines into `while read`, `command -v`), and scripts built to explode (20
//! independent unknown `if`s). Prints median wall and CPU times; run with
//! `cargo bench -p shellflow --bench analyze [-- long|plain|explosion|envloop|first]`
//! (`first`: the long script's first analysis, each in a new process, as the hook runs it). On a shared machine,
//! `SHELLFLOW_BENCH_RUNS=1 valgrind --tool=callgrind target/release/deps/analyze-* long`
//! gives instruction counts that do not depend on the load.

use std::time::{Duration, Instant};

use shellflow::{analyze, Invocation, Limits, MemFs};

/// The allocator the `entrytrace` binary uses (`hook/src/alloc.rs`, the same file, behind
/// shellflow's arena as in `hook/src/main.rs`), so the figures are those of the shipped
/// analysis. `SHELLFLOW_BENCH_NO_ARENA=1` runs the analyses with the arena bypassed.
#[path = "../../hook/src/alloc.rs"]
mod alloc;
#[global_allocator]
static GLOBAL: shellflow::arena::Arena<alloc::MiMalloc> =
    shellflow::arena::Arena::new(alloc::MiMalloc);

#[path = "../tests/common/long_script.rs"]
mod long_script;
use long_script::long_script;

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

/// How many times to run a case: `runs`, or `SHELLFLOW_BENCH_RUNS` (`1` runs each case once,
/// for `valgrind --tool=callgrind`, whose instruction counts do not depend on the load of a
/// shared machine).
fn runs(default: usize) -> usize {
    std::env::var("SHELLFLOW_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(default)
        .max(1)
}

fn median(mut f: impl FnMut(), runs: usize) -> Timing {
    let runs = self::runs(runs);
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

/// Whether the section `name` runs: all of them, or those named on the command line
/// (`cargo bench -p shellflow --bench analyze -- long`).
fn wanted(name: &str) -> bool {
    let picked: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    picked.is_empty() || picked.iter().any(|p| name.contains(p.as_str()))
}

fn main() {
    if std::env::var_os("SHELLFLOW_BENCH_NO_ARENA").is_some() {
        shellflow::arena::bypass(run);
    } else {
        run();
    }
}

fn run() {
    let passwd = "root:x:0:0::/root:/bin/sh\npostgres:x:999:999::/var/lib/postgresql:/bin/sh\n";
    let script = long_script(1000);
    // `SHELLFLOW_BENCH_DUMP=/tmp/long.sh` writes the script out, to read it or `bash -n` it.
    if let Some(path) = std::env::var_os("SHELLFLOW_BENCH_DUMP") {
        if let Err(e) = std::fs::write(&path, &script) {
            eprintln!("cannot write {}: {e}", path.to_string_lossy());
        }
    }
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
    if std::env::var_os(FIRST_CHILD).is_some() {
        // A child of `bench_first`: one analysis in this fresh process, its wall time in µs.
        let t = Instant::now();
        let a = analyze(&inv, &fs, &limits);
        let us = t.elapsed().as_micros();
        assert!(!a.candidates.is_empty(), "the long script has a candidate");
        println!("{us}");
        return;
    }
    if wanted("long") {
        bench_long(&script, &inv, &fs, &limits);
    }
    if wanted("plain") {
        bench_plain(&inv, &fs, &limits);
    }
    if wanted("explosion") {
        bench_explosion(&fs, &limits);
    }
    if wanted("envloop") {
        bench_env_loop(&limits);
    }
    if wanted("first") {
        bench_first();
    }
}

/// Set in the environment of the processes [`bench_first`] starts.
const FIRST_CHILD: &str = "SHELLFLOW_BENCH_FIRST_CHILD";

/// The long script's first analysis in a fresh process, as the hook runs one (every page
/// the analysis touches is faulted in, nothing is warm): each run is a new process of
/// this bench.
fn bench_first() {
    let me = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("first analysis: cannot find this bench's executable: {e}");
            return;
        }
    };
    let runs = runs(21);
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let out = std::process::Command::new(&me)
            .env(FIRST_CHILD, "1")
            .output();
        let us = out
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse::<u64>().ok());
        match us {
            Some(us) => times.push(Duration::from_micros(us)),
            None => {
                eprintln!("first analysis: a child run failed");
                return;
            }
        }
    }
    times.sort();
    println!(
        "first analysis in a fresh process (long script, as the hook runs one): median wall {:?} over {runs} processes",
        times[runs / 2]
    );
}

/// The long script as the image gives it: most env unset, so tests on it fork.
fn bench_long(script: &str, inv: &Invocation, fs: &MemFs, limits: &Limits) {
    let a = analyze(inv, fs, limits);
    let best = a
        .candidates
        .first()
        .map(|c| (c.argv.clone(), c.user.display()));
    let t = median(|| drop(analyze(inv, fs, limits)), 21);
    let used = shellflow::arena::last_use();
    let tp = median(
        || drop(shellflow::parse::parse_program("/entry.sh", script)),
        21,
    );
    println!("parse only: median {tp}");
    println!(
        "long script: {} lines, median {t}, {} KiB of arena, {} steps, {} candidates, best {best:?}",
        script.lines().count(),
        used >> 10,
        a.steps,
        a.candidates.len()
    );
}

/// The long script with the env its tests look at given: few forks.
fn bench_plain(inv: &Invocation, fs: &MemFs, limits: &Limits) {
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
    let a = analyze(&inv_plain, &fs_plain, limits);
    let t = median(|| drop(analyze(&inv_plain, &fs_plain, limits)), 21);
    println!(
        "long script with its env given (few forks): median {t}, {} steps",
        a.steps
    );
}

/// Scripts built to explode: 20 independent unknown `if`s.
fn bench_explosion(fs: &MemFs, limits: &Limits) {
    for (path, what) in [
        ("/explode.sh", "variables"),
        ("/explode-argv.sh", "arguments"),
    ] {
        let inv = Invocation::file(path, &[]);
        let a = analyze(&inv, fs, limits);
        let t = median(|| drop(analyze(&inv, fs, limits)), 11);
        println!(
            "explosion (20 unknown ifs changing {what}): median {t}, {} steps, capped {}, {} candidates, diagnostics {:?}",
            a.steps,
            a.capped,
            a.candidates.len(),
            a.diagnostics
        );
    }
}

/// kibana's shape: a loop over 420 setting names, each testing the env variable of that
/// name and appending an option when it is set (`cargo bench … -- envloop`).
fn bench_env_loop(limits: &Limits) {
    let names: Vec<String> = (0..420).map(|i| format!("opt.n{i}")).collect();
    let script = format!(
        "#!/bin/bash\nkv=(\n{}\n)\nlongopts=''\nfor k in ${{kv[*]}}; do\n  \
         env_var=$(echo ${{k^^}} | tr . _)\n  value=${{!env_var}}\n  \
         if [[ -n $value ]]; then\n    longopt=\"--${{k}}=${{value}}\"\n    \
         longopts+=\" ${{longopt}}\"\n  fi\ndone\n\
         exec /usr/local/bin/server --a ${{longopts}} \"$@\"\n",
        names.join("\n")
    );
    let fs = MemFs::new()
        .file("/loop.sh", &script, 0o755)
        .exe("/usr/local/bin/server");
    let inv = Invocation::file("/loop.sh", &[]);
    let a = analyze(&inv, &fs, limits);
    let t = median(|| drop(analyze(&inv, &fs, limits)), 5);
    println!(
        "env loop (420 env names tested, kibana's shape): median {t}, {} steps, best {:?}",
        a.steps,
        a.candidates.first().map(|c| &c.argv)
    );
}
