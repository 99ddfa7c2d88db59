//! Benchmarks of the exec tracer, printed as figures (run as root):
//!
//! * process start → probes attached: a fresh process loads and attaches the program; the
//!   parent times spawn → "attached" line (median of 15), with the kernel's BTF and with a
//!   minimised BTF from the cache (`btfcache`);
//! * overhead of an exec-heavy loop (1,000 `/bin/true`) inside the traced cgroup, and outside
//!   it (the tracer watching another cgroup), against no tracer, interleaved in one run;
//! * RSS (VmHWM) of a tracer draining a 3 s window with 2,000 execs; and, when
//!   `ENTRYTRACE_BIN` names the `entrytrace` binary, of `entrytrace trace --cgroup` doing it.
//!
//! `cargo run -p entrytrace-bpf --bin exectrace-bench [--release]`

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use entrytrace_bpf::btfcache::BtfCache;
use entrytrace_bpf::{cgroup_scope, AttachKind, Tracer, TracerOptions};

const CGROUP2: &str = "/sys/fs/cgroup/unified";
const LOOP: &str = "i=0; while [ $i -lt 1000 ]; do /bin/true; i=$((i+1)); done";
const BURST: &str = "for j in $(seq 20); do (for i in $(seq 100); do /bin/true; done) & done; wait";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("--attach-child") => return attach_child(args.get(2).map(PathBuf::from)),
        Some("--rss-child") => {
            return rss_child(Path::new(
                args.get(2).map(String::as_str).unwrap_or(CGROUP2),
            ))
        }
        _ => {}
    }
    let a = Cgroup::new("bench-a")?;
    let b = Cgroup::new("bench-b")?;
    bench_attach()?;
    bench_overhead(&a, &b)?;
    bench_rss(&a)?;
    Ok(())
}

/// A cgroup v2 directory for the bench, removed on drop.
struct Cgroup(PathBuf);

