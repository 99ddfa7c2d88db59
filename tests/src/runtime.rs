//! Real containers for the hook tests: the built-in demo bundle (`scripts/make-demo-bundle.sh`)
//! with our hook registered, started under runc or crun, with a config of the test's own so
//! results land in a temporary directory, and the journald of `scripts/journald.sh`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::{entrytrace_bin, run_ok};

/// The repository root (the tests crate sits one level below it).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf()
}

/// Starts the test journald if it is not running.
pub fn ensure_journald() -> Result<()> {
    run_ok(
        Command::new("bash")
            .arg(repo_root().join("scripts/journald.sh"))
            .arg("start"),
    )?;
    Ok(())
}

/// Held by every [`HookedBundle`] (shared) and by the timing tests (exclusive), so a test
/// that measures start latency does not share the two cores with other containers.
static CONTAINERS: RwLock<()> = RwLock::new(());

/// Whose turn it is to start containers: many ordinary tests, or one timing test alone.
#[derive(Debug)]
pub struct Turn {
    _shared: Option<RwLockReadGuard<'static, ()>>,
    _alone: Option<RwLockWriteGuard<'static, ()>>,
}

impl Turn {
    pub fn shared() -> Self {
        Self {
            _shared: Some(CONTAINERS.read().unwrap_or_else(PoisonError::into_inner)),
            _alone: None,
        }
    }

    /// Waits until no other test of this binary holds a bundle.
    pub fn exclusive() -> Self {
        Self {
            _shared: None,
            _alone: Some(CONTAINERS.write().unwrap_or_else(PoisonError::into_inner)),
        }
    }
}

/// A bundle with the hook registered, and the config the hook reads.
#[derive(Debug)]
pub struct HookedBundle {
    pub dir: tempfile::TempDir,
    pub bundle: PathBuf,
    pub result_dir: PathBuf,
    pub config: PathBuf,
    /// Last, so it is released after the bundle is gone.
    pub turn: Turn,
}

impl HookedBundle {
    /// The demo bundle (tini → script → gosu → httpd) with `args` as CMD, and `extra_config`
    /// appended to the hook's config file.
    pub fn demo(args: &[&str], extra_config: &str) -> Result<Self> {
        Self::demo_in_turn(args, extra_config, Turn::shared())
    }

    /// [`HookedBundle::demo`], alone: for tests that time container starts.
    pub fn demo_alone(args: &[&str], extra_config: &str) -> Result<Self> {
        Self::demo_in_turn(args, extra_config, Turn::exclusive())
    }

    fn demo_in_turn(args: &[&str], extra_config: &str, turn: Turn) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("et-hook-")
            .tempdir_in("/var/tmp")?;
        let bundle = dir.path().join("bundle");
        let result_dir = dir.path().join("results");
        let config = dir.path().join("config.toml");
        let mut cmd = Command::new("bash");
        cmd.arg(repo_root().join("scripts/make-demo-bundle.sh"))
            .arg(&bundle)
            .args(args);
        run_ok(&mut cmd)?;
        std::fs::write(
            &config,
            format!(
                "[hook]\nresult_dir = \"{}\"\n{extra_config}\n",
                result_dir.display()
            ),
        )?;
        let me = Self {
            dir,
            bundle,
            result_dir,
            config,
            turn,
        };
        me.register_hook()?;
        Ok(me)
    }

    /// Adds our hook to `config.json` (`hooks.createRuntime`), with the config in its env.
    pub fn register_hook(&self) -> Result<()> {
        let path = self.bundle.join("config.json");
        let mut spec: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;
        spec["hooks"]["createRuntime"] = serde_json::json!([{
            "path": entrytrace_bin(),
            "args": ["entrytrace", "hook"],
            "env": [format!("ENTRYTRACE_CONFIG={}", self.config.display())],
            "timeout": 5
        }]);
        std::fs::write(&path, serde_json::to_vec_pretty(&spec)?)?;
        Ok(())
    }

    /// Edits the bundle's rootfs or config before start.
    pub fn rootfs(&self) -> PathBuf {
        self.bundle.join("rootfs")
    }

    /// Waits until `<bundle>/entrytrace.json` has `mode` (e.g. "merged"), returns it.
    pub fn wait_result(&self, mode: &str, timeout: Duration) -> Result<serde_json::Value> {
        wait_for_result(&self.bundle.join("entrytrace.json"), mode, timeout)
    }
}

/// Waits until the result file `file` has `mode` (e.g. "merged"), returns it.
pub fn wait_for_result(file: &Path, mode: &str, timeout: Duration) -> Result<serde_json::Value> {
    let t0 = Instant::now();
    let mut last = None;
    while t0.elapsed() < timeout {
        if let Ok(bytes) = std::fs::read(file) {
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                if v["mode"] == mode {
                    return Ok(v);
                }
                last = Some(v);
            }
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    bail!(
        "{}: no {mode} result within {timeout:?}; last: {}",
        file.display(),
        last.map(|v| v.to_string()).unwrap_or_else(|| "none".into())
    )
}

/// A container started with `runtime run -d ID` from its bundle; deleted on drop.
#[derive(Debug)]
pub struct Container {
    pub runtime: String,
    pub id: String,
}

impl Container {
    pub fn start(runtime: &str, bundle: &Path, id: &str) -> Result<Self> {
        let _ = Command::new(runtime).args(["delete", "-f", id]).output();
        // A detached container inherits the runtime's stdio: give it no pipe of ours, or
        // reading the runtime's output would wait for the container to exit.
        let log = tempfile::NamedTempFile::new()?;
        let status = Command::new(runtime)
            .args(["run", "-d", id])
            .current_dir(bundle)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log.reopen()?)
            .status()
            .with_context(|| format!("{runtime} run"))?;
        if !status.success() {
            let err = std::fs::read_to_string(log.path()).unwrap_or_default();
            bail!("{runtime} run -d {id}: {err}");
        }
        Ok(Self {
            runtime: runtime.into(),
            id: id.into(),
        })
    }

    /// The host pid of the container's init.
    pub fn pid(&self) -> Result<u32> {
        let out = run_ok(Command::new(&self.runtime).args(["state", &self.id]))?;
        let v: serde_json::Value = serde_json::from_str(&out)?;
        v["pid"]
            .as_u64()
            .map(|p| p as u32)
            .context("state without pid")
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new(&self.runtime)
            .args(["delete", "-f", &self.id])
            .output();
    }
}

/// The journal entries of EntryTrace for a container, as JSON objects.
pub fn journal_entries(container_id: &str) -> Result<Vec<serde_json::Value>> {
    let out = run_ok(Command::new("journalctl").args([
        "--no-pager",
        "-o",
        "json",
        &format!("MESSAGE_ID={}", entrytrace::output::journal::MESSAGE_ID),
        &format!("ENTRYTRACE_CONTAINER_ID={container_id}"),
    ]))?;
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).context("journal line"))
        .collect()
}

/// Processes whose command line contains `needle` (to find tracers left running).
pub fn processes_matching(needle: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for e in rd.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(needle) {
                pids.push(pid);
            }
        }
    }
    pids
}
