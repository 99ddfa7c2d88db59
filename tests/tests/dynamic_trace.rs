//! `entrytrace trace` end to end on real process trees: BPF capture scoped to a fresh cgroup
//! v2 directory, /proc samples, steady-state selection, and the `/proc` fallback. Needs root,
//! kernel BTF and cgroup2 at /sys/fs/cgroup/unified; skips (saying why) elsewhere.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use entrytrace::dynamic::{trace, SourceChoice, TraceTarget};
use entrytrace::model::{EdgeKind, EntryTraceResult, TerminalKind};
use entrytrace_config::Config;

const CGROUP2: &str = "/sys/fs/cgroup/unified";

fn can_run() -> bool {
    entrytrace_tests::require_root()
        && entrytrace_tests::require(
            "kernel BTF and cgroup2 at /sys/fs/cgroup/unified",
            Path::new("/sys/kernel/btf/vmlinux").exists()
                && Path::new(CGROUP2).join("cgroup.procs").exists(),
        )
        && entrytrace_tests::require_tool("tini")
        && entrytrace_tests::require("/usr/bin/python3", Path::new("/usr/bin/python3").exists())
}

/// A cgroup v2 directory of one test; its processes are killed and it is removed on drop.
struct TestCgroup(PathBuf);

impl TestCgroup {
    fn new(tag: &str) -> Self {
        let dir = Path::new(CGROUP2).join(format!("entrytrace-test-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir cgroup");
        Self(dir)
    }

    /// Starts `argv` inside the cgroup (a shell joins it, then execs `argv`).
    fn spawn(&self, argv: &[&str]) -> Child {
        Command::new("/bin/sh")
            .arg("-c")
            .arg("echo $$ > \"$0\" && exec \"$@\"")
            .arg(self.0.join("cgroup.procs"))
            .args(argv)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn")
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        for _ in 0..100 {
            let procs = std::fs::read_to_string(self.0.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                // SAFETY: kill has no memory preconditions; the pids are this test's processes.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            if std::fs::remove_dir(&self.0).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A server that binds a loopback port, forks two workers that never exec, and waits.
const SERVER: &str = r#"
import os, socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
for _ in range(2):
    if os.fork() == 0:
        time.sleep(60); os._exit(0)
time.sleep(60)
"#;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// tini → sh -c (which does not exec: `; true`) → python server → two forked workers.
fn server_argv(port: u16) -> Vec<String> {
    let script = format!("/usr/bin/python3 -c '{SERVER}' {port}; true");
    ["tini", "-s", "--", "/bin/sh", "-c", &script]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// Starts the tree `delay` after the capture begins, so the capture sees every exec.
fn trace_while_starting(
    cg: &TestCgroup,
    argv: &[String],
    source: SourceChoice,
    window: Duration,
) -> EntryTraceResult {
    let words: Vec<&str> = argv.iter().map(String::as_str).collect();
    std::thread::scope(|s| {
        let starter = s.spawn(|| {
            std::thread::sleep(Duration::from_millis(300));
            cg.spawn(&words)
        });
        let r = trace(
            &TraceTarget::Cgroup(cg.0.clone()),
            window,
            source,
            &Config::default(),
            &|_, _| None,
        );
        drop(starter.join().expect("starter"));
        r
    })
}

#[test]
fn a_forking_server_under_tini_and_sh_is_the_top_candidate_with_its_socket() {
    if !can_run() {
        return;
    }
    let cg = TestCgroup::new("server");
    let port = free_port();
    let r = trace_while_starting(
        &cg,
        &server_argv(port),
        SourceChoice::Bpf,
        Duration::from_millis(2500),
    );
    let top = r
        .terminals
        .first()
        .unwrap_or_else(|| panic!("no terminal: {r:#?}"));
    assert_eq!(
        top.argv.first().map(String::as_str),
        Some("/usr/bin/python3"),
        "{:#?}",
        r.terminals
    );
    assert_eq!(top.kind, TerminalKind::Process);
    let listening = format!("listening on 127.0.0.1:{port}");
    assert!(
        r.evidence.iter().any(|e| e.ends_with(&listening)),
        "{:?}",
        r.evidence
    );
    for wrapper in ["tini", "sh"] {
        let want = format!("wrapper {wrapper} collapsed into");
        assert!(
            r.evidence.iter().any(|e| e.starts_with(&want)),
            "{want} not in {:?}",
            r.evidence
        );
    }
    // Graph: tini -clone-> sh -clone-> python -clone-> 2 workers; the exec of each is seen.
    let g = &r.exec_graph;
    let pid_of = |argv0: &str| {
        g.nodes
            .iter()
            .find(|n| n.argv.first().map(String::as_str) == Some(argv0))
            .map(|n| n.host_pid)
    };
    let (tini, sh, py) = (
        pid_of("tini"),
        pid_of("/bin/sh"),
        pid_of("/usr/bin/python3"),
    );
    let clone = |p: Option<u32>, c: Option<u32>| {
        g.edges.iter().any(|e| {
            Some(e.parent_host_pid) == p && Some(e.child_host_pid) == c && e.kind == EdgeKind::Clone
        })
    };
    assert!(clone(tini, sh) && clone(sh, py), "edges {:?}", g.edges);
    let workers = g
        .edges
        .iter()
        .filter(|e| Some(e.parent_host_pid) == py && e.kind == EdgeKind::Clone)
        .count();
    assert_eq!(workers, 2, "edges {:?}", g.edges);
    assert!(r
        .diagnostics
        .iter()
        .any(|d| d.message.contains("dynamic source: bpf")));
}

#[test]
fn the_proc_fallback_finds_the_same_top_candidate_and_names_its_limits() {
    if !can_run() {
        return;
    }
    let cg = TestCgroup::new("fallback");
    let port = free_port();
    let r = trace_while_starting(
        &cg,
        &server_argv(port),
        SourceChoice::Proc,
        Duration::from_millis(2500),
    );
    let top = r
        .terminals
        .first()
        .unwrap_or_else(|| panic!("no terminal: {r:#?}"));
    assert_eq!(
        top.argv.first().map(String::as_str),
        Some("/usr/bin/python3")
    );
    assert!(
        r.evidence
            .iter()
            .any(|e| e.ends_with(&format!("listening on 127.0.0.1:{port}"))),
        "{:?}",
        r.evidence
    );
    let diag = r
        .diagnostics
        .iter()
        .find(|d| d.message.contains("/proc polling"))
        .expect("source diagnostic");
    assert!(diag.message.contains("misses"), "{}", diag.message);
}

#[test]
fn several_long_lived_services_under_one_shell_make_a_supervisor() {
    if !can_run() {
        return;
    }
    let cg = TestCgroup::new("supervisor");
    let argv: Vec<String> = ["/bin/sh", "-c", "/bin/sleep 61 & /bin/sleep 62 & wait"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let r = trace_while_starting(&cg, &argv, SourceChoice::Bpf, Duration::from_millis(1500));
    let top = r
        .terminals
        .first()
        .unwrap_or_else(|| panic!("no terminal: {r:#?}"));
    assert_eq!(top.kind, TerminalKind::Supervisor, "{:#?}", r.terminals);
    let mut services: Vec<Vec<String>> = top.services.iter().map(|s| s.argv.clone()).collect();
    services.sort();
    assert_eq!(services, [["/bin/sleep", "61"], ["/bin/sleep", "62"]]);
    assert!(top.services.iter().all(|s| s.kind == TerminalKind::Service));
}

#[test]
fn exec_edges_exit_codes_are_in_the_graph_and_nothing_from_outside() {
    if !can_run() {
        return;
    }
    let cg = TestCgroup::new("edges");
    let argv: Vec<String> = [
        "/bin/sh",
        "-c",
        "/bin/sh -c 'exec /bin/sleep 0.2'; /bin/sh -c 'exit 3'; /bin/sh -c 'kill -TERM $$'; exec /bin/sleep 30",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut outside = Command::new("/bin/sh")
        .arg("-c")
        .arg("for i in $(seq 200); do /bin/echo outside-marker; done")
        .stdout(Stdio::null())
        .spawn()
        .expect("outside loop");
    let r = trace_while_starting(&cg, &argv, SourceChoice::Bpf, Duration::from_millis(1500));
    outside.wait().expect("outside loop ends");
    let g = &r.exec_graph;
    assert!(g
        .nodes
        .iter()
        .all(|n| !n.argv.contains(&"outside-marker".to_string())));
    // The inner sh execs sleep 0.2: two nodes of one pid joined by an exec edge.
    let inner = g
        .nodes
        .iter()
        .find(|n| n.argv == ["/bin/sleep", "0.2"])
        .expect("inner sleep");
    let before = g.nodes.iter().find(|n| {
        n.host_pid == inner.host_pid && n.argv.first().map(String::as_str) == Some("/bin/sh")
    });
    assert!(before.is_some(), "{:?}", g.nodes);
    assert!(g.edges.iter().any(|e| e.kind == EdgeKind::Exec
        && e.parent_host_pid == inner.host_pid
        && e.child_host_pid == inner.host_pid));
    // Exit codes as a shell reports them, on the last image of each ended process only.
    let code_of = |argv: &[&str]| {
        let n = g.nodes.iter().find(|n| n.argv == argv).expect("node");
        (n.exit_code, n.exit_ns.is_some_and(|t| t > n.start_ns))
    };
    assert_eq!(code_of(&["/bin/sleep", "0.2"]), (Some(0), true));
    assert_eq!(code_of(&["/bin/sh", "-c", "exit 3"]), (Some(3), true));
    assert_eq!(
        code_of(&["/bin/sh", "-c", "kill -TERM $$"]),
        (Some(128 + 15), true)
    );
    let before = before.expect("sh before its exec");
    assert_eq!((before.exit_code, before.exit_ns), (None, None));
    let top = r.terminals.first().expect("terminal");
    assert_eq!(top.argv, ["/bin/sleep", "30"]);
    let sleeper = g.nodes.iter().find(|n| n.argv == top.argv).expect("node");
    assert_eq!(sleeper.exit_code, None, "still running at window end");
    let exited = top.features.iter().all(|f| f.id != "d7");
    assert!(exited, "the top candidate is alive");
}

#[test]
fn a_pid_without_its_own_cgroup_is_followed_through_its_descendants() {
    if !can_run() {
        return;
    }
    // Same cgroup as this test: `--pid` falls back to the tgid map seeded with the pid.
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg("sleep 0.4; /bin/echo descendant-marker; exec /bin/sleep 30")
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let r = std::thread::scope(|s| {
        let noise = s.spawn(|| {
            for _ in 0..50 {
                let _ = Command::new("/bin/echo")
                    .arg("outside-marker")
                    .stdout(Stdio::null())
                    .status();
            }
        });
        let r = trace(
            &TraceTarget::Pid(pid),
            Duration::from_millis(1500),
            SourceChoice::Bpf,
            &Config::default(),
            &|_, _| None,
        );
        noise.join().expect("noise");
        r
    });
    let _ = child.kill();
    let _ = child.wait();
    let g = &r.exec_graph;
    assert!(
        g.nodes
            .iter()
            .all(|n| !n.argv.contains(&"outside-marker".to_string())),
        "{:?}",
        g.nodes
    );
    assert!(
        g.nodes
            .iter()
            .any(|n| n.argv == ["/bin/echo", "descendant-marker"]),
        "{:?}",
        g.nodes
    );
    assert!(
        g.edges
            .iter()
            .any(|e| e.kind == EdgeKind::Exec && e.parent_host_pid == pid),
        "{:?}",
        g.edges
    );
    let top = r
        .terminals
        .first()
        .unwrap_or_else(|| panic!("no terminal: {r:#?}"));
    assert_eq!(top.argv, ["/bin/sleep", "30"]);
}
