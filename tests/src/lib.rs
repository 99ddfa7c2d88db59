//! Shared helpers for the integration tests: privilege checks that say why a test skipped,
//! locating the built binary, and running commands with their output kept for messages.

pub mod imagegen;
pub mod podman;
pub mod runtime;
pub mod tools;

use std::path::PathBuf;
use std::process::Command;

/// True when running as root. Tests that need root call [`require_root`].
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// Returns false (and says why on stderr) when the test cannot run here. Under CI (`CI` set)
/// a missing requirement is a failure instead of a skip.
pub fn require(what: &str, ok: bool) -> bool {
    if ok {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("CI requires {what}, which is missing");
    }
    eprintln!("skipped: needs {what}");
    false
}

/// Root is required.
pub fn require_root() -> bool {
    require("root", is_root())
}

/// A program on PATH is required.
pub fn require_tool(tool: &str) -> bool {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    require(&format!("`{tool}` on PATH"), found)
}

/// The `entrytrace` binary built for this test run (`ENTRYTRACE_BIN` overrides).
pub fn entrytrace_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("ENTRYTRACE_BIN") {
        return PathBuf::from(p);
    }
    let mut p = std::env::current_exe().expect("test binary path");
    p.pop();
    if p.ends_with("deps") {
        p.pop();
    }
    p.join("entrytrace")
}

/// Runs `entrytrace scan SOURCE EXTRA…` and returns its stdout; fails the test with the
/// scan's stderr when it does not succeed.
pub fn scan_ok(source: &str, extra: &[&str]) -> Vec<u8> {
    let out = Command::new(entrytrace_bin())
        .arg("scan")
        .arg(source)
        .args(extra)
        .output()
        .expect("run entrytrace");
    assert!(
        out.status.success(),
        "scan {source} {extra:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The JSON result of [`scan_ok`].
pub fn scan_json(source: &str, extra: &[&str]) -> serde_json::Value {
    let out = scan_ok(source, extra);
    serde_json::from_slice(&out)
        .unwrap_or_else(|e| panic!("{source}: {e}: {}", String::from_utf8_lossy(&out)))
}

/// Runs `cmd`, failing with its stderr when it does not succeed; returns stdout.
pub fn run_ok(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output()?;
    if !out.status.success() {
        anyhow::bail!(
            "{:?} failed ({}): {}",
            cmd,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
