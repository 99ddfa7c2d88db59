//! The detached tracer: watches one container's first seconds, merges what it saw with the
//! static result, replaces the result files and logs the journal entry.
//!
//! Started by the hook (`entrytrace __tracer …`, see `spawn.rs`), it attaches its probes to the
//! container's cgroup, says `ok` on the readiness pipe, takes the static result from stdin,
//! then waits for the container's first exec (at most `hook.start_timeout_ms`) and for the
//! window after it. It ends early when the container's init exits (watched through a pidfd,
//! so a recycled pid cannot fool it), so it never outlives the container and never holds up
//! a foreground `crun run`. It never reads a process outside the container: that confinement
//! lives in `dynamic`.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use entrytrace_config::Config;
use tracing::{info, warn};

use super::annotations::Settings;
use super::spawn::{self, Readiness, Spawned};
use super::state::ContainerState;
use crate::model::{EntryTraceResult, Level};

/// Largest static result accepted from the hook.
const MAX_JOB_BYTES: u64 = 16 << 20;
/// How often the capture is drained while waiting.
const TICK: Duration = Duration::from_millis(20);

/// What the tracer needs from a dynamic capture source.
pub trait Capture {
    /// Drains pending events, waiting at most `timeout`.
    fn poll(&mut self, timeout: Duration) -> Result<(), String>;
    /// Whether an exec inside the container has been seen.
    fn saw_exec(&self) -> bool;
    /// Ends the capture and builds the dynamic result.
    fn finish(self: Box<Self>, container_alive: bool) -> EntryTraceResult;
}

/// The hook's handle on a started tracer.
#[derive(Debug)]
pub struct TracerHandle {
    spawned: Spawned,
}

/// Starts the tracer for `state`.
pub fn start(
    self_exe: &Path,
    config_path: &Path,
    state: &ContainerState,
    settings: &Settings,
) -> std::io::Result<TracerHandle> {
    let mut args: Vec<OsString> = vec![
        "__tracer".into(),
        "--id".into(),
        state.id.clone().into(),
        "--pid".into(),
        state.pid.to_string().into(),
        "--bundle".into(),
        state.bundle.clone().into(),
        "--config".into(),
        config_path.into(),
    ];
    if let Some(root) = &state.root {
        args.extend(["--root".into(), root.clone().into_os_string()]);
    }
    if let Some(w) = settings.window {
        args.extend(["--window-ms".into(), w.as_millis().to_string().into()]);
    }
    Ok(TracerHandle {
        spawned: spawn::spawn_detached(self_exe, &args)?,
    })
}

impl TracerHandle {
    /// Hands the static result over and waits (at most `budget`) for the probes.
    pub fn hand_over(&mut self, result: &EntryTraceResult, budget: Duration) -> Result<(), String> {
        if let Some(mut stdin) = self.spawned.stdin.take() {
            let json = serde_json::to_vec(result).map_err(|e| e.to_string())?;
            // A writer thread, so a tracer that never reads cannot block the hook; if the hook
            // exits first the tracer sees a short read and falls back to the result file.
            std::thread::spawn(move || {
                let _ = stdin.write_all(&json);
            });
        }
        match self.spawned.wait_ready(budget) {
            Readiness::Ready => Ok(()),
            Readiness::Failed(why) => Err(format!("tracer: {why}")),
            Readiness::Closed => Err("tracer exited before attaching".into()),
            Readiness::TimedOut => Err(format!("tracer not attached within {budget:?}")),
        }
    }
}

/// Arguments of `entrytrace __tracer`.
#[derive(Debug, Clone)]
pub struct TracerArgs {
    pub id: String,
    pub pid: u32,
    pub bundle: PathBuf,
    pub root: Option<PathBuf>,
    pub config: PathBuf,
    pub window: Option<Duration>,
}

