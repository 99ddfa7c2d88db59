//! Loads the real program and traces processes started in a fresh cgroup v2 directory.
//! Needs root and a kernel with BTF; skips (saying why) elsewhere, fails under `CI`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use entrytrace_bpf::btfcache::BtfCache;
use entrytrace_bpf::{cgroup_scope, AttachKind, Event, EventKind, Scope, Tracer, TracerOptions};

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
    let cache_dir = tempfile::tempdir().expect("tempdir");
    let cache = BtfCache::new(cache_dir.path().join("btf"));
    let min_btf = cache
        .populate(Duration::from_secs(10))
        .expect("bpftool makes the BTF");
    let modes = [
        (AttachKind::BtfTracepoint, None),
        (AttachKind::RawTracepoint, None),
        (AttachKind::RawTracepoint, Some(min_btf)),
    ];
    for (attach, btf) in modes {
        let tag = format!("{attach:?}-{}", btf.is_some()).to_lowercase();
        let cg = TestCgroup::new(&tag);
        let scope = cgroup_scope(&cg.0, false).expect("scope");
        let mut opts = TracerOptions::new(scope);
        opts.attach = attach;
        opts.btf = btf;
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

#[test]
fn the_btf_cache_is_filled_once_and_refused_when_others_could_write_it() {
    if !can_run() {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().expect("tempdir");
    let cache = BtfCache::new(tmp.path().join("btf"));
    assert_eq!(cache.lookup(), None, "empty cache");
    let path = cache.populate(Duration::from_secs(10)).expect("populate");
    assert_eq!(cache.lookup().as_deref(), Some(path.as_path()));
    let bytes = std::fs::read(&path).expect("read");
    assert!(bytes.len() < 64 * 1024, "minimised: {} bytes", bytes.len());
    assert_eq!(bytes[..2], [0x9f, 0xeb], "BTF magic");
    let entries = std::fs::read_dir(tmp.path().join("btf"))
        .expect("dir")
        .count();
    assert_eq!(entries, 1, "no temporary files left beside the cached BTF");
    let dir = tmp.path().join("btf");
    let cases: [(&str, u32, u32); 2] = [("directory", 0o777, 0o600), ("file", 0o700, 0o666)];
    for (what, dir_mode, file_mode) in cases {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(dir_mode)).expect("chmod");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(file_mode)).expect("chmod");
        assert_eq!(
            cache.lookup(),
            None,
            "a {what} others can write is not used"
        );
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    std::fs::remove_file(&path).expect("rm");
    std::os::unix::fs::symlink("/sys/kernel/btf/vmlinux", &path).expect("symlink");
    assert_eq!(cache.lookup(), None, "a symlink is not followed");
}

/// Runs `script` in the cgroup while polling; returns every event once the script is done.
fn trace_script(tracer: &mut Tracer, cg: &TestCgroup, script: &str, out: &Path) -> Vec<Event> {
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg("echo $$ > \"$0\" && exec /bin/sh -c \"$1\"")
        .arg(cg.0.join("cgroup.procs"))
        .arg(script)
        .env("OUT", out)
        .spawn()
        .expect("spawn");
    let mut events = Vec::new();
    while child.try_wait().expect("wait").is_none() {
        tracer.poll(&mut events).expect("poll");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(50));
    tracer.poll(&mut events).expect("poll");
    events
}

#[test]
fn two_thousand_execs_are_all_seen_and_nothing_outside_the_cgroup() {
    if !can_run() {
        return;
    }
    let rows = [
        (
            "sequential",
            "i=0; while [ $i -lt 2000 ]; do /bin/echo inside-marker; i=$((i+1)); done >> \"$OUT\"",
        ),
        (
            "parallel-200",
            "for j in $(seq 200); do (for i in 1 2 3 4 5 6 7 8 9 10; do /bin/echo inside-marker; done >> \"$OUT\") & done; wait",
        ),
    ];
    for (name, script) in rows {
        let cg = TestCgroup::new(name);
        let out =
            std::env::temp_dir().join(format!("entrytrace-execs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_file(&out);
        let scope = cgroup_scope(&cg.0, false).expect("scope");
        let Scope::Cgroup { id, .. } = scope else {
            unreachable!("cgroup scope")
        };
        let mut tracer = Tracer::start(&TracerOptions::new(scope)).expect("tracer starts");
        // The host runs its own exec loop at the same time, outside the cgroup.
        let mut outside = Command::new("/bin/sh")
            .arg("-c")
            .arg("for i in $(seq 300); do /bin/echo outside-marker > /dev/null; done")
            .spawn()
            .expect("outside loop");
        let events = trace_script(&mut tracer, &cg, script, &out);
        outside.wait().expect("outside loop ends");
        let ran = std::fs::read_to_string(&out)
            .expect("marker file")
            .lines()
            .count();
        let seen = events
            .iter()
            .filter(|e| e.kind == EventKind::Exec && e.argv == ["/bin/echo", "inside-marker"])
            .count();
        assert_eq!(ran, 2000, "{name}: the script ran");
        assert_eq!(seen, ran, "{name}: execs seen vs run");
        assert_eq!(tracer.dropped().expect("stats"), 0, "{name}: dropped");
        assert!(
            events
                .iter()
                .all(|e| e.cgroup_id == id && !e.argv.contains(&"outside-marker".to_string())),
            "{name}: an event from outside the cgroup"
        );
        let _ = std::fs::remove_file(&out);
    }
}

#[test]
fn argv_of_hundreds_of_words_and_32_kib_arrives_exactly() {
    if !can_run() {
        return;
    }
    let cg = TestCgroup::new("argv");
    let mut tracer = Tracer::start(&TracerOptions::new(
        cgroup_scope(&cg.0, false).expect("scope"),
    ))
    .expect("tracer starts");
    let mut argv: Vec<String> = vec!["/bin/true".into()];
    for i in 0..600 {
        argv.push(if i % 7 == 0 {
            String::new()
        } else {
            format!("{i:04}-{}", "x".repeat(60))
        });
    }
    let bytes: usize = argv.iter().map(|a| a.len() + 1).sum();
    assert!(bytes > 32 * 1024, "argv is {bytes} bytes");
    let words: Vec<&str> = argv.iter().map(String::as_str).collect();
    assert!(cg.run(&words).success());
    let events = drain(&mut tracer, |e| e.iter().any(|e| e.kind == EventKind::Exit));
    let exec = events
        .iter()
        .find(|e| e.kind == EventKind::Exec && e.filename == "/bin/true")
        .expect("exec of /bin/true");
    assert!(!exec.argv_truncated);
    assert_eq!(exec.argv, argv);
}

#[test]
fn a_process_in_its_own_pid_namespace_reports_its_namespace_pid() {
    if !can_run() || !Path::new("/usr/bin/unshare").exists() {
        return;
    }
    let cg = TestCgroup::new("pidns");
    let mut tracer = Tracer::start(&TracerOptions::new(
        cgroup_scope(&cg.0, false).expect("scope"),
    ))
    .expect("tracer starts");
    let own_ns =
        std::fs::metadata("/proc/self/ns/pid").map(|m| std::os::unix::fs::MetadataExt::ino(&m));
    assert!(cg
        .run(&[
            "/usr/bin/unshare",
            "--pid",
            "--fork",
            "/bin/sh",
            "-c",
            "exec /bin/sleep 0.05"
        ])
        .success());
    let events = drain(&mut tracer, |e| {
        e.iter()
            .any(|e| e.kind == EventKind::Exit && e.comm == "sleep")
    });
    let sleep = events
        .iter()
        .find(|e| e.kind == EventKind::Exec && e.filename == "/bin/sleep")
        .unwrap_or_else(|| panic!("no sleep exec in {events:?}"));
    assert_eq!(sleep.ns_tgid, 1, "first process of the new namespace");
    assert_ne!(sleep.tgid, 1);
    assert_ne!(
        Ok(u64::from(sleep.pidns_ino)),
        own_ns.map_err(|_| ()),
        "a different pid namespace"
    );
}

#[test]
fn descendants_of_a_seed_pid_are_followed_without_a_cgroup() {
    if !can_run() {
        return;
    }
    // The seed blocks on stdin until the tracer is attached, then forks and execs.
    let mut seed = Command::new("/bin/sh")
        .arg("-c")
        .arg("read go; /bin/echo child-of-seed; exit 3")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("seed");
    let pid = seed.id();
    let mut tracer = Tracer::start(&TracerOptions::new(Scope::Descendants {
        seed: pid,
        also: vec![],
    }))
    .expect("tracer starts");
    let mut outside = Command::new("/bin/echo")
        .arg("not-a-descendant")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("outside");
    {
        use std::io::Write;
        let mut stdin = seed.stdin.take().expect("stdin");
        stdin.write_all(b"go\n").expect("write");
    }
    assert_eq!(seed.wait().expect("seed ends").code(), Some(3));
    outside.wait().expect("outside ends");
    let events = drain(&mut tracer, |e| {
        e.iter().any(|e| e.kind == EventKind::Exit && e.tgid == pid)
    });
    let child = events
        .iter()
        .find(|e| e.kind == EventKind::Exec && e.argv == ["/bin/echo", "child-of-seed"])
        .unwrap_or_else(|| panic!("no child exec in {events:?}"));
    assert_eq!(child.ppid, pid);
    assert!(events
        .iter()
        .any(|e| e.kind == EventKind::Fork && e.tgid == child.tgid && e.ppid == pid));
    assert!(events
        .iter()
        .all(|e| !e.argv.contains(&"not-a-descendant".to_string())));
    let exit = events
        .iter()
        .find(|e| e.kind == EventKind::Exit && e.tgid == pid)
        .expect("seed exit");
    assert_eq!(exit.exit_status(), Some(3));
}
