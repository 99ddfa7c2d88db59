//! The hook under real runtimes: runc and crun start the demo container (tini → script →
//! gosu → busybox httpd on port 8080) with `entrytrace hook` in `createRuntime`; the merged
//! result must name the server, its user and its listening socket, and a real journald must
//! hold the entry. Needs root (CI runs as root).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use entrytrace_tests::runtime::{
    ensure_journald, journal_entries, processes_matching, Container, HookedBundle,
};
use entrytrace_tests::{require_root, require_tool};

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{}", std::process::id(), rand_suffix())
}

fn rand_suffix() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    t % 1_000_000
}

fn names_the_server_its_user_and_socket(runtime: &str) {
    if !require_root() || !require_tool(runtime) {
        return;
    }
    ensure_journald().expect("journald");
    let b = HookedBundle::demo(&[], "[dynamic]\nwindow_ms = 1500\n").expect("bundle");
    let id = unique(runtime);
    let _c = Container::start(runtime, &b.bundle, &id).expect("container starts");
    let r = b
        .wait_result("merged", Duration::from_secs(20))
        .expect("merged result");
    let top = &r["terminals"][0];
    let argv: Vec<&str> = top["argv"]
        .as_array()
        .expect("argv")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(argv.contains(&"httpd"), "terminal is not httpd: {r:#}");
    assert_eq!(top["user"], "www-data", "{r:#}");
    let all_evidence = r.to_string();
    assert!(
        all_evidence.contains(":8080"),
        "no listening socket in evidence: {r:#}"
    );
    // The tracer replaces the bundle file first, then the stable copy.
    let stable = b.result_dir.join(format!("{id}.json"));
    let t0 = Instant::now();
    let copy = loop {
        let copy: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&stable).expect("stable copy")).expect("json");
        if copy["mode"] == "merged" || t0.elapsed() > Duration::from_secs(2) {
            break copy;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(copy, r, "stable copy differs from the bundle file");
    let mut entries = Vec::new();
    for _ in 0..40 {
        entries = journal_entries(&id).expect("journalctl");
        if !entries.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(entries.len(), 1, "journal entries for {id}: {entries:?}");
    let e = &entries[0];
    assert_eq!(e["ENTRYTRACE_USER"], "www-data");
    assert_eq!(e["ENTRYTRACE_MODE"], "merged");
    assert!(e["ENTRYTRACE_TERMINAL"]
        .as_str()
        .unwrap_or("")
        .contains("httpd"));
    assert_eq!(e["ENTRYTRACE_RESULT_PATH"], stable.display().to_string());
}

#[test]
fn runc_hook_names_the_server_its_user_and_socket() {
    names_the_server_its_user_and_socket("runc");
}

#[test]
fn crun_hook_names_the_server_its_user_and_socket() {
    names_the_server_its_user_and_socket("crun");
}

#[test]
fn a_container_that_exits_at_once_ends_the_tracer_quickly() {
    if !require_root() || !require_tool("crun") {
        return;
    }
    // Alone, so the figure is the hook's and not the other tests' containers'.
    let b = HookedBundle::demo_alone(&["true"], "").expect("bundle");
    let id = unique("quick");
    // Foreground crun run: it is a subreaper and waits for the detached tracer too.
    let t0 = Instant::now();
    let status = Command::new("crun")
        .args(["run", &id])
        .current_dir(&b.bundle)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .expect("crun run");
    let with_hook = t0.elapsed();
    assert!(status.success(), "container failed: {status}");
    let _ = Command::new("crun").args(["delete", "-f", &id]).status();
    let r = b
        .wait_result("merged", Duration::from_secs(5))
        .expect("result");
    assert!(
        processes_matching(&format!("--id {id}")).is_empty(),
        "tracer still running"
    );
    // The same container without the hook, measured in the same run.
    let spec = b.bundle.join("config.json");
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&spec).expect("read")).expect("json");
    v.as_object_mut().expect("object").remove("hooks");
    std::fs::write(&spec, serde_json::to_vec(&v).expect("json")).expect("write");
    let id2 = unique("quick-nohook");
    let t1 = Instant::now();
    Command::new("crun")
        .args(["run", &id2])
        .current_dir(&b.bundle)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .expect("crun run");
    let without = t1.elapsed();
    let _ = Command::new("crun").args(["delete", "-f", &id2]).status();
    eprintln!("crun run with hook {with_hook:?}, without {without:?}");
    // crun is a subreaper and waits for the detached tracer: the difference is the hook's
    // attach wait plus the tracer's tail after the container's exit.
    assert!(
        with_hook < without + Duration::from_millis(200),
        "foreground crun run held up: {with_hook:?} with the hook vs {without:?} without ({r})"
    );
}

