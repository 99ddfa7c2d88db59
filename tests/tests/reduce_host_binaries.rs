//! The static reducer over real binaries: host programs (tini, gosu, Go's runc, busybox,
//! glibc's `true`, a musl program compiled here) copied into an in-memory image, reduced
//! from an `ImageSpec` built by hand. Each test skips, saying why, when a host file is
//! missing (scripts/setup.sh installs them); under CI a missing file is a failure.

use std::path::Path;

use entrytrace::image::ImageSpec;
use entrytrace::model::{EntryTraceResult, StepKind, Target};
use entrytrace::reduce::{analyze, Overrides};
use entrytrace::vfs::mem::MemVfs;
use entrytrace_config::Config;
use entrytrace_tests::require;

/// Copies host files into a fresh image; `None` (after saying why) when one is missing.
fn image_with(files: &[(&str, &str)]) -> Option<MemVfs> {
    let mut v = MemVfs::new();
    for (inside, host) in files {
        if !require(&format!("host file {host}"), Path::new(host).exists()) {
            return None;
        }
        v.add_host_file(inside, Path::new(host), 0o755)
            .expect("read host file");
    }
    v.add_file(
        "/etc/passwd",
        0o644,
        b"root:x:0:0::/root:/bin/sh\npostgres:x:999:999::/var/lib/postgresql:/bin/sh\n",
    );
    Some(v)
}

fn words(s: &str) -> Vec<String> {
    s.split(' ').map(String::from).collect()
}

fn analyze_cmd(v: &MemVfs, entrypoint: &str, cmd: &str) -> EntryTraceResult {
    let ep = (!entrypoint.is_empty()).then(|| words(entrypoint));
    let cmd = (!cmd.is_empty()).then(|| words(cmd));
    analyze_spec(v, ep, cmd)
}

fn analyze_spec(
    v: &MemVfs,
    entrypoint: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
) -> EntryTraceResult {
    let spec = ImageSpec {
        entrypoint,
        cmd,
        env: vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()],
        ..ImageSpec::default()
    };
    analyze(
        &spec,
        v,
        &Overrides::default(),
        &Config::default(),
        Target::default(),
    )
}

#[test]
fn follows_real_tini_and_gosu_to_a_glibc_binary_as_the_gosu_user() {
    let Some(v) = image_with(&[
        ("/usr/bin/tini", "/usr/bin/tini"),
        ("/usr/local/bin/gosu", "/usr/sbin/gosu"),
        ("/usr/bin/true", "/bin/true"),
    ]) else {
        return;
    };
    let r = analyze_cmd(&v, "tini -s -- gosu postgres", "true --verbose");
    let t = &r.terminals[0];
    assert_eq!(t.path.as_deref(), Some("/usr/bin/true"));
    assert_eq!(t.user, "postgres");
    assert_eq!(t.argv, words("true --verbose"));
    assert_eq!(t.runtime.family, "c");
    assert!(
        t.runtime.evidence.iter().any(|e| e.contains("ld-linux")),
        "{:?}",
        t.runtime
    );
    assert!(t.confidence >= 0.85, "{}", t.confidence);
    let wrappers: Vec<&str> = r
        .chain
        .iter()
        .filter(|s| s.step == StepKind::Wrapper)
        .map(|s| s.why.as_str())
        .collect();
    assert_eq!(wrappers.len(), 2, "{:?}", r.chain);
    assert!(
        wrappers[0].starts_with("tini (/usr/bin/tini)"),
        "{wrappers:?}"
    );
    assert!(wrappers[1].contains("user postgres"), "{wrappers:?}");
}

#[test]
fn a_go_binary_gives_its_go_version_and_main_package() {
    let Some(v) = image_with(&[("/usr/local/bin/runc", "/usr/sbin/runc")]) else {
        return;
    };
    let r = analyze_cmd(&v, "runc", "--version");
    let t = &r.terminals[0];
    assert_eq!(t.runtime.family, "go", "{:?}", t.runtime);
    let ev = t.runtime.evidence.join("\n");
    assert!(ev.contains("Go build info go1."), "{ev}");
    assert!(ev.contains("github.com/opencontainers/runc"), "{ev}");
}

#[test]
fn busybox_applet_symlinks_resolve_to_the_static_busybox() {
    let Some(mut v) = image_with(&[("/bin/busybox", "/bin/busybox")]) else {
        return;
    };
    for applet in ["sh", "ls", "env"] {
        v.add_symlink(&format!("/bin/{applet}"), "busybox");
    }
    let shell_form = vec!["/bin/sh".to_string(), "-c".into(), "exec ls -l".into()];
    for (ep, cmd, argv, steps) in [
        (
            "",
            words("ls -l"),
            "ls -l",
            vec![StepKind::Compose, StepKind::Resolve],
        ),
        (
            "",
            shell_form,
            "ls -l",
            vec![StepKind::Compose, StepKind::Shellflow, StepKind::Resolve],
        ),
        (
            "busybox",
            words("ls"),
            "ls",
            vec![StepKind::Compose, StepKind::Wrapper, StepKind::Resolve],
        ),
        (
            "env A=1",
            words("ls"),
            "ls",
            vec![StepKind::Compose, StepKind::Wrapper, StepKind::Resolve],
        ),
    ] {
        let r = analyze_spec(&v, (!ep.is_empty()).then(|| words(ep)), Some(cmd.clone()));
        let t = &r.terminals[0];
        assert_eq!(
            t.path.as_deref(),
            Some("/bin/busybox"),
            "{ep} {cmd:?}: {r:#?}"
        );
        assert_eq!(t.argv, words(argv), "{ep} {cmd:?}");
        assert_eq!(
            r.chain.iter().map(|s| s.step).collect::<Vec<_>>(),
            steps,
            "{ep} {cmd:?}"
        );
        assert!(
            t.runtime.evidence.iter().any(|e| e.starts_with("static")),
            "{:?}",
            t.runtime
        );
    }
}

