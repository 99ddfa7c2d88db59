//! Loads the real program and traces processes started in a fresh cgroup v2 directory.
//! Needs root and a kernel with BTF; skips (saying why) elsewhere, fails under `CI`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use entrytrace_bpf::{cgroup_scope, AttachKind, Event, EventKind, Tracer, TracerOptions};

const CGROUP2: &str = "/sys/fs/cgroup/unified";

fn can_run() -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false);
    let why = if !root {
        "root"
    } else if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        "kernel BTF at /sys/kernel/btf/vmlinux"
    } else if !Path::new(CGROUP2).join("cgroup.procs").exists() {
        "cgroup2 mounted at /sys/fs/cgroup/unified"
    } else {
        return true;
    };
    if std::env::var_os("CI").is_some() {
        panic!("CI requires {why}, which is missing");
    }
    eprintln!("skipped: needs {why}");
    false
}

/// A cgroup v2 directory made for one test, removed (after its processes end) on drop.
struct TestCgroup(PathBuf);

impl TestCgroup {
    fn new(tag: &str) -> Self {
        let dir = Path::new(CGROUP2).join(format!("entrytrace-test-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir cgroup");
        Self(dir)
    }

    /// Runs `argv` inside the cgroup: a shell joins it, then execs `argv`.
    fn run(&self, argv: &[&str]) -> std::process::ExitStatus {
        Command::new("/bin/sh")
            .arg("-c")
            .arg("echo $$ > \"$0\" && exec \"$@\"")
            .arg(self.0.join("cgroup.procs"))
            .args(argv)
            .status()
            .expect("spawn")
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        for _ in 0..100 {
            if std::fs::remove_dir(&self.0).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn drain(tracer: &mut Tracer, until: impl Fn(&[Event]) -> bool) -> Vec<Event> {
    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        tracer.poll(&mut events).expect("poll");
        if until(&events) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    events
}

#[test]
fn exec_in_the_cgroup_is_reported_with_exact_argv_and_exit_code() {
    if !can_run() {
        return;
    }
    for attach in [AttachKind::BtfTracepoint, AttachKind::RawTracepoint] {
        let cg = TestCgroup::new(&format!("{attach:?}").to_lowercase());
        let scope = cgroup_scope(&cg.0, false).expect("scope");
        let mut opts = TracerOptions::new(scope);
        opts.attach = attach;
        let mut tracer = Tracer::start(&opts).expect("tracer starts");
        let status = cg.run(&["/bin/sh", "-c", "exit 5", "", "x y", ""]);
        assert_eq!(status.code(), Some(5));
        let events = drain(&mut tracer, |e| e.iter().any(|e| e.kind == EventKind::Exit));
        let exec = events
            .iter()
            .find(|e| e.kind == EventKind::Exec)
            .unwrap_or_else(|| panic!("{attach:?}: no exec in {events:?}"));
        assert_eq!(
            exec.argv,
            ["/bin/sh", "-c", "exit 5", "", "x y", ""],
            "{attach:?}"
        );
        assert_eq!(exec.filename, "/bin/sh");
        let exit = events
            .iter()
            .find(|e| e.kind == EventKind::Exit)
            .expect("exit");
        assert_eq!(
            (exit.tgid, exit.exit_status()),
            (exec.tgid, Some(5)),
            "{attach:?}"
        );
        assert_eq!(
            exec.ns_tgid, exec.tgid,
            "host pid namespace: ns pid equals host pid"
        );
        assert_eq!(tracer.dropped().expect("stats"), 0);
        assert_eq!(tracer.malformed(), 0);
    }
}