#[test]
fn the_tracer_fills_the_btf_cache_and_the_next_container_loads_from_it() {
    if !require_root() || !require_tool("runc") {
        return;
    }
    let cache = tempfile::tempdir().expect("tempdir");
    let dir = cache.path().join("btf");
    let cfg = format!(
        "[dynamic]\nwindow_ms = 300\nbtf_cache_dir = \"{}\"\n",
        dir.display()
    );
    let b = HookedBundle::demo(&[], &cfg).expect("bundle");
    let uses_cache = |r: &serde_json::Value| r.to_string().contains("cached minimised BTF");
    let first = {
        let _c = Container::start("runc", &b.bundle, &unique("btf1")).expect("container");
        let r = b
            .wait_result("merged", Duration::from_secs(20))
            .expect("result");
        // The tracer fills the cache after writing the result, while the container runs.
        let t0 = Instant::now();
        let cached = || {
            std::fs::read_dir(&dir).is_ok_and(|mut d| {
                d.any(|e| e.is_ok_and(|e| !e.file_name().to_string_lossy().starts_with('.')))
            })
        };
        while !cached() && t0.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        // Temporaries are gone once the tracer is.
        while !processes_matching("btf1").is_empty() && t0.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        r
    };
    assert!(!uses_cache(&first), "the cache was empty: {first:#}");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .expect("cache dir made by the tracer")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(files.len(), 1, "one BTF file, no temporaries: {files:?}");
    std::fs::remove_file(b.bundle.join("entrytrace.json")).expect("rm result");
    let _c = Container::start("runc", &b.bundle, &unique("btf2")).expect("container");
    let second = b
        .wait_result("merged", Duration::from_secs(20))
        .expect("result");
    assert!(uses_cache(&second), "{second:#}");
    assert!(second.to_string().contains("httpd"), "{second:#}");
}

#[test]
fn supervisor_container_reports_both_services() {
    if !require_root() || !require_tool("runc") {
        return;
    }
    let b = HookedBundle::demo(
        &[
            "sh",
            "-c",
            "busybox httpd -f -p 8081 & busybox httpd -f -p 8082 & wait",
        ],
        "",
    )
    .expect("bundle");
    let id = unique("sup");
    let _c = Container::start("runc", &b.bundle, &id).expect("start");
    let r = b
        .wait_result("merged", Duration::from_secs(20))
        .expect("result");
    let top = &r["terminals"][0];
    assert_eq!(top["kind"], "supervisor", "{r:#}");
    let services = top["services"].as_array().expect("services");
    assert_eq!(services.len(), 2, "{r:#}");
    let text = r.to_string();
    assert!(text.contains("8081") && text.contains("8082"), "{r:#}");
}

