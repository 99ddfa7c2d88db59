//! Benchmark of the hook's cost on container start (issue: "added start latency").
//!
//! Starts the demo container with `runc run -d` N times without the hook and N times with it,
//! interleaved in the same run, and prints the medians and their difference; then the peak
//! RSS of the hook (run directly on the same bundle) and of a tracer (read from its
//! `/proc/<pid>/status` VmHWM just before its window ends). Run as root:
//! `cargo run --release -p entrytrace-tests --bin bench-hook -- [N]`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use entrytrace_tests::runtime::{processes_matching, HookedBundle};
use entrytrace_tests::{entrytrace_bin, is_root};

fn main() -> Result<()> {
    if !is_root() {
        bail!("bench-hook needs root (it starts runc containers)");
    }
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(30);
    let b = HookedBundle::demo(&[], "[dynamic]\nwindow_ms = 1000\nbtf_cache_dir = \"\"\n")?;
    // A second config whose BTF cache is filled before the runs (the state after a first
    // traced container on this kernel).
    let cache_dir = b.dir.path().join("btf");
    let dynamic = entrytrace_config::DynamicConfig {
        btf_cache_dir: cache_dir.display().to_string(),
        ..Default::default()
    };
    let cached = match entrytrace::dynamic::capture::warm_btf_cache(&dynamic) {
        Some(Ok(_)) => true,
        Some(Err(e)) => {
            println!("no minimised BTF ({e}): only the kernel-BTF hook is measured");
            false
        }
        None => false,
    };
    let warm_config = b.dir.path().join("config-warm.toml");
    std::fs::write(
        &warm_config,
        std::fs::read_to_string(&b.config)?.replace(
            "btf_cache_dir = \"\"",
            &format!("btf_cache_dir = \"{}\"", cache_dir.display()),
        ),
    )?;
    let spec_path = b.bundle.join("config.json");
    let hooked = std::fs::read(&spec_path)?;
    let mut spec: serde_json::Value = serde_json::from_slice(&hooked)?;
    spec["hooks"]["createRuntime"][0]["env"] =
        serde_json::json!([format!("ENTRYTRACE_CONFIG={}", warm_config.display())]);
    let hooked_warm = serde_json::to_vec(&spec)?;
    spec.as_object_mut().context("spec")?.remove("hooks");
    let plain = serde_json::to_vec(&spec)?;

    let mut variants = vec![
        ("without hook", plain, Vec::new()),
        ("hook, kernel BTF", hooked, Vec::new()),
    ];
    if cached {
        variants.push(("hook, cached minimised BTF", hooked_warm, Vec::new()));
    }
    for i in 0..n {
        for (v, (_, spec, times)) in variants.iter_mut().enumerate() {
            std::fs::write(&spec_path, &spec)?;
            let id = format!("bench-{}-{i}-{v}", std::process::id());
            let t0 = Instant::now();
            let st = Command::new("runc")
                .args(["run", "-d", &id])
                .current_dir(&b.bundle)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .status()?;
            times.push(t0.elapsed());
            if !st.success() {
                bail!("runc run -d {id} failed");
            }
            let _ = Command::new("runc").args(["delete", "-f", &id]).status();
        }
    }
    let base = median(&mut variants[0].2);
    println!("runc run -d, {n} runs each, interleaved: median without hook {base:?}");
    for (what, _, times) in variants.iter_mut().skip(1) {
        let m = median(times);
        println!("  {what}: median {m:?}, added {:?}", m.saturating_sub(base));
    }

    let state = format!(
        r#"{{"ociVersion":"1.0.2","id":"bench-rss","pid":0,"bundle":"{}"}}"#,
        b.bundle.display()
    );
    let rss = hook_peak_rss(&state, &b.config)?;
    println!(
        "hook peak RSS (static scan of the demo bundle): {} KiB",
        rss
    );
    // The last tracers end within a tick of their container's deletion.
    let t0 = Instant::now();
    while !processes_matching("__tracer --id bench-").is_empty()
        && t0.elapsed() < Duration::from_secs(2)
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    let tracers = processes_matching("__tracer --id bench-");
    println!(
        "tracers left running 2 s after the last delete: {}",
        tracers.len()
    );
    Ok(())
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Runs the hook directly with `state` on stdin and returns its ru_maxrss in KiB.
fn hook_peak_rss(state: &str, config: &std::path::Path) -> Result<i64> {
    use std::io::Write;
    let mut child = Command::new(entrytrace_bin())
        .arg("hook")
        .env("ENTRYTRACE_CONFIG", config)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    child
        .stdin
        .take()
        .context("stdin")?
        .write_all(state.as_bytes())?;
    let mut status = 0;
    // SAFETY: rusage is plain data filled by the kernel; the pid is our own child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers to a status int and an rusage struct.
    let r = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut ru) };
    if r < 0 {
        bail!("wait4: {}", std::io::Error::last_os_error());
    }
    Ok(ru.ru_maxrss)
}
