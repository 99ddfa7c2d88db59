//! A real runc container (busybox-static rootfs, `runc spec` with `process.terminal=false`)
//! traced through `--pid` of its init, compared with tracing its cgroup v2 directory.
//! Needs root, runc, busybox-static and kernel BTF; skips (saying why) elsewhere.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use entrytrace::dynamic::{trace, SourceChoice, TraceTarget};
use entrytrace::model::EntryTraceResult;
use entrytrace_config::Config;

fn can_run() -> bool {
    entrytrace_tests::require_root()
        && entrytrace_tests::require_tool("runc")
        && entrytrace_tests::require(
            "busybox-static at /bin/busybox",
            Path::new("/bin/busybox").exists(),
        )
        && entrytrace_tests::require("kernel BTF", Path::new("/sys/kernel/btf/vmlinux").exists())
}

/// A bundle whose init starts httpd in the background and execs sleep.
fn bundle(dir: &Path, port: u16) -> anyhow::Result<()> {
    let bin = dir.join("rootfs/bin");
    std::fs::create_dir_all(&bin)?;
    std::fs::copy("/bin/busybox", bin.join("busybox"))?;
    for applet in ["sh", "httpd", "sleep"] {
        std::os::unix::fs::symlink("busybox", bin.join(applet))?;
    }
    entrytrace_tests::run_ok(Command::new("runc").arg("spec").current_dir(dir))?;
    let path = dir.join("config.json");
    let mut spec: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    spec["process"]["terminal"] = false.into();
    let script = format!("/bin/httpd -f -p 0.0.0.0:{port} & exec /bin/sleep 30");
    spec["process"]["args"] = serde_json::json!(["/bin/sh", "-c", script]);
    std::fs::write(&path, serde_json::to_vec_pretty(&spec)?)?;
    Ok(())
}

struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("runc")
            .args(["delete", "-f", &self.0])
            .status();
    }
}

fn runc(args: &[&str]) -> anyhow::Result<String> {
    entrytrace_tests::run_ok(
        Command::new("runc")
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::piped()),
    )
}

fn top_and_listening(r: &EntryTraceResult) -> (Vec<String>, Vec<String>) {
    let top = r
        .terminals
        .first()
        .map(|t| t.argv.clone())
        .unwrap_or_default();
    let listening = r
        .evidence
        .iter()
        .filter(|e| e.contains("listening on"))
        .cloned()
        .collect();
    (top, listening)
}

#[test]
fn a_runc_container_traced_by_init_pid_matches_its_cgroup() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let port = 18000 + (std::process::id() % 1000) as u16;
    bundle(dir.path(), port).expect("bundle");
    let id = format!("entrytrace-test-runc-{}", std::process::id());
    let bundle_arg = dir.path().to_string_lossy().into_owned();
    let status = Command::new("runc")
        .args(["create", "--bundle", &bundle_arg, &id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("runc create");
    assert!(status.success(), "runc create failed");
    let container = Container(id.clone());
    let state: serde_json::Value =
        serde_json::from_str(&runc(&["state", &id]).expect("state")).expect("state json");
    let pid = state["pid"].as_u64().expect("init pid") as u32;

    let by_pid = std::thread::scope(|s| {
        let starter = s.spawn(|| {
            std::thread::sleep(Duration::from_millis(300));
            runc(&["start", &id])
        });
        let r = trace(
            &TraceTarget::Pid(pid),
            Duration::from_millis(2000),
            SourceChoice::Bpf,
            &Config::default(),
            &|_, _| None,
        );
        starter.join().expect("starter").expect("runc start");
        r
    });
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("init cgroup");
    let rel = cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .expect("cgroup2 line");
    let dir_cg = Path::new("/sys/fs/cgroup/unified").join(rel.trim_start_matches('/'));
    let by_cgroup = trace(
        &TraceTarget::Cgroup(dir_cg),
        Duration::from_millis(500),
        SourceChoice::Bpf,
        &Config::default(),
        &|_, _| None,
    );

    let (top, listening) = top_and_listening(&by_pid);
    assert_eq!(
        top,
        ["/bin/httpd", "-f", "-p", &format!("0.0.0.0:{port}")],
        "{by_pid:#?}"
    );
    let httpd = by_pid
        .exec_graph
        .nodes
        .iter()
        .find(|n| n.argv.first().map(String::as_str) == Some("/bin/httpd"))
        .expect("httpd exec");
    assert_ne!(
        httpd.ns_pid, httpd.host_pid,
        "a namespace pid, not the host's"
    );
    assert_eq!(
        listening,
        [format!("pid {} listening on 0.0.0.0:{port}", httpd.ns_pid)],
        "the container's own pid and netns"
    );
    assert_eq!(
        top_and_listening(&by_cgroup),
        (top, listening),
        "cgroup mode agrees"
    );
    // The init's exec is seen with its namespace pid 1 and its host pid.
    let init = by_pid
        .exec_graph
        .nodes
        .iter()
        .find(|n| n.argv.first().map(String::as_str) == Some("/bin/sh"))
        .expect("init exec");
    assert_eq!((init.host_pid, init.ns_pid), (pid, 1));
    drop(container);
}