#[test]
fn a_python_script_with_env_shebang_runs_on_the_image_python() {
    let Some(mut v) = image_with(&[("/usr/bin/python3.11", "/usr/bin/python3.11")]) else {
        return;
    };
    v.add_tiny_elf("/usr/bin/env", 0o755, Some("/lib64/ld-linux-x86-64.so.2"));
    v.add_symlink("/usr/bin/python3", "python3.11");
    v.add_file(
        "/app/serve.py",
        0o755,
        b"#!/usr/bin/env python3\nimport http.server\n",
    );
    let r = analyze_cmd(&v, "/app/serve.py", "--port 8000");
    let t = &r.terminals[0];
    assert_eq!(t.argv, words("python3 /app/serve.py --port 8000"));
    assert_eq!(t.path.as_deref(), Some("/usr/bin/python3.11"));
    assert_eq!(t.runtime.family, "python");
    let ids: Vec<&str> = t.features.iter().map(|f| f.id.as_str()).collect();
    for id in ["f2", "f3", "f5", "f6"] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
}

#[test]
fn a_musl_program_compiled_here_is_told_apart_from_glibc() {
    let have = std::process::Command::new("musl-gcc")
        .arg("--version")
        .output();
    if !require("musl-gcc (musl-tools)", have.is_ok()) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("app.c");
    std::fs::write(&src, "int main(void) { return 0; }\n").expect("write");
    let out = dir.path().join("app");
    let status = std::process::Command::new("musl-gcc")
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .status()
        .expect("musl-gcc");
    assert!(status.success());
    let mut v = MemVfs::new();
    v.add_host_file("/app/app", &out, 0o755).expect("read");
    let r = analyze_cmd(&v, "/app/app", "");
    let t = &r.terminals[0];
    assert!(
        t.runtime.evidence.iter().any(|e| e.contains("musl")),
        "{:?}",
        t.runtime
    );
    assert_eq!(t.runtime.family, "c");
}

#[test]
fn a_truncated_real_binary_is_reported_not_fatal() {
    let Ok(body) = std::fs::read("/bin/true") else {
        require("host file /bin/true", false);
        return;
    };
    let mut v = MemVfs::new();
    v.add_file("/usr/bin/app", 0o755, &body[..48]);
    let r = analyze_cmd(&v, "app", "");
    let t = &r.terminals[0];
    assert!(
        t.runtime
            .evidence
            .iter()
            .any(|e| e.contains("unparseable ELF")),
        "{:?}",
        t.runtime
    );
    assert!(t.features.iter().any(|f| f.id == "f9"), "{:?}", t.features);
    assert!(t.confidence <= 0.2, "{}", t.confidence);
}

/// Timing, not correctness: `cargo test --release -p entrytrace-tests --test
/// reduce_host_binaries -- --ignored --nocapture bench`. Reduces tini → gosu → a 16 MB Go
/// binary and a python script many times over an in-memory image and prints the mean.
#[test]
#[ignore = "benchmark: run explicitly with --ignored"]
fn bench_static_reduction_over_real_binaries() {
    let Some(mut v) = image_with(&[
        ("/usr/bin/tini", "/usr/bin/tini"),
        ("/usr/local/bin/gosu", "/usr/sbin/gosu"),
        ("/usr/bin/skopeo", "/usr/bin/skopeo"),
        ("/usr/bin/python3.11", "/usr/bin/python3.11"),
    ]) else {
        return;
    };
    v.add_tiny_elf("/usr/bin/env", 0o755, Some("/lib64/ld-linux-x86-64.so.2"));
    v.add_symlink("/usr/bin/python3", "python3.11");
    v.add_file(
        "/app/serve.py",
        0o755,
        b"#!/usr/bin/env python3\nimport http.server\n",
    );
    for (ep, cmd) in [
        ("tini -- gosu postgres", "skopeo --version"),
        ("/app/serve.py", ""),
    ] {
        let n = 200;
        let start = std::time::Instant::now();
        for _ in 0..n {
            let r = analyze_cmd(&v, ep, cmd);
            assert!(r.terminals[0].confidence > 0.8);
        }
        let mean = start.elapsed() / n;
        println!("bench: {ep} {cmd}: {mean:?} per analysis ({n} runs)");
    }
}
