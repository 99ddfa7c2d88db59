//! The hook fails open: whatever is wrong with its input, it exits 0 (the container starts)
//! and the result, where one can be written, says why. Runs the real binary as a runtime
//! would, with the state on stdin and no PATH in its environment.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use entrytrace_tests::entrytrace_bin;

fn run_hook(stdin: &[u8], config: &Path) -> Output {
    let mut child = Command::new(entrytrace_bin())
        .arg("hook")
        .env_clear()
        .env("ENTRYTRACE_CONFIG", config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hook");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write state");
    child.wait_with_output().expect("hook output")
}

struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("bundle")).expect("bundle dir");
        std::fs::write(
            dir.path().join("config.toml"),
            format!(
                "[hook]\ndynamic = false\njournal = false\nresult_dir = \"{}\"\n",
                dir.path().join("results").display()
            ),
        )
        .expect("config");
        Self { dir }
    }
    fn bundle(&self) -> std::path::PathBuf {
        self.dir.path().join("bundle")
    }
    fn state(&self, id: &str) -> Vec<u8> {
        format!(
            r#"{{"ociVersion":"1.0.2","id":"{id}","pid":0,"bundle":"{}"}}"#,
            self.bundle().display()
        )
        .into_bytes()
    }
    fn hook(&self, stdin: &[u8]) -> Output {
        run_hook(stdin, &self.dir.path().join("config.toml"))
    }
    fn result(&self) -> serde_json::Value {
        let bytes = std::fs::read(self.bundle().join("entrytrace.json")).expect("result written");
        serde_json::from_slice(&bytes).expect("result is json")
    }
}

fn diagnostics(r: &serde_json::Value) -> String {
    r["diagnostics"].to_string()
}

#[test]
fn a_bundle_without_config_json_still_exits_zero_and_says_why() {
    let c = Case::new();
    let out = c.hook(&c.state("noconfig"));
    assert!(out.status.success(), "{out:?}");
    let r = c.result();
    assert!(diagnostics(&r).contains("config.json"), "{r:#}");
    assert!(r["terminals"].as_array().expect("terminals").is_empty());
}

#[test]
fn an_unreadable_rootfs_still_exits_zero_and_says_why() {
    let c = Case::new();
    std::fs::write(
        c.bundle().join("config.json"),
        r#"{"ociVersion":"1.0.2","process":{"args":["/app"],"cwd":"/","user":{"uid":0,"gid":0}},"root":{"path":"missing-rootfs"}}"#,
    )
    .expect("config.json");
    let out = c.hook(&c.state("noroot"));
    assert!(out.status.success(), "{out:?}");
    let r = c.result();
    assert!(diagnostics(&r).contains("missing-rootfs"), "{r:#}");
}

#[test]
fn garbage_or_empty_state_exits_zero_and_writes_nothing() {
    for input in [
        &b""[..],
        b"not json",
        b"{\"id\":\"../../etc\",\"bundle\":\"/tmp\"}",
    ] {
        let c = Case::new();
        let out = c.hook(input);
        assert!(
            out.status.success(),
            "{:?}: {out:?}",
            String::from_utf8_lossy(input)
        );
        assert!(!c.bundle().join("entrytrace.json").exists());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("container state"),
            "no reason given: {stderr}"
        );
    }
}

#[test]
fn fail_closed_config_turns_a_failure_into_a_non_zero_exit() {
    let c = Case::new();
    std::fs::write(
        c.dir.path().join("config.toml"),
        "[hook]\nfail_closed = true\ndynamic = false\njournal = false\n",
    )
    .expect("config");
    let out = c.hook(b"not json");
    assert!(!out.status.success(), "fail_closed ignored: {out:?}");
}

#[test]
fn an_annotation_can_turn_the_hook_off_for_one_container() {
    let c = Case::new();
    let state = format!(
        r#"{{"id":"off","pid":0,"bundle":"{}","annotations":{{"io.entrytrace.enabled":"false"}}}}"#,
        c.bundle().display()
    );
    let out = c.hook(state.as_bytes());
    assert!(out.status.success());
    assert!(!c.bundle().join("entrytrace.json").exists());
}
