//! The tracer's event source for one container: a BPF session scoped to the container's
//! cgroup (or to its init's descendants), attached before the hook returns, or — when BPF
//! cannot be loaded, or the config says `capture = "proc"` — `/proc` sampling of what is alive
//! at the end of the window, with a diagnostic naming what that misses.
//!
//! It only observes and builds the dynamic result; the window, the early end and the merge
//! are the tracer's (`tracer.rs`).

use std::path::Path;
use std::time::Duration;

use entrytrace_config::hook::CaptureSource;
use entrytrace_config::Config;

use super::state::ContainerState;
use super::tracer::Capture;
use crate::dynamic::capture::BpfSession;
use crate::dynamic::{SourceChoice, TraceTarget};
use crate::model::{Diagnostic, EntryTraceResult, Level, Mode, Target};
use crate::vfs::rootfs::RootfsVfs;

/// How long `/proc` is polled at the end of the window when BPF is not used.
const PROC_SAMPLE_WINDOW: Duration = Duration::from_millis(200);

/// Attaches to the container whose init is `state.pid`.
pub fn attach(state: &ContainerState, cfg: &Config) -> Result<Box<dyn Capture>, String> {
    if state.pid == 0 {
        return Err("the container state has no init pid".into());
    }
    let target = TraceTarget::Pid(state.pid);
    let mut notes = Vec::new();
    if cfg.hook.capture != CaptureSource::Proc {
        match BpfSession::start(&target, &cfg.dynamic) {
            Ok(session) => {
                return Ok(Box::new(ContainerCapture {
                    source: Source::Bpf(Box::new(session)),
                    target,
                    state: state.clone(),
                    cfg: cfg.clone(),
                    notes,
                }))
            }
            Err(e) if cfg.hook.capture == CaptureSource::Bpf => return Err(format!("bpf: {e}")),
            Err(e) => notes.push(Diagnostic::warning(format!(
                "bpf tracer unavailable ({e}); falling back to /proc sampling"
            ))),
        }
    } else {
        notes.push(Diagnostic::warning(
            "bpf not used (hook.capture = \"proc\"); /proc sampling at the end of the window",
        ));
    }
    Ok(Box::new(ContainerCapture {
        source: Source::Proc,
        target,
        state: state.clone(),
        cfg: cfg.clone(),
        notes,
    }))
}

enum Source {
    Bpf(Box<BpfSession>),
    Proc,
}

struct ContainerCapture {
    source: Source,
    target: TraceTarget,
    state: ContainerState,
    cfg: Config,
    notes: Vec<Diagnostic>,
}

impl Capture for ContainerCapture {
    fn poll(&mut self, timeout: Duration) -> Result<(), String> {
        if let Source::Bpf(s) = &mut self.source {
            s.poll().map_err(|e| e.to_string())?;
        }
        std::thread::sleep(timeout);
        Ok(())
    }

    fn saw_exec(&self) -> bool {
        match &self.source {
            Source::Bpf(s) => s.execs() > 0,
            // Without exec events the window starts at once.
            Source::Proc => true,
        }
    }

    fn finish(self: Box<Self>, container_alive: bool) -> EntryTraceResult {
        let me = *self;
        let mut result = EntryTraceResult::new(
            Mode::Dynamic,
            Target {
                source: Some(format!("pid:{}", me.state.pid)),
                container_id: Some(me.state.id.clone()),
                bundle: Some(me.state.bundle.display().to_string()),
            },
        );
        result.diagnostics.extend(me.notes);
        let cap = match me.source {
            Source::Bpf(s) => (*s).finish().map_err(|e| e.to_string()),
            Source::Proc if container_alive => crate::dynamic::capture(
                &me.target,
                PROC_SAMPLE_WINDOW,
                SourceChoice::Proc,
                &me.cfg.dynamic,
            )
            .map_err(|e| e.to_string()),
            Source::Proc => Err("the container exited before /proc could be sampled".into()),
        };
        match cap {
            Ok(cap) => {
                let rootfs = bundle_rootfs(&me.state);
                let classify = crate::dynamic::classify::by_reducer(
                    rootfs.as_ref().map(|r| r as &dyn crate::vfs::Vfs),
                    &me.cfg,
                );
                crate::dynamic::fill_result(&mut result, cap, &me.cfg, &classify);
            }
            Err(why) => result.diagnose(
                Level::Warning,
                format!("dynamic capture unavailable: {why}"),
            ),
        }
        result
    }
}

/// The container's root filesystem, for processes already gone at the end of the window.
fn bundle_rootfs(state: &ContainerState) -> Option<RootfsVfs> {
    let root = state.root.clone().or_else(|| {
        let spec: serde_json::Value =
            serde_json::from_slice(&std::fs::read(state.bundle.join("config.json")).ok()?).ok()?;
        let p = spec["root"]["path"].as_str()?.to_string();
        Some(super::state::absolutize(&state.bundle, Path::new(&p)))
    })?;
    RootfsVfs::open(&root).ok()
}