#[test]
fn hostile_symlinks_in_the_rootfs_never_reach_the_host() {
    if !require_root() || !require_tool("runc") {
        return;
    }
    let b = HookedBundle::demo(&[], "").expect("bundle");
    let host = tempfile::Builder::new()
        .prefix("et-hostile-")
        .tempdir_in("/var/tmp")
        .expect("host dir");
    let rel = host
        .path()
        .strip_prefix("/")
        .expect("absolute")
        .to_path_buf();
    let root = b.rootfs();
    // The same path inside the rootfs holds the real files; on the host, decoys.
    let inside = root.join(&rel);
    std::fs::create_dir_all(&inside).expect("mkdir");
    std::fs::rename(root.join("etc/passwd"), inside.join("passwd")).expect("move passwd");
    std::fs::write(
        host.path().join("passwd"),
        "evil:x:33:33::/:/bin/sh\nroot:x:0:0::/:/bin/sh\n",
    )
    .expect("decoy passwd");
    let up = "../".repeat(12);
    std::os::unix::fs::symlink(
        format!("{up}{}/passwd", rel.display()),
        root.join("etc/passwd"),
    )
    .expect("symlink passwd");
    std::fs::rename(root.join("docker-entrypoint.sh"), inside.join("entry.sh")).expect("move");
    std::fs::write(host.path().join("entry.sh"), "#!/bin/sh\nexec host-decoy\n").expect("decoy");
    std::os::unix::fs::symlink(
        format!("/{}/entry.sh", rel.display()),
        root.join("docker-entrypoint.sh"),
    )
    .expect("symlink entry");
    std::os::unix::fs::symlink("/etc/shadow", root.join("shadow-link")).expect("symlink");
    let id = unique("hostile");
    let _c = Container::start("runc", &b.bundle, &id).expect("container still starts");
    let r = b
        .wait_result("merged", Duration::from_secs(20))
        .expect("result");
    let text = r.to_string();
    assert!(
        !text.contains("host-decoy"),
        "read the host's script: {r:#}"
    );
    assert!(!text.contains("evil"), "read the host's passwd: {r:#}");
    assert_eq!(r["terminals"][0]["user"], "www-data", "{r:#}");
}

#[test]
fn fifty_containers_back_to_back_leave_fifty_results_and_nothing_running() {
    if !require_root() || !require_tool("runc") {
        return;
    }
    ensure_journald().expect("journald");
    let b = HookedBundle::demo(&["true"], "[dynamic]\nwindow_ms = 200\n").expect("bundle");
    let before: std::collections::BTreeSet<_> = std::fs::read_dir("/run")
        .expect("/run")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    let prefix = unique("fifty");
    for i in 0..50 {
        let id = format!("{prefix}-{i}");
        let st = Command::new("runc")
            .args(["run", &id])
            .current_dir(&b.bundle)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .expect("runc run");
        assert!(st.success(), "container {i} failed");
        let _ = Command::new("runc").args(["delete", "-f", &id]).status();
    }
    let t0 = Instant::now();
    while !processes_matching(&format!("--id {prefix}-")).is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "tracers still running"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let results = std::fs::read_dir(&b.result_dir).expect("results").count();
    assert_eq!(results, 50, "results in {}", b.result_dir.display());
    for i in 0..50 {
        let id = format!("{prefix}-{i}");
        assert_eq!(
            journal_entries(&id).expect("journal").len(),
            1,
            "journal entry of {id}"
        );
    }
    let after: std::collections::BTreeSet<_> = std::fs::read_dir("/run")
        .expect("/run")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    let new: Vec<_> = after.difference(&before).collect();
    assert!(new.is_empty(), "files left in /run: {new:?}");
    let stray: Vec<_> = std::fs::read_dir(&b.bundle)
        .expect("bundle")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(
        stray.is_empty(),
        "temporary files left in the bundle: {stray:?}"
    );
}

#[test]
fn without_bpf_the_hook_falls_back_to_proc_sampling_and_says_so() {
    if !require_root() || !require_tool("runc") {
        return;
    }
    let b = HookedBundle::demo(&[], "capture = \"proc\"\n[dynamic]\nwindow_ms = 500\n")
        .expect("bundle");
    let id = unique("nobpf");
    let _c = Container::start("runc", &b.bundle, &id).expect("container starts");
    let r = b
        .wait_result("merged", Duration::from_secs(20))
        .expect("merged result");
    let diags = r["diagnostics"].to_string();
    assert!(diags.contains("bpf not used"), "{r:#}");
    assert!(
        diags.contains("/proc"),
        "the fallback does not name its limits: {r:#}"
    );
    assert_eq!(r["terminals"][0]["user"], "www-data", "{r:#}");
    assert!(r.to_string().contains(":8080"), "{r:#}");
}