/// The tracer's whole life. `attach` opens the capture for the container.
pub fn run(
    args: TracerArgs,
    attach: impl FnOnce(&ContainerState, &Config) -> Result<Box<dyn Capture>, String>,
) {
    let cfg = Config::load(&args.config).unwrap_or_default();
    let state = ContainerState {
        id: args.id.clone(),
        pid: args.pid,
        bundle: args.bundle.clone(),
        annotations: Default::default(),
        root: args.root.clone(),
    };
    let capture = attach(&state, &cfg);
    spawn::report_ready(capture.as_ref().map(|_| ()).map_err(String::clone));
    let mut static_result = read_job(&state, &cfg);
    let dynamic = match capture {
        Ok(c) => Some(watch(c, &state, &cfg, args.window)),
        Err(why) => {
            static_result.diagnose(
                Level::Warning,
                format!("dynamic capture unavailable: {why}"),
            );
            None
        }
    };
    let merged = crate::merge::merge(static_result, dynamic);
    let (written, problems) = super::write_result(&merged, &state, &cfg);
    for p in problems {
        warn!(container = %state.id, problem = %p, "tracer");
    }
    if let Err(e) = crate::output::journal::send_result(
        &merged,
        &state.id,
        written.last().map(PathBuf::as_path),
        &cfg,
    ) {
        warn!(container = %state.id, error = %e, "no journal entry (is journald running?)");
    }
    info!(container = %state.id, mode = ?merged.mode, "tracer done");
    // Filling the BTF cache (once per kernel, ~50 ms of bpftool) must not keep a tracer
    // alive past its container: only while the container still runs.
    let container_runs = pidfd_open(state.pid).is_some_and(|fd| !exited(&fd));
    if container_runs && cfg.hook.capture != entrytrace_config::hook::CaptureSource::Proc {
        crate::dynamic::capture::log_btf_warmup(&cfg.dynamic);
    }
}

/// Reads the static result from stdin; falls back to the stable file, then to a new scan.
fn read_job(state: &ContainerState, cfg: &Config) -> EntryTraceResult {
    let mut buf = Vec::new();
    let _ = std::io::stdin().take(MAX_JOB_BYTES).read_to_end(&mut buf);
    if let Ok(r) = serde_json::from_slice::<EntryTraceResult>(&buf) {
        return r;
    }
    let stable = Path::new(&cfg.hook.result_dir).join(format!("{}.json", state.id));
    let from_file = std::fs::read(&stable)
        .ok()
        .and_then(|b| serde_json::from_slice::<EntryTraceResult>(&b).ok());
    from_file.unwrap_or_else(|| super::scan::static_result(state, cfg))
}

/// Waits for the first exec, then the window; ends early when the container's init exits.
fn watch(
    mut capture: Box<dyn Capture>,
    state: &ContainerState,
    cfg: &Config,
    window: Option<Duration>,
) -> EntryTraceResult {
    let init = pidfd_open(state.pid);
    let window = window.unwrap_or(Duration::from_millis(cfg.dynamic.window_ms));
    let start_deadline = Instant::now() + Duration::from_millis(cfg.hook.start_timeout_ms);
    let mut window_end: Option<Instant> = None;
    let mut problems = Vec::new();
    let alive = loop {
        if let Err(e) = capture.poll(TICK) {
            problems.push(e);
            break init.as_ref().map(|fd| !exited(fd)).unwrap_or(false);
        }
        let now = Instant::now();
        if init.as_ref().map(exited).unwrap_or(true) {
            let _ = capture.poll(Duration::ZERO);
            break false;
        }
        match window_end {
            None if capture.saw_exec() => window_end = Some(now + window),
            None if now >= start_deadline => {
                problems.push(format!(
                    "the container did not start within {} ms; capture ended",
                    cfg.hook.start_timeout_ms
                ));
                break true;
            }
            Some(end) if now >= end => break true,
            _ => {}
        }
    };
    let mut r = capture.finish(alive);
    for p in problems {
        r.diagnose(Level::Warning, p);
    }
    r
}

fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    if pid == 0 {
        return None;
    }
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    // SAFETY: a non-negative return is a fresh descriptor we now own.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// A pidfd becomes readable when its process exits.
fn exited(fd: &OwnedFd) -> bool {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    unsafe { libc::poll(&mut pfd, 1, 0) > 0 }
}