impl Cgroup {
    fn new(tag: &str) -> anyhow::Result<Self> {
        let dir = Path::new(CGROUP2).join(format!("entrytrace-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }

    fn spawn(&self, script: &str) -> std::io::Result<Child> {
        Command::new("/bin/sh")
            .arg("-c")
            .arg("echo $$ > \"$0\" && exec /bin/sh -c \"$1\"")
            .arg(self.0.join("cgroup.procs"))
            .arg(script)
            .stdout(Stdio::null())
            .spawn()
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        for _ in 0..100 {
            if std::fs::remove_dir(&self.0).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Loads and attaches: `tp_btf` with the kernel's BTF, or `raw_tp` with a minimised BTF.
fn attach_child(btf: Option<PathBuf>) -> anyhow::Result<()> {
    let scope = cgroup_scope(Path::new(CGROUP2), false)?;
    let mut opts = TracerOptions::new(scope);
    if btf.is_some() {
        opts.attach = AttachKind::RawTracepoint;
        opts.btf = btf;
    }
    let _tracer = Tracer::start(&opts)?;
    println!("attached");
    Ok(())
}

fn bench_attach() -> anyhow::Result<()> {
    let cache_dir = tempfile::tempdir()?;
    let btf = BtfCache::new(cache_dir.path()).populate(Duration::from_secs(10));
    let mut modes = vec![("tp_btf, kernel BTF", None)];
    match btf {
        Ok(p) => modes.push(("raw_tp, cached minimised BTF", Some(p))),
        Err(e) => println!("no minimised BTF ({e}); only the kernel-BTF load is measured"),
    }
    for (what, btf) in modes {
        let mut times = Vec::new();
        for _ in 0..15 {
            times.push(time_attach_child(btf.as_deref())?);
        }
        let min = times.iter().copied().fold(f64::INFINITY, f64::min);
        println!(
            "process start -> probes attached ({what}): median {:.1} ms (min {min:.1} ms, n=15)",
            median(&mut times)
        );
    }
    Ok(())
}

/// Spawns `--attach-child` and times it until it says "attached", in ms.
fn time_attach_child(btf: Option<&Path>) -> anyhow::Result<f64> {
    let exe = std::env::current_exe()?;
    let t0 = Instant::now();
    let mut child = Command::new(&exe)
        .arg("--attach-child")
        .args(btf)
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line)?;
    let dt = t0.elapsed().as_secs_f64() * 1e3;
    child.wait()?;
    anyhow::ensure!(line.trim() == "attached", "attach child failed");
    Ok(dt)
}

/// Runs `script` in `cg` to completion, draining `tracer` every 10 ms; returns the wall
/// seconds and the CPU seconds (user + system) of the whole process tree, which is what the
/// in-kernel program adds to and is far less disturbed by other load on the machine.
fn timed(cg: &Cgroup, script: &str, mut tracer: Option<&mut Tracer>) -> anyhow::Result<(f64, f64)> {
    let t0 = Instant::now();
    let child = cg.spawn(script)?;
    let pid = libc::pid_t::try_from(child.id())?;
    let mut events = Vec::new();
    loop {
        let mut status = 0;
        // SAFETY: rusage is plain data, zero is valid; wait4 writes into both out-params.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: pid is our child; the pointers are valid for the call.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut ru) };
        if r == pid {
            let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
            return Ok((
                t0.elapsed().as_secs_f64(),
                tv(ru.ru_utime) + tv(ru.ru_stime),
            ));
        }
        anyhow::ensure!(r == 0, "wait4: {}", std::io::Error::last_os_error());
        if let Some(t) = tracer.as_deref_mut() {
            t.poll(&mut events)?;
            events.clear();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn bench_overhead(a: &Cgroup, b: &Cgroup) -> anyhow::Result<()> {
    let _warm_up = timed(a, LOOP, None)?;
    let mut runs: [Vec<(f64, f64)>; 3] = Default::default();
    let (mut prog_time, mut prog_time_outside) = (Vec::new(), Vec::new());
    // Interleaved rounds, so load from other work on the machine hits all three alike.
    for _ in 0..9 {
        runs[0].push(timed(a, LOOP, None)?);
        let mut inside = Tracer::start(&TracerOptions::new(cgroup_scope(&a.0, false)?))?;
        let stats = std::fs::write(STATS, "1").is_ok();
        runs[1].push(timed(a, LOOP, Some(&mut inside))?);
        if stats {
            prog_time.push(program_time());
            let _ = std::fs::write(STATS, "0");
        }
        anyhow::ensure!(inside.dropped()? == 0, "the inside tracer dropped events");
        drop(inside);
        let mut outside = Tracer::start(&TracerOptions::new(cgroup_scope(&b.0, false)?))?;
        let stats = std::fs::write(STATS, "1").is_ok();
        runs[2].push(timed(a, LOOP, Some(&mut outside))?);
        if stats {
            prog_time_outside.push(program_time());
            let _ = std::fs::write(STATS, "0");
        }
    }
    let med = |i: usize, cpu: bool| {
        let mut v: Vec<f64> = runs[i]
            .iter()
            .map(|r| if cpu { r.1 } else { r.0 })
            .collect();
        median(&mut v)
    };
    if !prog_time.is_empty() {
        let per_loop = median(&mut prog_time);
        println!(
            "in-kernel program time (kernel.bpf_stats_enabled) per traced 1,000-exec loop: \
             {:.2} ms = {:.2} % of the untraced loop's CPU time",
            per_loop * 1e3,
            per_loop / med(0, true) * 100.0
        );
    }
    if !prog_time_outside.is_empty() {
        // What a tracer scoped elsewhere costs this loop: its programs run on every exec,
        // fork and exit on the host and return at the cgroup check.
        let per_loop = median(&mut prog_time_outside);
        println!(
            "in-kernel program time with the tracer on another cgroup, per 1,000-exec loop \
             outside it: {:.3} ms = {:.3} % of the untraced loop's CPU time",
            per_loop * 1e3,
            per_loop / med(0, true) * 100.0
        );
    }
    for (what, cpu) in [("CPU time", true), ("wall time", false)] {
        let (c, i, o) = (med(0, cpu), med(1, cpu), med(2, cpu));
        println!(
            "exec loop (1,000 execs, median of 9, {what}): no tracer {:.1} ms; traced inside \
             the cgroup {:.1} ms ({:+.2} %); tracer on another cgroup {:.1} ms ({:+.2} %)",
            c * 1e3,
            i * 1e3,
            (i / c - 1.0) * 100.0,
            o * 1e3,
            (o / c - 1.0) * 100.0
        );
    }
    Ok(())
}

const STATS: &str = "/proc/sys/kernel/bpf_stats_enabled";

/// Seconds the loaded `btf_*` programs of this bench have run (the one tracer alive).
fn program_time() -> f64 {
    libbpf_rs::query::ProgInfoIter::default()
        .filter(|p| p.name.to_string_lossy().starts_with("btf_"))
        .map(|p| p.run_time_ns as f64 / 1e9)
        .sum()
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
}

fn rss_child(cg: &Path) -> anyhow::Result<()> {
    let mut tracer = Tracer::start(&TracerOptions::new(cgroup_scope(cg, false)?))?;
    println!("attached");
    let mut events = Vec::new();
    let end = Instant::now() + Duration::from_secs(3);
    while Instant::now() < end {
        tracer.poll(&mut events)?;
        std::thread::sleep(Duration::from_millis(10));
    }
    tracer.poll(&mut events)?;
    let execs = events
        .iter()
        .filter(|e| e.kind == entrytrace_bpf::EventKind::Exec)
        .count();
    println!(
        "{execs} {} {}",
        tracer.dropped()?,
        vm_hwm_kib(std::process::id()).unwrap_or(0)
    );
    Ok(())
}

fn bench_rss(a: &Cgroup) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(&exe)
        .arg("--rss-child")
        .arg(&a.0)
        .stdout(Stdio::piped())
        .spawn()?;
    let mut out = BufReader::new(child.stdout.take().expect("piped"));
    let mut line = String::new();
    out.read_line(&mut line)?;
    a.spawn(BURST)?.wait()?;
    line.clear();
    out.read_line(&mut line)?;
    child.wait()?;
    let f: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    anyhow::ensure!(f.len() == 3, "rss child said {line:?}");
    println!(
        "tracer RSS over a 3 s window with 2,000 execs: VmHWM {:.1} MiB ({} execs seen, {} dropped)",
        f[2] as f64 / 1024.0,
        f[0],
        f[1]
    );
    if let Some(bin) = std::env::var_os("ENTRYTRACE_BIN") {
        let out_path =
            std::env::temp_dir().join(format!("entrytrace-bench-{}.json", std::process::id()));
        let mut et = Command::new(bin)
            .args(["trace", "--cgroup"])
            .arg(&a.0)
            .args(["--window", "3s", "--output"])
            .arg(&out_path)
            .spawn()?;
        std::thread::sleep(Duration::from_millis(300));
        let pid = et.id();
        let mut burst = a.spawn(BURST)?;
        let mut hwm = 0;
        while et.try_wait()?.is_none() {
            hwm = hwm.max(vm_hwm_kib(pid).unwrap_or(0));
            std::thread::sleep(Duration::from_millis(20));
        }
        burst.wait()?;
        anyhow::ensure!(et.wait()?.success(), "entrytrace trace failed");
        let stdout = std::fs::read(&out_path)?;
        let _ = std::fs::remove_file(&out_path);
        // One `"host_pid"` per graph node (edges say parent_host_pid / child_host_pid).
        let nodes = String::from_utf8_lossy(&stdout)
            .matches("\"host_pid\"")
            .count();
        println!(
            "`entrytrace trace --cgroup --window 3s` RSS with 2,000 execs: VmHWM {:.1} MiB ({} graph nodes)",
            hwm as f64 / 1024.0,
            nodes
        );
    }
    Ok(())
}