/// The bundle's env is the container's whole env: a variable the entrypoint requires and
/// the container was not given makes the script exit, and the hook says so, where and why,
/// instead of naming the server the script would start had it been given.
#[test]
fn a_required_variable_missing_from_the_bundle_env_is_reported_as_the_exit() {
    if !require_root() || !require_tool("runc") {
        return;
    }
    ensure_journald().expect("journald");
    let b = HookedBundle::demo(&[], "").expect("bundle");
    std::fs::write(
        b.rootfs().join("docker-entrypoint.sh"),
        "#!/bin/sh\nset -e\nif [ -z \"$WEB_ROOT\" ]; then\n\techo 'error: WEB_ROOT is not set' >&2\n\texit 1\nfi\nexec gosu www-data busybox httpd -f -p 8080 -h \"$WEB_ROOT\"\n",
    )
    .expect("write script");
    let id = unique("needs-env");
    let status = Command::new("runc")
        .args(["run", &id])
        .current_dir(&b.bundle)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("runc run");
    let _ = Command::new("runc").args(["delete", "-f", &id]).status();
    // The script really exits with 1, so the prediction is checked against the run.
    assert_eq!(status.code(), Some(1), "container: {status}");
    let r = b
        .wait_result("merged", Duration::from_secs(20))
        .expect("result");
    let text = r.to_string();
    assert!(
        text.contains(
            "the script runs no command: it ends with status 1 at /docker-entrypoint.sh:5, after: `[ -z \\\"$WEB_ROOT\\\" ]` is true (/docker-entrypoint.sh:3)"
        ),
        "{r:#}"
    );
    assert!(!text.contains("httpd -f"), "named the server: {r:#}");
}

/// redis's entrypoint drops privileges only when the bounding set allows it (`setpriv -d |
/// grep`): the hook reads the set from the bundle's `process.capabilities`, so the static
/// scan of the bundle and the merged result of a real runc run agree with what runs, for a
/// set with setuid and setgid (gosu drops to www-data) and one without (httpd stays root).
#[test]
fn the_bundles_bounding_set_decides_whether_the_script_drops_privileges() {
    if !require_root() || !require_tool("runc") {
        return;
    }
    ensure_journald().expect("journald");
    let script = "#!/bin/sh\nhas_cap() {\n\tsetpriv -d | grep -q \"Capability bounding set:.*\\b$1\\b\"\n}\nif [ \"$(id -u)\" = 0 ] && has_cap setuid && has_cap setgid; then\n\texec gosu www-data busybox httpd -f -p 8080 -h /var/www\nfi\nexec busybox httpd -f -p 8080 -h /var/www\n";
    for (drop, user) in [(false, "www-data"), (true, "root")] {
        let b = HookedBundle::demo(&[], "[dynamic]\nwindow_ms = 1500\n").expect("bundle");
        let root = b.rootfs();
        std::fs::write(root.join("docker-entrypoint.sh"), script).expect("write script");
        for applet in ["setpriv", "grep"] {
            std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).expect("applet");
        }
        if drop {
            let path = b.bundle.join("config.json");
            let mut spec: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&path).expect("config")).expect("json");
            for set in ["bounding", "effective", "permitted"] {
                let caps = spec["process"]["capabilities"][set]
                    .as_array_mut()
                    .expect("a capability set");
                caps.retain(|c| c != "CAP_SETUID" && c != "CAP_SETGID");
            }
            std::fs::write(&path, serde_json::to_vec_pretty(&spec).expect("json"))
                .expect("write config");
        }
        let scanned = entrytrace_tests::scan_json(&format!("bundle:{}", b.bundle.display()), &[]);
        assert_eq!(
            scanned["terminals"][0]["user"], user,
            "static scan, drop={drop}: {scanned:#}"
        );
        let id = unique("caps");
        let _c = Container::start("runc", &b.bundle, &id).expect("container starts");
        let r = b
            .wait_result("merged", Duration::from_secs(20))
            .expect("merged result");
        let top = &r["terminals"][0];
        assert!(top["argv"].to_string().contains("httpd"), "{r:#}");
        assert_eq!(top["user"], user, "runc run, drop={drop}: {r:#}");
    }
}
